"""What one trial costs in wall time, per task, scale and precision of the training steps: the basis of a sweep's
``--dry-run`` estimate.

Seconds per training step, per evaluation and per content-prior pre-training step, and a trial's start-up
(banks, evaluation sets, reference metrics, checkpoints). ``smoke`` and ``cpu`` were measured with ``python -m
derain.train`` / ``python -m derain.toy1d`` on one core of this project's 2-core CPU machine, with a second
job on the other core, as two concurrent trials run: in float32 (issue 15; a CPU without AMX) and in bfloat16
(issue 23; ``derain.engine.loop.amp_dtype`` steps in bf16 on a CPU with AMX), the bf16 rows checked against the
cpu claims protocol's trials (2D 78-94 s, 1D 24 s each). ``gpu`` and ``paper`` are estimates for one H200 from
the claims protocol's 3000-step trials (about 2 minutes each) and were not measured here.
"""

from __future__ import annotations

from dataclasses import dataclass

FP32, BF16 = "float32", "bfloat16"  # derain.engine.loop.precision's names


@dataclass(frozen=True)
class TrialCost:
    step_s: float  # one training step
    eval_s: float  # one evaluation of every set
    start_s: float  # data, evaluation sets and reference metrics before the first step
    prior_step_s: float = 0.0  # one content-prior pre-training step (2D, once per distinct prior)
    measured: bool = True  # False: an estimate, said so wherever it is printed

    def trial_seconds(self, iterations: int, evaluations: int) -> float:
        """Wall seconds of one trial of ``iterations`` steps and ``evaluations`` evaluations."""
        return self.start_s + iterations * self.step_s + evaluations * self.eval_s


COSTS: dict[tuple[str, str, str], TrialCost] = {
    ("derain", "smoke", FP32): TrialCost(step_s=0.025, eval_s=0.5, start_s=4.0, prior_step_s=0.05),
    # 117-188 ms per step (alone / beside a test run), 5.3-9.6 s per evaluation of 16 images x 10 sets.
    ("derain", "cpu", FP32): TrialCost(step_s=0.13, eval_s=7.0, start_s=7.0, prior_step_s=0.27),
    # 23-26 ms per step and 2.8-3.4 s per evaluation beside a second trial (evaluation stays fp32); the prior
    # pre-trained beside the trials in 90-120 s for 500 steps. Claims trials (2000 steps, 8 evaluations): 81 s.
    ("derain", "cpu", BF16): TrialCost(step_s=0.026, eval_s=3.2, start_s=5.0, prior_step_s=0.24),
    ("derain", "gpu", BF16): TrialCost(step_s=0.03, eval_s=5.0, start_s=15.0, prior_step_s=0.05, measured=False),
    ("derain", "paper", BF16): TrialCost(step_s=0.05, eval_s=20.0, start_s=30.0, prior_step_s=0.1, measured=False),
    ("toy1d", "smoke", FP32): TrialCost(step_s=0.008, eval_s=0.5, start_s=3.0),
    # 9 ms per step alone, 32 ms beside another job; 0.2-0.9 s per evaluation.
    ("toy1d", "cpu", FP32): TrialCost(step_s=0.02, eval_s=0.6, start_s=3.0),
    # 5.0 ms per step and 0.1 s per evaluation beside a second trial; claims trials (4000 steps): 24 s.
    ("toy1d", "cpu", BF16): TrialCost(step_s=0.005, eval_s=0.1, start_s=3.0),
    ("toy1d", "gpu", BF16): TrialCost(step_s=0.005, eval_s=0.5, start_s=10.0, measured=False),
    ("toy1d", "paper", BF16): TrialCost(step_s=0.005, eval_s=0.5, start_s=10.0, measured=False),
}


def trial_cost(task: str, scale: str, precision: str) -> tuple[TrialCost, str]:
    """The cost of one ``task`` trial at ``scale`` with steps in ``precision``, and the precision it was measured
    (or estimated) in: the row of that precision, else the scale's only row (smoke's steps are too short for
    precision to matter; the GPU estimates assume bf16)."""
    if (task, scale, precision) in COSTS:
        return COSTS[(task, scale, precision)], precision
    return next((cost, p) for (t, s, p), cost in COSTS.items() if (t, s) == (task, scale))
