"""What one trial costs in wall time, per task and scale: the basis of a sweep's ``--dry-run`` estimate.

Seconds per training step, per evaluation and per content-prior pre-training step, and a trial's start-up
(banks, evaluation sets, reference metrics). ``smoke`` and ``cpu`` were measured with ``python -m
derain.train`` / ``python -m derain.toy1d`` on one core of this project's 2-core CPU machine, with a second
job on the other core, as two concurrent trials run (issue 15); ``gpu`` and ``paper`` are estimates for one
H200 from the claims protocol's 3000-step trials (about 2 minutes each) and were not measured here.
"""

from __future__ import annotations

from dataclasses import dataclass


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


COSTS: dict[tuple[str, str], TrialCost] = {
    ("derain", "smoke"): TrialCost(step_s=0.025, eval_s=0.5, start_s=4.0, prior_step_s=0.05),
    # 117-188 ms per step (alone / beside a test run), 5.3-9.6 s per evaluation of 16 images x 10 sets.
    ("derain", "cpu"): TrialCost(step_s=0.13, eval_s=7.0, start_s=7.0, prior_step_s=0.27),
    ("derain", "gpu"): TrialCost(step_s=0.03, eval_s=5.0, start_s=15.0, prior_step_s=0.05, measured=False),
    ("derain", "paper"): TrialCost(step_s=0.05, eval_s=20.0, start_s=30.0, prior_step_s=0.1, measured=False),
    ("toy1d", "smoke"): TrialCost(step_s=0.008, eval_s=0.5, start_s=3.0),
    # 9 ms per step alone, 32 ms beside another job; 0.2-0.9 s per evaluation.
    ("toy1d", "cpu"): TrialCost(step_s=0.02, eval_s=0.6, start_s=3.0),
    ("toy1d", "gpu"): TrialCost(step_s=0.005, eval_s=0.5, start_s=10.0, measured=False),
    ("toy1d", "paper"): TrialCost(step_s=0.005, eval_s=0.5, start_s=10.0, measured=False),
}
