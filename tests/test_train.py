"""``fit``: smoke-scale training lowers the loss, reports every metric key, resumes exactly, and stops on a
non-finite loss; the single-run CLI writes its four outputs."""

import contextlib
import json
import math

import pytest
import torch
from devices import DEVICES

from derain.config.presets import SCALES, make_config
from derain.data import prepare_data
from derain.degradations import evaluation_degradations
from derain.engine.loop import LOSSES, NonFiniteLossError
from derain.keys import PER_SET
from derain.train import build_task, fit, main


def _cfg(**extra):
    return make_config("smoke", {"data.eval_images": 2, **extra})


@pytest.mark.gpu
@pytest.mark.parametrize("amp", [True, False])
def test_fit_on_cuda_with_and_without_mixed_precision(amp):
    cfg = _cfg(**{"train.iterations": 40, "train.eval_every": 20, "train.amp": amp})
    seen = []
    metrics = fit(cfg, device="cuda", on_eval=lambda step, m: seen.append(m["train/loss"]))
    assert seen[1] < seen[0] and all(math.isfinite(v) for v in metrics.values() if isinstance(v, float))


@pytest.mark.parametrize("device", DEVICES)
def test_fit_lowers_loss_and_reports_every_key(device):
    cfg = _cfg(**{"train.iterations": 40, "train.eval_every": 20})
    seen = []
    metrics = fit(cfg, device=device, on_eval=lambda step, m: seen.append((step, m)))
    assert [s for s, _ in seen] == [20, 40]
    assert seen[1][1]["train/loss"] < seen[0][1]["train/loss"]
    for name in evaluation_degradations(cfg):
        for bgset in ("seen", "heldout"):
            for metric in PER_SET:  # a masked degradation's per-set metrics
                assert f"eval/{name}/{bgset}/{metric}" in metrics
    for key in (
        "eval/seen/removal",
        "eval/unseen/removal",
        "eval/gap",
        "eval/heldout/psnr",
        "eval/unseen/e_r",
        "eval/yardstick/e_r",
        "eval/yardstick/e_b",
        "eval/yardstick/gain_db",
        "eval/yardstick/psnr_b",
        "eval/yardstick/psnr_y",
        "eval/yardstick/ssim_y",
        "train/loss",
        "train/step",
        "train/lr",
    ):
        assert key in metrics and math.isfinite(metrics[key]), key
    assert metrics["train/step"] == 40


def test_resume_equals_uninterrupted(tmp_path):
    cfg = _cfg(**{"train.iterations": 20, "train.eval_every": 10})
    full = fit(cfg, run_dir=tmp_path / "a")

    def crash(step, _):
        if step == 10:
            raise KeyboardInterrupt  # the process dies right after the step-10 checkpoint

    with pytest.raises(KeyboardInterrupt):
        fit(cfg, on_eval=crash, run_dir=tmp_path / "b")
    assert torch.load(tmp_path / "b" / "checkpoint.pt", weights_only=True)["step"] == 10
    resumed = fit(cfg, run_dir=tmp_path / "b", resume=True)
    assert resumed == full
    # the run folder's history holds each evaluation once, resumed or not
    history = [[json.loads(line) for line in (tmp_path / d / "history.jsonl").read_text().splitlines()] for d in "ab"]
    assert [h["step"] for h in history[1]] == [10, 20] and history[0] == history[1]
    assert history[1][-1] == {"step": 20, **resumed}
    fit(cfg, run_dir=tmp_path / "b")  # a new run into the same folder starts a new history
    assert len((tmp_path / "b" / "history.jsonl").read_text().splitlines()) == 2


def test_checkpoint_holds_training_state(tmp_path):
    fit(_cfg(), run_dir=tmp_path / "c")
    payload = torch.load(tmp_path / "c" / "checkpoint.pt", weights_only=True)
    assert {"model", "optimizer", "scheduler", "step", "generator", "scaler", "config_json"} <= set(payload)
    assert json.loads(payload["config_json"])["train"]["iterations"] == 20


def test_non_finite_loss_names_the_step(monkeypatch):
    calls = {"n": 0}

    def poisoned(out, target):
        calls["n"] += 1
        loss = (out - target).abs().mean()
        return loss * float("nan") if calls["n"] == 7 else loss

    monkeypatch.setitem(LOSSES, "l1", poisoned)
    with pytest.raises(NonFiniteLossError, match="at step 7") as err:
        fit(_cfg())
    assert err.value.step == 7


