"""derain/ never imports ray, optuna or mlflow (DESIGN §2): checked on the source and at import time."""

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import derain

FORBIDDEN = ("ray", "optuna", "mlflow")


def test_no_forbidden_import_statements():
    root = Path(derain.__file__).parent
    offenders = []
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.name}: {n}" for n in names if n.split(".")[0] in FORBIDDEN]
    assert not offenders


def test_importing_every_module_loads_none_of_them():
    modules = [m.name for m in pkgutil.walk_packages(derain.__path__, "derain.")]
    code = f"import importlib, sys; [importlib.import_module(m) for m in {modules!r}]; " \
           f"print([m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}])"  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
    assert len(modules) >= 10
