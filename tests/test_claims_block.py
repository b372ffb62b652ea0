"""The Ray-free block runner of the claims protocol (benchmarks/claims_block.py): what a lent GPU runs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RUN = [sys.executable, str(ROOT / "benchmarks" / "claims_block.py")]


def test_a_block_trains_its_points_once_and_reads_back_as_a_sweep(tmp_path):
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from claims_block import frames

    from sweeps.spaces import REGISTRY

    first = [
        *RUN,
        "run",
        "--scale",
        "smoke",
        "--first",
        "3",
        "--parallel",
        "2",
        "--device",
        "cpu",
        "--out",
        str(tmp_path),
    ]
    done = subprocess.run(first, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "block: 3 trials" in done.stdout and "0 failed" in done.stdout
    trials, curves = frames(tmp_path)
    points = REGISTRY["claims"].points["smoke"][:3]
    assert trials["data.num_backgrounds"].tolist() == [p["data.num_backgrounds"] for p in points]
    assert (trials["status"] == "finished").all() and trials["plateau"].all()
    assert set(curves["step"]) == {10, 20} and "eval/yardstick/gain_db" in set(curves["metric"])
    again = subprocess.run(first, capture_output=True, text=True, timeout=300)  # a rerun skips finished trials
    assert "3 already finished" in again.stdout
    read = subprocess.run([*RUN, "read", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert read.returncode == 0 and "T1" in read.stdout and "3 trials, 0 not at a plateau" in read.stdout
