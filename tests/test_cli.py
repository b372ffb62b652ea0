"""``python -m derain preview``: writes a PNG; bad input exits 2 with one line and no traceback."""

import subprocess
import sys

import pytest
from PIL import Image

from derain.__main__ import main


def test_preview_writes_a_grid(tmp_path):
    out = tmp_path / "sub" / "preview.png"
    assert (
        main(
            [
                "preview",
                "--rain",
                "small,large,albu,gauss_mid",
                "--source",
                "smooth",
                "--patch-size",
                "64",
                "--examples",
                "2",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    with Image.open(out) as im:
        assert im.size[0] > 600 and im.size[1] > 4 * 150  # 4 rows of 6 panels


def test_preview_bins(tmp_path):
    out = tmp_path / "bins.png"
    assert main(["preview", "--bins", "--source", "textures", "--patch-size", "32", "--out", str(out)]) == 0
    assert out.stat().st_size > 10_000


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rain", "drizzle"], "unknown degradation 'drizzle'"),
        (["--source", "folder:/definitely/not/here"], "'/definitely/not/here' does not exist"),
        (["--source", "marble"], "data.source='marble' is unknown"),
        (["--patch-size", "4"], "data.patch_size=4"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_input_is_one_line(args, message, tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "derain", "preview", *args, "--out", str(tmp_path / "x.png")],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and "Traceback" not in proc.stderr
    assert not (tmp_path / "x.png").exists()
