"""Faults and bad input, tried as a hostile user would (issue 17), on real components: a real sqlite file made
corrupt, a real second driver on the same --name, a real non-Ray TCP listener, a real decompression-bomb PNG.
Each case checks the exit status, that the error is one line, and that store and storage are unchanged."""

from __future__ import annotations

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pytest
from mlflow.tracking import MlflowClient
from PIL import Image
from sweep_cli import RUN, start_sweep

from derain.data.sources import first_usable_image, load_folder
from derain.errors import DataError
from sweeps.results import SWEEP_TAG, tag_equals

TOY = ["--space", "toy1d", "--scale", "smoke"]


def _sweep(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([*RUN, *args], capture_output=True, text=True, timeout=timeout, cwd=cwd)


@pytest.fixture
def cli(capsys, monkeypatch, tmp_path):
    """``cli(args)`` runs ``python sweeps/run.py args`` in this process (what a bad input meets before Ray
    starts needs no new interpreter), in ``tmp_path``; returns (returncode, stdout, stderr) like subprocess."""
    from sweeps.run import main

    monkeypatch.chdir(tmp_path)

    def run(args: list[str], entry=main) -> subprocess.CompletedProcess:
        capsys.readouterr()
        try:
            code = entry(args)
        except SystemExit as exit_:
            code = exit_.code
        out, err = capsys.readouterr()
        return subprocess.CompletedProcess(args, code, out, err)

    return run


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The CLI's error: exit 2, the last stderr line, the only one that says error, no traceback."""
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert lines and lines[-1].startswith("error: ") and "Traceback" not in proc.stderr, proc.stderr[-1500:]
    assert sum(line.startswith("error") for line in lines) == 1
    return lines[-1]


def _stored_sqlite(path: Path) -> None:
    client = MlflowClient(f"sqlite:///{path}")
    client.create_experiment("kept")


@pytest.mark.parametrize("case", ["proc", "directory", "not-a-database", "truncated"])
def test_an_unusable_tracking_store_fails_in_seconds_before_ray(case, tmp_path, cli):
    db = {"proc": Path("/proc/derain-x.db"), "directory": tmp_path / "dir.db"}.get(case, tmp_path / "m.db")
    if case == "directory":
        db.mkdir()
    elif case == "not-a-database":
        db.write_text("these are not the tables you are looking for")
    elif case == "truncated":  # a real store cut short, as a kill between two writes can leave it
        _stored_sqlite(db)
        data = db.read_bytes()
        db.write_bytes(data[: len(data) // 3])
    before = db.read_bytes() if db.is_file() else None
    start = time.monotonic()
    proc = cli([*TOY, "--tracking-uri", f"sqlite:///{db}", "--storage", str(tmp_path / "ray")])
    took = time.monotonic() - start
    line = one_line_error(proc)
    assert "tracking URI" in line and took < 20  # the probe itself is bounded at 10 s
    assert "starting a local Ray instance" not in proc.stderr and not (tmp_path / "ray").exists()
    assert (db.read_bytes() if db.is_file() else None) == before


def test_credentials_in_a_tracking_uri_are_never_printed(cli):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    proc = cli([*TOY, "--tracking-uri", f"http://alice:hunter2@127.0.0.1:{port}"])
    line = one_line_error(proc)
    assert "alice:***@" in line and "hunter2" not in proc.stderr + proc.stdout


@pytest.mark.parametrize("name", ["it's", "../../ESCAPED", "a/b", ".hidden", "x" * 101])
def test_unsafe_sweep_names_are_refused(name, tmp_path, cli):
    proc = cli([*TOY, "--name", name, "--storage", str(tmp_path / "ray")])
    assert "is not a valid sweep name" in one_line_error(proc)
    assert not (tmp_path / "ray").exists() and not list(tmp_path.parent.glob("ESCAPED"))


def test_mlflow_filters_find_names_stored_with_quotes(tmp_path):
    client = MlflowClient(f"sqlite:///{tmp_path / 'm.db'}")
    exp = client.create_experiment("old")
    for name in ("it's", 'say "hi"', "plain"):
        client.create_run(exp, tags={SWEEP_TAG: name})
    for name in ("it's", 'say "hi"', "plain"):
        (found,) = client.search_runs([exp], tag_equals(SWEEP_TAG, name))
        assert found.data.tags[SWEEP_TAG] == name


@pytest.mark.slow
def test_a_reused_name_is_refused_and_changes_nothing(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    where = ["--storage", str(tmp_path / "ray"), "--tracking-uri", uri, "--name", "same"]
    assert _sweep([*TOY, *where], tmp_path, 300).returncode == 0
    settings = (tmp_path / "ray" / "same" / "derain_sweep.json").read_text()
    again = _sweep([*TOY, *where, "--set", "train.iterations=40"], tmp_path)
    assert "sweep 'same' exists; use --resume or another --name" in one_line_error(again)
    assert (tmp_path / "ray" / "same" / "derain_sweep.json").read_text() == settings
    client = MlflowClient(uri)
    assert len(client.search_runs([client.get_experiment_by_name("toy1d").experiment_id])) == 3  # 1 parent, 2


@pytest.mark.slow
def test_a_second_driver_on_a_running_sweep_is_refused(tmp_path):
    uri = f"sqlite:///{tmp_path / 'm.db'}"
    where = ["--storage", str(tmp_path / "ray"), "--tracking-uri", uri, "--name", "dr"]
    slow = ["--set", "train.iterations=3000", "--set", "train.eval_every=500"]
    first = start_sweep([*TOY, *where, *slow], tmp_path)
    try:
        lock = tmp_path / "ray" / "dr" / "driver.lock"
        deadline = time.monotonic() + 120
        while not (lock.exists() and lock.read_text()) and time.monotonic() < deadline:
            time.sleep(0.2)
        holder = json.loads(lock.read_text())
        second = _sweep([*TOY, *where, "--resume"], tmp_path)
        line = one_line_error(second)
        assert f"sweep dr is running (pid {holder['pid']}, host {holder['host']}, since {holder['since']})" in line
        out, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
    assert first.returncode == 0, out[-3000:]
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("toy1d").experiment_id], "tags.`derain.trial_id` != ''")
    assert len(runs) == 2 and all(r.info.status == "FINISHED" for r in runs)
    assert not lock.read_text()  # released at the end


class _Listener:
    """A TCP server on 127.0.0.1 that is not Ray: it accepts and answers every connection with an HTTP 400."""

    def __enter__(self) -> int:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        threading.Thread(target=self._serve, daemon=True).start()
        return self.sock.getsockname()[1]

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
            conn.close()

    def __exit__(self, *exc: object) -> None:
        self.sock.close()


def test_an_address_that_is_not_ray_fails_within_30_seconds(tmp_path, cli):
    with _Listener() as port:
        start = time.monotonic()
        proc = cli([*TOY, "--address", f"127.0.0.1:{port}", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
        took = time.monotonic() - start
    assert "something answers there, but not Ray's GCS" in one_line_error(proc) and took < 30


def test_ray_client_addresses_get_one_line(tmp_path, cli):
    proc = cli([*TOY, "--address", "ray://127.0.0.1:10001", "--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}"])
    assert "Ray Client (ray://) is not installed" in one_line_error(proc)


def _bomb(path: Path, side: int = 20_000) -> None:
    """A valid PNG header of side x side greyscale pixels with a few bytes of data: PIL refuses to decode it."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def _png(path: Path, side: int) -> None:
    Image.fromarray((np.random.default_rng(side).random((side, side, 3)) * 255).astype(np.uint8)).save(path)


def test_folders_are_opened_before_ray_and_bombs_are_skipped_and_counted(tmp_path, caplog, cli):
    folder = tmp_path / "data"
    folder.mkdir()
    _bomb(folder / "bomb.png")
    (folder / "broken.png").write_bytes(b"\x89PNG not really")
    _png(folder / "tiny.png", 16)
    with pytest.raises(DataError, match=r"no usable image .* \(2 unreadable or too large to decode, 1 smaller than 48"):
        first_usable_image(str(folder), 48)
    where = ["--tracking-uri", f"sqlite:///{tmp_path / 'm.db'}", "--storage", str(tmp_path / "ray")]
    proc = cli(["--space", "sharpness", "--scale", "smoke", "--set", f"data.source=folder:{folder}", *where])
    assert f"no usable image in folder '{folder}'" in one_line_error(proc)
    assert "starting a local Ray instance" not in proc.stderr
    _png(folder / "good.png", 64)
    caplog.set_level("WARNING")
    assert len(load_folder(str(folder), 48)) == 1
    assert "skipped 2 unreadable or too-large file(s), 1 image(s) smaller than 48 px" in caplog.text


def test_float_images_are_mapped_not_blacked_out(tmp_path):
    folder = tmp_path / "float"
    folder.mkdir()
    ramp = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    Image.fromarray(ramp, mode="F").save(folder / "ramp.tif")
    (image,) = load_folder(str(folder), 32)
    assert image.dtype == np.uint8 and image[0, 0, 0] == 0 and image[0, -1, 0] == 255  # 0..1 -> 0..255


def test_a_stale_current_cluster_file_does_not_break_local_ray(tmp_path):
    current = Path("/tmp/ray/ray_current_cluster")
    saved = current.read_text() if current.exists() else None
    current.parent.mkdir(parents=True, exist_ok=True)
    current.write_text("127.0.0.1:1")  # what a killed `ray start --head` leaves behind
    try:
        code = (
            "import ray; ray.init(address='local', num_cpus=1, include_dashboard=False);"
            "print(ray.cluster_resources()['CPU']); ray.shutdown()"
        )
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        bench = (Path(__file__).resolve().parents[1] / "benchmarks" / "bench_sweep.py").read_text()
    finally:
        if saved is None:
            current.unlink(missing_ok=True)
        else:
            current.write_text(saved)
    assert done.returncode == 0 and done.stdout.strip().endswith("1.0"), done.stderr[-2000:]
    assert 'ray.init(address="local"' in bench  # the benchmark names its address like every fixture


def test_the_analysis_cli_never_creates_a_store_and_names_what_is_wrong(tmp_path, cli):
    from analysis.report import main as report

    args = ["--experiment", "toy1d", "--tracking-uri"]
    missing = cli([*args, f"sqlite:///{tmp_path / 'typo.db'}"], report)
    assert "no database at" in one_line_error(missing) and not (tmp_path / "typo.db").exists()
    corrupt = tmp_path / "m.db"
    _stored_sqlite(corrupt)
    corrupt.write_bytes(corrupt.read_bytes()[:5000])
    damaged = cli([*args, f"sqlite:///{corrupt}"], report)
    assert "is a damaged SQLite database" in one_line_error(damaged)


@pytest.mark.slow
def test_resume_from_another_directory_reuses_the_sweeps_own_store(tmp_path):
    first_dir, elsewhere = tmp_path / "a", tmp_path / "b"
    first_dir.mkdir(), elsewhere.mkdir()
    where = ["--storage", str(tmp_path / "ray"), "--name", "moved"]
    assert _sweep([*TOY, *where], first_dir, 300).returncode == 0  # the default store: a/mlflow.db
    resumed = _sweep(["--resume", *where], elsewhere, 300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert not (elsewhere / "mlflow.db").exists()  # no stray store where the resume ran
    assert f"mlflow ui --backend-store-uri sqlite:///{first_dir / 'mlflow.db'}" in resumed.stdout
    other = _sweep(["--resume", *where, "--tracking-uri", f"sqlite:///{elsewhere / 'x.db'}"], elsewhere)
    assert "--resume reuses the sweep's own --tracking-uri" in one_line_error(other)


def test_failed_mlflow_writes_are_counted_and_reported_once(tmp_path, caplog):
    from sweeps.tracking import MlflowSweepCallback

    callback = MlflowSweepCallback(f"sqlite:///{tmp_path / 'm.db'}", "toy1d", "s", {}, lambda c: {})
    caplog.set_level("WARNING", logger="sweeps")

    def broken() -> None:
        raise RuntimeError("database is locked\nwith a second line nobody needs")

    for _ in range(3):
        callback._submit(broken)
    callback.flush()
    assert callback.failed_writes == 3 and callback.first_failure == "database is locked"
    assert caplog.text.count("MLflow write failed") == 1 and "Traceback" not in caplog.text


def test_a_folder_too_small_for_the_split_names_the_split(tmp_path):
    from derain.data.banks import candidate_banks

    folder = tmp_path / "one"
    folder.mkdir()
    _png(folder / "a.png", 256)
    with pytest.raises(DataError, match=r"hold out the bottom 20% of each image's rows.*about 640 px of height"):
        candidate_banks(f"folder:{folder}", 128, 3, 0, 16, 0.5, 0.2, 4)
