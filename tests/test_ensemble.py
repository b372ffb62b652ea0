"""Ensembles (derain.engine.ensemble): K members in one vmapped model give each the numbers of its single run."""

from __future__ import annotations

import math

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from derain.config.presets import make_config
from derain.engine.ensemble import Stack, ensemble_key, fit_ensemble, train_ensemble
from derain.engine.loop import NonFiniteLossError, new_state, precision
from derain.errors import ConfigError
from derain.tasks import TASKS
from derain.toy1d import fit1d
from derain.toy1d.scales import make_toy_config
from derain.train import build_task, fit

TOLERANCE = {"rel": 2e-3, "abs": 2e-4}  # stacked convolutions round differently; 20 Adam steps compound it
# bf16 steps (a CPU with AMX, a GPU) keep 8 bits of mantissa: grouped and single convolutions round apart sooner
BF16_TOLERANCE = {"rel": 2e-2, "abs": 2e-3}


def _cfgs(**extra):
    """Three members that differ in everything a ladder varies: N, seed, rain; fp32 steps unless ``extra`` says
    ``train.amp``."""
    base = {"train.iterations": 20, "train.eval_every": 10, "data.eval_images": 2, "train.amp": False, **extra}
    members = [{"data.num_backgrounds": 4, "seed": 0}, {"data.num_backgrounds": 16, "seed": 1},
               {"data.num_backgrounds": 64, "seed": 2, "rain.train": "small+medium"}]  # fmt: skip
    return [make_config("smoke", {**base, **m}) for m in members]


def _close(together: dict, alone: dict, tolerance: dict = TOLERANCE) -> None:
    assert together.keys() == alone.keys()
    for key, value in alone.items():
        if isinstance(value, float) and math.isfinite(value):
            assert together[key] == pytest.approx(value, **tolerance), key


@pytest.mark.parametrize(("clip", "amp"), [(0.0, False), (0.05, False), (0.0, True)])
def test_three_members_equal_three_single_runs_metric_for_metric(clip, amp):
    cfgs = _cfgs(**{"train.grad_clip": clip, "train.amp": amp})
    bf16 = precision(torch.device("cpu"), amp) == "bfloat16"
    if amp and not bf16:
        pytest.skip("amp: this CPU has no AMX, so its steps stay in fp32 (the case above)")
    seen: list[tuple[int, int]] = []
    results = fit_ensemble(cfgs, on_eval=lambda k, step, m: seen.append((k, step)), stacked=True)
    for together, cfg in zip(results, cfgs, strict=True):
        _close(together, fit(cfg), BF16_TOLERANCE if bf16 else TOLERANCE)
    assert seen == [(0, 10), (1, 10), (2, 10), (0, 20), (1, 20), (2, 20)]


def test_a_1d_ensemble_equals_its_single_runs():
    cfgs = [make_toy_config("smoke", {"content.count": m, "seed": s, "train.amp": False}) for m, s in ((1, 0), (16, 1))]
    for together, cfg in zip(fit_ensemble(cfgs, stacked=True), cfgs, strict=True):
        _close(together, fit1d(cfg))


def test_a_member_that_diverges_fails_alone():
    """Member 1's batches turn to NaN at step 7: it fails there, as its single run would; the others finish
    with their single runs' numbers."""
    cfgs, device = _cfgs(), torch.device("cpu")
    tasks = [build_task(c, device) for c in cfgs]
    clean_sample, calls = tasks[1].sample, {"n": 0}

    def poisoned(batch: int, g: torch.Generator):
        calls["n"] += 1
        inputs, targets = clean_sample(batch, g)
        return (inputs * float("nan"), targets) if calls["n"] == 7 else (inputs, targets)

    tasks[1].sample = poisoned
    results = train_ensemble(tasks, train=cfgs[0].train, seeds=[c.seed for c in cfgs], device=device,
                             run_dirs=[None] * 3, configs=[{}] * 3, stacked=True)  # fmt: skip
    assert isinstance(results[1], NonFiniteLossError) and results[1].step == 7
    _close(results[0], fit(cfgs[0]))
    _close(results[2], fit(cfgs[2]))


def test_an_ensemble_resumes_from_its_members_checkpoints(tmp_path):
    cfgs = _cfgs()
    dirs = [tmp_path / f"m{k}" for k in range(3)]
    whole = fit_ensemble(cfgs, run_dirs=[tmp_path / f"w{k}" for k in range(3)], stacked=True)

    def crash(k: int, step: int, _):
        if step == 10 and k == 2:
            raise KeyboardInterrupt  # killed right after every member's step-10 checkpoint

    with pytest.raises(KeyboardInterrupt):
        fit_ensemble(cfgs, run_dirs=dirs, on_eval=crash, stacked=True)
    resumed = fit_ensemble(cfgs, run_dirs=dirs, resume=True, stacked=True)
    for a, b in zip(resumed, whole, strict=True):
        _close(a, b)
    assert (dirs[0] / "history.jsonl").read_text().count("\n") == 2
    # a member's folder is a single run's: it resumes as one at its last step
    assert fit(cfgs[0], run_dir=dirs[0], resume=True)["train/step"] == 20


def test_members_must_share_the_model_and_the_schedule():
    cfgs = _cfgs()
    assert len({ensemble_key(c) for c in cfgs}) == 1  # N, seed and rain are each member's own
    other = make_config("smoke", {"train.iterations": 30})
    with pytest.raises(ConfigError, match="must share the model, the train section"):
        fit_ensemble([cfgs[0], other])


def test_an_architecture_vmap_cannot_trace_runs_its_members_in_turn():
    cfgs = [make_config("smoke", {"model.name": "swinir_light_tiny", "train.iterations": 4, "train.eval_every": 4,
                                  "seed": s}) for s in (0, 1)]  # fmt: skip
    for together, cfg in zip(fit_ensemble(cfgs), cfgs, strict=True):
        _close(together, fit(cfg))


class _ConvolutionDtypes(TorchDispatchMode):
    """Records the dtype of every ``aten::convolution`` input under it."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[torch.dtype] = set()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        if func is torch.ops.aten.convolution.default:
            self.seen.add(args[0].dtype)
        return func(*args, **(kwargs or {}))


@pytest.mark.parametrize("task", sorted(TASKS))
def test_stacked_members_convolve_in_the_steps_dtype_as_their_single_runs_do(task):
    """vmap lowers a member axis to ``aten::convolution``, which the CPU's autocast does not cast: without
    ``CastConvolutions`` the stack convolved in fp32 inside a bf16 autocast (3x slower on a CPU with AMX, and
    not its single runs' rounding)."""
    device, kind = torch.device("cpu"), TASKS[task]
    cfgs = [kind.make("smoke", {"seed": s}) for s in (0, 1)]
    states = [new_state(kind.build(c, device), c.train, device, c.seed, None) for c in cfgs]
    batches = [kind.build(c, device).sample(c.train.batch_size, torch.Generator().manual_seed(c.seed)) for c in cfgs]
    x = torch.stack([b[0] for b in batches])
    outs = {}
    for stacked in (False, True):
        with torch.autocast("cpu", dtype=torch.bfloat16), _ConvolutionDtypes() as mode:
            outs[stacked] = Stack(states, cfgs[0].train, stacked).forward(x, torch.bfloat16).float()
        assert mode.seen == {torch.bfloat16}, stacked
    torch.testing.assert_close(outs[True], outs[False], rtol=2e-2, atol=2e-3)  # each member its own output
    with _ConvolutionDtypes() as mode:  # fp32 steps stay fp32
        Stack(states, cfgs[0].train, True).forward(x)
    assert mode.seen == {torch.float32}
