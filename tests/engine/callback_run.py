"""A small, real ``RunContext`` for the callback unit tests in ``tests/engine/callbacks``: a no-op tracker,
checkpoints into a temporary directory. ``tests/engine/conftest.py`` puts this directory on ``sys.path``."""

from __future__ import annotations

import pathlib

import torch

from engine.callbacks.base import RunContext
from engine.checkpoint import CheckpointWriter
from engine.trackers.base import NoopTracker
from engine.trackers.log_writer import LogWriter
from engine.trainer import BaseTrainer
from noether.core.schemas import BaseTrainerConfig
from noether.core.training import plan_training


def make_run(run_dir: pathlib.Path, model: torch.nn.Module | None = None, *,
             is_main_process: bool = True) -> RunContext:
    """A run over ``model`` (default ``Linear(2, 1)``): 16 samples, 4 per update (4 updates per epoch), 2 epochs;
    checkpoints in ``run_dir / "checkpoints"``."""
    model = model if model is not None else torch.nn.Linear(2, 1)
    trainer_config = BaseTrainerConfig(kind="engine.trainer.BaseTrainer", max_epochs=2, effective_batch_size=4)
    checkpoints = CheckpointWriter(run_dir / "checkpoints", run_id="test-run", model=model, optimizers={},
                                   trainer_state=dict, is_main_process=is_main_process)
    return RunContext(trainer=BaseTrainer(trainer_config), model=model, optimizers={}, datasets={},
                      plan=plan_training(trainer_config, dataset_length=16), writer=LogWriter(NoopTracker(), None),
                      checkpoints=checkpoints, run_dir=run_dir, device=torch.device("cpu"),
                      is_main_process=is_main_process)
