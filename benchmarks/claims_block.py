"""Run the first trials of a claims protocol without Ray or MLflow, K at once on one device, then test the claims
on what finished (run by hand: the way to use a lent GPU that has torch but no Ray or MLflow).

    python benchmarks/claims_block.py run --scale gpu --first 12 --parallel 12 --device cuda --out runs/block
    python benchmarks/claims_block.py read runs/block      # the claims table of the folders (full install)

The points are the claims space's own (``sweeps/spaces/claims.py``) in its order: the gpu protocol's first 12
are the T1 / T8 ladder (4 N x 3 seeds), its first block. Each trial is one ``python -m derain.train`` (or
``derain.toy1d``) process with its own run folder ``<out>/<index>``; a folder whose run already reached its last
step is skipped, so a rerun finishes an interrupted block. ``run`` prints the block's wall time and each
trial's; ``read`` builds the trials and curves frames from the folders' config.json and history.jsonl (with
the plateau flag, ``analysis.load.at_plateau``) and prints ``analysis.verdicts``' table, as a report would.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from derain.config.schema import flatten  # noqa: E402  (after the path: run as a script from anywhere)
from derain.engine.loop import CONFIG, HISTORY, METRICS  # noqa: E402
from derain.tasks import TASKS  # noqa: E402
from sweeps.spaces import REGISTRY  # noqa: E402  (the spaces are data: no Ray, Optuna or MLflow)


def _command(point: dict, scale: str, device: str, folder: Path) -> list[str]:
    module = TASKS[point.get("task", REGISTRY["claims"].task)].cli
    sets = [f"--set={k}={v}" for k, v in point.items() if k != "task"]
    return [sys.executable, "-m", module, "--scale", scale, "--device", device, "--threads", "1", "--out",
            str(folder), "-q", *sets]  # fmt: skip


def _finished(folder: Path) -> bool:
    if not (folder / METRICS).exists() or not (folder / CONFIG).exists():
        return False
    iterations = json.loads((folder / CONFIG).read_text())["train"]["iterations"]
    return json.loads((folder / METRICS).read_text()).get("train/step") == iterations


def run(scale: str, first: int, parallel: int, device: str, out: Path) -> int:
    """Train the protocol's first ``first`` points, ``parallel`` processes at a time; 0 when all finished."""
    points = REGISTRY["claims"].points[scale][:first]
    todo = [(i, p) for i, p in enumerate(points) if not _finished(out / f"{i:03d}")]
    print(f"{len(points)} trials, {len(points) - len(todo)} already finished, {parallel} at a time on {device}")
    start, running, failed = time.perf_counter(), {}, 0
    while todo or running:
        while todo and len(running) < parallel:
            i, point = todo.pop(0)
            folder = out / f"{i:03d}"
            folder.mkdir(parents=True, exist_ok=True)
            log = (folder / "log.txt").open("w")
            running[i] = (subprocess.Popen(_command(point, scale, device, folder), stdout=log, stderr=log, cwd=ROOT),
                          time.perf_counter())  # fmt: skip
        for i, (proc, began) in list(running.items()):
            if proc.poll() is not None:
                del running[i]
                failed += proc.returncode != 0
                print(f"trial {i:03d}: exit {proc.returncode} after {time.perf_counter() - began:.0f} s", flush=True)
        time.sleep(1)
    print(f"block: {len(points)} trials in {time.perf_counter() - start:.0f} s wall, {failed} failed")
    return int(failed > 0)


def frames(out: Path):
    """(trials, curves) of the run folders under ``out``, as ``analysis.load`` shapes a sweep's."""
    import pandas as pd

    from analysis.load import add_plateaus

    rows, curves = [], []
    for folder in sorted(p for p in out.iterdir() if (p / HISTORY).exists()):
        config = flatten(json.loads((folder / CONFIG).read_text()))
        task = "toy1d" if "content.count" in config else "derain"
        history = [json.loads(line) for line in (folder / HISTORY).read_text().splitlines() if line]
        curves += [(folder.name, k, h["step"], v) for h in history for k, v in h.items() if k != "step"]
        status = "finished" if _finished(folder) else "running"
        rows.append({"trial_id": folder.name, "status": status, "task": task, **config, **history[-1]})
    curve_frame = pd.DataFrame(curves, columns=["trial_id", "metric", "step", "value"])
    return add_plateaus(pd.DataFrame(rows), curve_frame), curve_frame


def read(out: Path) -> int:
    """Print the claims table of the folders under ``out``; 0."""
    import pandas as pd

    from analysis.verdicts import check_claims

    trials, _ = frames(out)
    table = check_claims(trials)
    with pd.option_context("display.width", 250, "display.max_colwidth", 120):
        print(
            table[table["verdict"] != "not run"][["claim", "verdict", "p", "p_holm", "statistic"]].to_string(
                index=False
            )
        )
    print(f"{len(trials)} trials, {int((~trials['plateau']).sum())} not at a plateau")
    return 0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train a block of the protocol")
    r.add_argument("--scale", default="gpu", choices=list(REGISTRY["claims"].points))
    r.add_argument("--first", type=int, default=12, help="the protocol's first K points (default: T1 / T8)")
    r.add_argument("--parallel", type=int, default=12, help="trials at once on the device")
    r.add_argument("--device", default="cuda")
    r.add_argument("--out", type=Path, required=True)
    sub.add_parser("read", help="the claims table of a block's folders").add_argument("out", type=Path)
    args = p.parse_args()
    if args.command == "run":
        return run(args.scale, args.first, args.parallel, args.device, args.out)
    return read(args.out)


if __name__ == "__main__":
    sys.exit(main())
