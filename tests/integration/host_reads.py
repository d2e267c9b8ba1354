"""Count host reads of tensor values per update of a run (a GPU would stall at each one), on the CPU.

``HostReadRecorder`` (kind ``host_reads.HostReadRecorder``, also in the processes torchrun starts: this directory
is on their ``PYTHONPATH``) patches every Python entry point that turns a tensor's value into a host value
(``READS``) from ``before_training`` to ``after_training`` and files each call under the update in which it was
made: an update starts when its first ``OptimizerWrapper.schedule_step`` runs and lasts until the next one starts,
so its callbacks, its log flush and its stop check belong to it. The per-update lists go to
``<run_dir>/host_reads.rank<r>.json``: one list per update of ``[what, "file:function"]``.
A read inside torch's C++ code (e.g. boolean-mask indexing) is not seen; the engine's own calls all are.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys
from typing import Any

import torch

import engine
from engine.optimizer import OptimizerWrapper
from noether.core.training import TrainingIteration

TENSOR_READS = ("item", "tolist", "numpy", "cpu", "__bool__", "__float__", "__int__", "__index__", "__complex__",
                "__array__", "equal", "allclose")
"""``torch.Tensor`` methods that return (or need) a value on the host."""
TORCH_READS = ("equal", "allclose", "is_nonzero")
"""``torch`` functions that return a Python value computed from tensors."""


def _names_cpu(value: Any) -> bool:
    return (isinstance(value, torch.device) and value.type == "cpu") or value == "cpu"


class HostReads:
    """The patches and what they saw: ``updates[u]`` lists the reads made during update ``u`` of the run."""

    def __init__(self) -> None:
        self.updates: list[list[tuple[str, str]]] = []
        self._originals: list[tuple[Any, str, Any]] = []

    def _record(self, what: str) -> None:
        if self.updates:  # reads before the first update (setup, before_training) are not counted
            frame = sys._getframe(2)
            where = "/".join(pathlib.Path(frame.f_code.co_filename).parts[-2:]) + ":" + frame.f_code.co_name
            self.updates[-1].append((what, where))

    def _patch(self, owner: Any, name: str, replacement: Any) -> None:
        self._originals.append((owner, name, owner.__dict__[name] if name in owner.__dict__ else getattr(owner, name)))
        setattr(owner, name, replacement)

    def install(self) -> None:
        """Patch the reads, ``Tensor.to`` (counted when code outside torch moves a tensor to the CPU) and the update
        boundary."""
        for name in TENSOR_READS:
            original = getattr(torch.Tensor, name)
            self._patch(torch.Tensor, name, self._counting(f"Tensor.{name}", original))
        for name in TORCH_READS:
            self._patch(torch, name, self._counting(f"torch.{name}", getattr(torch, name)))
        original_to = torch.Tensor.to

        torch_files = str(pathlib.Path(torch.__file__).parent)

        def to(tensor: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            # torch's own ``.to(param.device)`` calls name the CPU only because this run is on the CPU
            if not sys._getframe(1).f_code.co_filename.startswith(torch_files) and any(_names_cpu(value) for value in (*args, *kwargs.values()) if not isinstance(value, torch.Tensor)):
                self._record("Tensor.to(cpu)")
            return original_to(tensor, *args, **kwargs)

        self._patch(torch.Tensor, "to", to)
        original_schedule_step = OptimizerWrapper.schedule_step
        seen: set[int] = set()

        def schedule_step(wrapper: OptimizerWrapper, update: int) -> None:
            if update not in seen:  # the update's 0-based index: one window per update, any optimizers
                seen.add(update)
                self.updates.append([])
            return original_schedule_step(wrapper, update)

        self._patch(OptimizerWrapper, "schedule_step", schedule_step)

    def _counting(self, what: str, original: Any) -> Any:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self._record(what)
            return original(*args, **kwargs)

        return counted

    def uninstall(self) -> None:
        """Undo every patch."""
        for owner, name, original in reversed(self._originals):
            setattr(owner, name, original)
        self._originals = []


class HostReadRecorder(engine.PeriodicCallback):
    """Count host reads per update from ``before_training`` to ``after_training`` (its interval does nothing) and write them to
    ``<run_dir>/host_reads.rank<r>.json`` (each rank its own file: rank > 0 writes nothing else)."""

    def before_training(self, iteration: TrainingIteration) -> None:
        """Install the patches."""
        self.reads = HostReads()
        self.reads.install()

    def after_training(self, iteration: TrainingIteration) -> None:
        """Remove the patches and write what they saw."""
        self.reads.uninstall()
        self.run.run_dir.mkdir(parents=True, exist_ok=True)
        path = self.run.run_dir / f"host_reads.rank{os.environ.get('RANK', '0')}.json"
        path.write_text(json.dumps(self.reads.updates), encoding="utf-8")


class NanMseTrainer(engine.BaseTrainer):
    """Mean squared error, multiplied by NaN in the training micro-batches listed in ``NAN_MICRO_BATCHES``
    (comma-separated 0-based indices counted over the run, in every process)."""

    def __init__(self, config: Any) -> None:
        super().__init__(config)
        self.micro_batches = 0
        self.nan_at = {int(index) for index in os.environ.get("NAN_MICRO_BATCHES", "").split(",") if index}

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """The mean squared error (times NaN where asked)."""
        factor = float("nan") if self.micro_batches in self.nan_at else 1.0
        self.micro_batches += 1
        return torch.nn.functional.mse_loss(outputs, targets["y"]) * factor
