"""User callbacks for the distributed and resume tests (signals, kills), named by kind ``ddp_components.<Name>``
(the tests put this directory on ``PYTHONPATH`` of the processes torchrun starts). The runs train the engine's toy,
``engine.demos``."""

from __future__ import annotations

import os
import signal

import engine
from noether.core.training import TrainingIteration


class TerminatingCallback(engine.PeriodicCallback):
    """A user callback (by kind) that sends ``TERMINATE_SIGNAL`` (default SIGTERM) to the process of rank
    ``TERMINATE_RANK`` (default 1) after update ``TERMINATE_AT_UPDATE``."""

    def track_after_update_step(self, iteration: TrainingIteration, times) -> None:
        rank = int(os.environ.get("TERMINATE_RANK", 1))
        if int(os.environ.get("RANK", 0)) == rank and iteration.update == int(os.environ["TERMINATE_AT_UPDATE"]):
            os.kill(os.getpid(), getattr(signal, os.environ.get("TERMINATE_SIGNAL", "SIGTERM")))


class KillingCallback(engine.PeriodicCallback):
    """Kill this process with SIGKILL (no clean-up at all) after update ``KILL_AT_UPDATE``."""

    def after_update(self, iteration: TrainingIteration) -> None:
        if iteration.update == int(os.environ["KILL_AT_UPDATE"]):
            os.kill(os.getpid(), signal.SIGKILL)
