"""The architecture holds (docs/architecture.md): imports go analysis -> sweeps -> derain, derain/ has no
import cycle (imports inside functions counted), derain/ never loads ray, optuna or mlflow, and analysis/
reads sweeps only through its public modules."""

import ast
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import derain

ROOT = Path(derain.__file__).resolve().parents[1]
FORBIDDEN = ("ray", "optuna", "mlflow")
# result layout, the spaces, trial configs, the tracking-store check, an ensemble trial's members
SWEEPS_PUBLIC = ("sweeps.results", "sweeps.spaces", "sweeps.plan", "sweeps.preflight", "sweeps.members")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> list[str]:
    """Absolute names of every module ``path`` imports, anywhere in the file (functions included)."""
    package = _module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    names = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            module = ".".join([*base, node.module] if node.module else base)
            names += [module] + [f"{module}.{a.name}" for a in node.names]
    return names


def _graph(top: str) -> dict[str, set[str]]:
    """Module -> project modules it imports, for every module under ``top``."""
    files = {_module_name(p): p for p in (ROOT / top).rglob("*.py")}
    graph = {}
    for name, path in files.items():
        hits = set()
        for target in _imports(path):
            while target and target not in files:
                target = target.rpartition(".")[0]
            if target and target != name:
                hits.add(target)
        graph[name] = hits
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle of ``graph`` as a list of modules, or [] when there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = 2
        stack.pop()
        return []

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return []


def test_derain_has_no_import_cycle():
    graph = _graph("derain")
    assert len(graph) >= 40 and sum(map(len, graph.values())) > 50  # the graph was really read
    assert _cycle(graph) == []


def test_the_cycle_finder_finds_cycles():
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


def test_derain_imports_no_orchestration_library():
    offenders = [
        f"{path.relative_to(ROOT)}: {name}"
        for path in (ROOT / "derain").rglob("*.py")
        for name in _imports(path)
        if name.split(".")[0] in FORBIDDEN
    ]
    assert offenders == []


def test_importing_every_derain_module_loads_none_of_them():
    modules = [m.name for m in pkgutil.walk_packages(derain.__path__, "derain.")]
    code = (
        f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; "
        f"print([m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
    assert len(modules) >= 40


def test_layers_point_one_way():
    derain_up = {
        n for p in (ROOT / "derain").rglob("*.py") for n in _imports(p) if n.startswith(("sweeps", "analysis"))
    }
    sweeps_up = {n for p in (ROOT / "sweeps").rglob("*.py") for n in _imports(p) if n.startswith("analysis")}
    assert derain_up == set() and sweeps_up == set()


def test_analysis_reads_sweeps_only_through_its_public_modules():
    used = {n for p in (ROOT / "analysis").rglob("*.py") for n in _imports(p) if n.split(".")[0] == "sweeps"}
    private = {n for n in used if not n.startswith(SWEEPS_PUBLIC)}
    assert used and private == set()


PACKAGES = ("derain", "sweeps", "analysis", "benchmarks")


def _defined_names(tree: ast.Module) -> list[str]:
    """A module's constants (UPPER_CASE names assigned at module level) and private functions and classes."""
    names = []
    for node in tree.body:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names += [n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name) and n.id.isupper()]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name.startswith("_") and node.name[1] != "_":
            names.append(node.name)
    return names


def _unused(sources: dict[str, str]) -> list[str]:
    """``file: name`` for every defined name (``_defined_names``) that no source text mentions a second time."""
    words = re.findall(r"\w+", "\n".join(sources.values()))
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    return [f"{f}: {n}" for f, text in sources.items() for n in _defined_names(ast.parse(text)) if counts[n] < 2]


def test_no_constant_or_private_helper_is_left_unused():
    """The project's own code (tests do not count: a name only tests use is dead in the product)."""
    sources = {str(p.relative_to(ROOT)): p.read_text() for top in PACKAGES for p in (ROOT / top).rglob("*.py")}
    assert len(sources) > 80 and _unused(sources) == []


def test_the_unused_name_check_finds_unused_names():
    sources = {"a.py": "LIMIT = 3\nUSED = 1\ndef _helper():\n    return USED\n", "b.py": "print(_helper)\n"}
    assert _unused(sources) == ["a.py: LIMIT"]


def test_no_two_modules_share_a_file_name():
    names = [p.name for top in PACKAGES for p in (ROOT / top).rglob("*.py") if p.name not in ("__init__.py",)]
    twice = sorted({n for n in names if names.count(n) > 1} - {"__main__.py"})
    assert twice == []


def test_only_the_task_registry_tells_the_tasks_apart():
    """derain vs toy1d is decided in derain/tasks.py: no other module compares a task name or probes a config's
    sections to find out which task it has."""
    probe = re.compile(r"""==\s*["'](derain|toy1d)["']|["'](derain|toy1d)["']\s*==|hasattr\(\w+, ["']content["']\)""")
    found = [
        f"{p.relative_to(ROOT)}: {line.strip()}"
        for top in PACKAGES
        for p in (ROOT / top).rglob("*.py")
        if p.name != "tasks.py"
        for line in p.read_text().splitlines()
        if probe.search(line) or ("isinstance(" in line and "Toy1dConfig" in line)
    ]
    assert found == []
