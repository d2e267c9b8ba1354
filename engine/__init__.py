"""The thin imperative engine: turns validated configs into torch objects and runs the training loop.

A user writes a ``Model``, a ``Dataset`` and a ``BaseTrainer`` subclass and calls ``engine.run(config)``
(or ``noether-train train.yaml key=value ...``).
"""

from engine.callbacks import Callback, PeriodicCallback
from engine.data import Dataset
from engine.evaluate import evaluate, load_model
from engine.models import CompositeModel, Model
from engine.optimizer import OptimizerWrapper
from engine.run import RunResult, load_config, run
from engine.trainer import BaseTrainer, LossOutput, TrainerResult

__all__ = [
    "BaseTrainer",
    "Callback",
    "CompositeModel",
    "Dataset",
    "LossOutput",
    "Model",
    "OptimizerWrapper",
    "PeriodicCallback",
    "RunResult",
    "TrainerResult",
    "evaluate",
    "load_config",
    "load_model",
    "run",
]
