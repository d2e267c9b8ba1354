"""Extra outputs of the model's forward pass (e.g. an auxiliary statistic), reduced over an interval."""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import Any

import torch

from noether.core.training import TrainingIteration

from engine.callbacks.base import PeriodicCallback
from engine.distributed import all_reduce_mean


def reduce_mean(values: list[torch.Tensor | float]) -> torch.Tensor:
    """The mean over every element of every value (tensors of any shape, or numbers), as a 0-d float tensor;
    float64 when a value is a Python number or a float64 tensor, else float32.

    >>> reduce_mean([torch.tensor(1.0), torch.tensor([2.0, 3.0])])
    tensor(2.)
    >>> reduce_mean([1, 2.5])
    tensor(1.7500, dtype=torch.float64)
    """
    tensors = [value if isinstance(value, torch.Tensor) else torch.tensor(float(value), dtype=torch.float64)
               for value in values]
    dtype = torch.float64 if any(tensor.dtype == torch.float64 for tensor in tensors) else torch.float32
    device = next((tensor.device for tensor in tensors if tensor.device.type != "cpu"), torch.device("cpu"))
    return torch.cat([tensor.to(device=device, dtype=dtype).reshape(-1) for tensor in tensors]).mean()


class TrackAdditionalOutputsCallback(PeriodicCallback):
    """Collect the model outputs named in ``keys`` (each must exist) or whose key contains one of ``patterns``
    from every micro-batch whose outputs are a dict, and at each interval reduce them (``reduce: mean``: the
    mean over the interval's micro-batches and processes; ``last``: the last micro-batch's value, averaged over
    processes), log them as ``<key>/<interval>`` (``log_output``; the value must be a scalar) and save them to
    ``<run_dir>/update_outputs/<key>_<interval>_<iteration>.th`` on the main process (``save_output``; a ``/``
    in the key becomes ``.``)."""

    def __init__(self, config: Any, **kwargs: Any) -> None:
        super().__init__(config, **kwargs)
        self.keys = tuple(config.keys or ())
        self.patterns = tuple(config.patterns or ())
        if not self.keys and not self.patterns:
            raise ValueError(f"{self}: keys: set keys or patterns (got neither)")
        if config.reduce not in ("mean", "last"):
            raise ValueError(f"{self}: reduce: must be 'mean' or 'last' (got {config.reduce!r})")
        self.reduce = config.reduce
        self._tracked: dict[str, list[Any]] = {}

    def _selected(self, outputs: Any) -> dict[str, Any]:
        if not isinstance(outputs, Mapping):
            if self.keys:
                raise ValueError(f"{self}: keys: the model's outputs must be a dict to track {list(self.keys)} "
                                 f"(got {type(outputs).__name__})")
            return {}
        missing = [key for key in self.keys if key not in outputs]
        if missing:
            raise KeyError(f"{self}: keys: no output {', '.join(map(repr, missing))} in the model's outputs "
                           f"(outputs: {', '.join(map(str, outputs)) or 'none'})")
        selected = {key: outputs[key] for key in self.keys}
        selected.update((key, value) for key, value in outputs.items()
                        if isinstance(key, str) and key not in selected and any(p in key for p in self.patterns))
        return selected

    def track_after_accumulation_step(self, iteration: TrainingIteration, batch: Mapping[str, Any],
                                      losses: Mapping[str, torch.Tensor], outputs: Any,
                                      items: int | torch.Tensor = 1) -> None:
        """Keep the selected outputs, detached (``last`` keeps only the newest; no device sync here)."""
        for key, value in self._selected(outputs).items():
            if isinstance(value, torch.Tensor):
                value = value.detach()
            elif not isinstance(value, numbers.Real):
                raise TypeError(f"{self}: output {key!r} must be a tensor or a number to be tracked "
                                f"(got {type(value).__name__})")
            if self.reduce == "last":
                self._tracked[key] = [value]
            else:
                self._tracked.setdefault(key, []).append(value)

    def _reduced(self, values: list[Any]) -> torch.Tensor:
        if self.reduce == "mean":
            value = reduce_mean(values)
        else:
            last = values[-1]
            if isinstance(last, torch.Tensor):
                value = last.clone() if last.is_floating_point() else last.float()
            else:
                value = torch.tensor(float(last), dtype=torch.float64)
        if value.device.type == "cpu" and self.run.device.type != "cpu":
            value = value.to(self.run.device)  # collectives (nccl) need tensors on the process's device
        return all_reduce_mean(value).cpu()

    def periodic_callback(self, iteration: TrainingIteration, interval_type: str) -> None:
        """Reduce, log and save every output tracked since the last invocation, then forget them."""
        tracked, self._tracked = self._tracked, {}
        interval = self.interval_string
        for key, values in tracked.items():
            value = self._reduced(values)
            if self.config.log_output:
                if value.numel() != 1:
                    raise ValueError(f"{self}: log_output: output {key!r} is not a scalar (got shape "
                                     f"{tuple(value.shape)}); use reduce: mean, or log_output: false with "
                                     "save_output: true")
                self.run.writer.add_scalar(f"{key}/{interval}", value.reshape(()), iteration)
            if self.config.verbose and self.run.is_main_process:
                print(f"{key}/{interval}: {value.item() if value.numel() == 1 else value}")
            if self.config.save_output and self.run.is_main_process:
                directory = self.run.run_dir / "update_outputs"
                directory.mkdir(parents=True, exist_ok=True)
                torch.save(value, directory / f"{key.replace('/', '.')}_{interval}_{iteration}.th")