def test_explicit_overrides_win_over_the_preset():
    cfg = make_config("cpu", {"train.iterations": 7, "data.patch_size": 40})
    assert cfg.train.iterations == 7 and cfg.data.patch_size == 40
    assert cfg.model.width == SCALES["cpu"]["model.width"]
    paper = make_config("paper")
    got = (
        paper.data.patch_size,
        paper.model.depth,
        paper.model.width,
        paper.train.iterations,
        paper.train.batch_size,
        paper.train.lr,
        paper.train.loss,
    )
    assert got == (128, 16, 64, 120000, 16, 2e-4, "l1")


@pytest.mark.parametrize("scale", SCALES)
def test_every_scale_builds_a_valid_config(scale):
    assert make_config(scale).train.iterations >= 1


@pytest.mark.parametrize("name", ["resnet", "unet", "swinir_light"])
def test_fit_every_architecture(name):
    metrics = fit(_cfg(**{"model.name": name, "train.iterations": 4, "train.eval_every": 4}))
    assert metrics["train/step"] == 4 and math.isfinite(metrics["eval/heldout/psnr"])


def test_denoising_is_trainable_through_the_same_fit():
    metrics = fit(_cfg(degradation="noise"))
    assert "eval/gauss_low/heldout/removal" in metrics and "eval/poisson/heldout/psnr" in metrics
    assert "eval/gauss_low/heldout/e_b" not in metrics  # whole-image metrics for noise


def test_cli_writes_its_outputs(tmp_path, capsys):
    out = tmp_path / "run"
    code = main(
        [
            "--scale",
            "smoke",
            "--set",
            "data.num_backgrounds=4",
            "--set",
            "rain.train=small",
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert code == 0
    assert {p.name for p in out.iterdir()} == {
        "metrics.json",
        "config.json",
        "triptych.png",
        "checkpoint.pt",
        "history.jsonl",
        "samples",
    }
    assert sorted(p.name for p in (out / "samples").iterdir()) == ["step_0000010.png", "step_0000020.png"]
    metrics = json.loads((out / "metrics.json").read_text())
    assert json.loads((out / "config.json").read_text())["data"]["num_backgrounds"] == 4
    printed = capsys.readouterr().out
    assert "small *" in printed and "eval/gap" in printed and f"{metrics['eval/heldout/psnr']:.2f}" in printed
    assert f"{'eval/yardstick/gain_db':<24}{metrics['eval/yardstick/gain_db']:>10.2f}" in printed  # the exam
    assert "steep" in printed and "gain_db" in printed and "ssim_y" in printed


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--set", "data.bogus=1"], "data.bogus"),
        (["--set", "rain.train=drizzle"], "drizzle"),
        (["--scale", "huge"], "--scale"),
        (["--set", "seed=99999999999999999999999"], "seed"),
        (["--set", "rain.custom_density=nan,0.1"], "rain.custom_density"),
    ],
)
def test_cli_bad_input(tmp_path, args, named, capsys):
    argparse_error = "--scale" in args  # rejected by argparse itself: SystemExit(2)
    with pytest.raises(SystemExit, match="2") if argparse_error else contextlib.nullcontext():
        assert main([*args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error" in err[0] and named in err[0], err
    assert not (tmp_path / "x").exists()


def test_reference_rows_bracket_every_model_on_the_yardstick():
    from derain.evaluation.evaluate import reference_metrics

    task = build_task(make_config("smoke", {}), torch.device("cpu"))
    refs = reference_metrics(prepare_data(make_config("smoke", {}), torch.device("cpu")).eval_sets, torch.device("cpu"))
    assert refs["ref/identity/eval/yardstick/gain_db"] == 0.0 and refs["ref/identity/eval/yardstick/removal"] == 0.0
    assert refs["ref/oracle/eval/yardstick/e_b"] == 0.0 and refs["ref/oracle/eval/yardstick/gain_db"] == math.inf
    assert all(v == v for v in refs.values())  # no NaN: a reference that is 0/0 is left out
    assert refs.items() <= task.evaluate(task.model).items()  # logged with every evaluation


def test_a_trial_trained_inside_a_sharpness_bin_reports_the_gain_it_loses_on_images_of_its_bin():
    metrics = fit(_cfg(**{"data.sharpness_bin": "low", "data.pool_size": 96}))
    lost = metrics["eval/own_bin/gain_lost_db"]
    own = metrics["eval/trained/heldout_bin/gain_db"] - metrics["eval/steep/heldout_bin/gain_db"]
    assert math.isfinite(lost) and lost == pytest.approx(own)
    assert "eval/own_bin/gain_lost_db" not in fit(_cfg())  # no bin, no own-bin exam
