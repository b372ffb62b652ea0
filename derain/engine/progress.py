"""Progress lines for long phases (prior pre-training, bank building): at most one line every few seconds.

``Progress(what, total, log).update(done, loss=...)`` logs ``what: done/total  loss 0.0312  4.1/s  ETA 92 s``
when ``every_s`` seconds have passed since the last line, and always at the end. The first line comes after
``every_s`` too, so phases shorter than that stay silent.
"""

from __future__ import annotations

import logging
import time

EVERY_S = 5.0  # well under the 10 s a user waits before wondering whether anything runs


class Progress:
    """Rate-limited progress of ``total`` units of work, reported through ``logger`` at INFO."""

    def __init__(self, what: str, total: int, logger: logging.Logger, every_s: float = EVERY_S) -> None:
        self.what, self.total, self.log, self.every_s = what, total, logger, every_s
        self.start = self.last = time.perf_counter()

    def update(self, done: int, **values: float) -> bool:
        """Report ``done`` of ``total`` (with named values) if it is time; returns whether a line was logged."""
        now = time.perf_counter()
        if now - self.last < self.every_s and done < self.total:
            return False
        self.last = now
        rate = done / max(now - self.start, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else float("inf")
        shown = "  ".join(f"{k} {v:.4g}" for k, v in values.items())
        sep = "  " if shown else ""
        self.log.info("%s: %d/%d  %s%s%.3g/s  ETA %.0f s", self.what, done, self.total, shown, sep, rate, eta)
        return True
