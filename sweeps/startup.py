"""What the terminal shows while a sweep starts and runs: how long it took to get its first trial running,
phase by phase (logged once, when it does), and Tune's table headed by trials finished and remaining.

    first trial running 8.7 s after launch: imports 4.1 s, checks 0.3 s, Ray 2.9 s, Tune set-up 0.2 s,
    first worker 1.2 s  (and "content priors" when a sweep pre-trains one first)

``python sweeps/run.py`` starts the clock before its heavy imports (an in-process ``main(argv)`` call, when it
is called). A restored sweep's clock comes back from Tune's pickle spent, so only a new sweep logs the line.
"""

from __future__ import annotations

import logging
import time

from ray.tune import Callback, CLIReporter

log = logging.getLogger("sweeps")


class StartupClock(Callback):
    """Phase marks from the launch to the first trial Tune reports running (a Tune callback for that moment)."""

    def __init__(self, launched: float) -> None:
        self.last = launched
        self.launched = launched
        self.phases: dict[str, float] = {}
        self.first_trial_s: float | None = None

    def mark(self, phase: str) -> None:
        """End ``phase`` now (its duration is the time since the previous mark)."""
        now = time.perf_counter()
        self.phases[phase] = self.phases.get(phase, 0.0) + now - self.last
        self.last = now

    def on_trial_start(self, iteration: int, trials: list, trial, **info) -> None:
        if self.first_trial_s is not None:
            return
        self.mark("first worker")
        self.first_trial_s = self.last - self.launched
        shown = ", ".join(f"{name} {s:.1f} s" for name, s in self.phases.items())
        log.info("first trial running %.1f s after launch: %s", self.first_trial_s, shown)

    def __getstate__(self) -> dict:
        # Tune pickles its callbacks with the experiment; a restored sweep starts a new clock in _run.
        return {"last": 0.0, "launched": 0.0, "phases": {}, "first_trial_s": 0.0}


class SweepReporter(CLIReporter):
    """Tune's classic table with one more header line: ``sweep: 3 of 8 trials finished, 5 to go, 0:02:41``."""

    def __init__(self, total: int, **kwargs) -> None:
        super().__init__(**kwargs)
        self.total, self.started = total, time.monotonic()

    def report(self, trials: list, done: bool, *sys_info: str) -> None:
        finished = sum(t.status in ("TERMINATED", "ERROR") for t in trials)
        elapsed = int(time.monotonic() - self.started)
        clock = f"{elapsed // 3600}:{elapsed // 60 % 60:02d}:{elapsed % 60:02d}"
        line = f"sweep: {finished} of {self.total} trials finished, {self.total - finished} to go, {clock} elapsed"
        super().report(trials, done, line, *sys_info)
