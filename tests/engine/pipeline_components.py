"""User components of the pipeline tests, named by kind (``pipeline_components.CloudDataset``): point clouds of
varying size, a per-point MLP for padded or concatenated batches, a masked trainer, and a user pipeline that
draws from torch's, numpy's and Python's global generators.

``tests/engine/conftest.py`` puts this directory on ``sys.path``; subprocess runs add it to ``PYTHONPATH``.
"""

from __future__ import annotations

import pathlib
import random
from typing import Any, Literal

import attrs
import numpy as np
import torch
from torch import nn

import engine
from engine.data.pipeline import ConcatCollator, MultiStagePipeline, PadCollator
from noether.core.schemas import BaseTrainerConfig, DatasetBaseConfig, ModelBaseConfig, PipelineConfig

MODULE = __name__
"""The import name of this module, the prefix of every kind below."""


@attrs.frozen(kw_only=True)
class CloudDatasetConfig(DatasetBaseConfig):
    """Point clouds with ``min_points``..``max_points`` points each (float64)."""

    num_samples: int
    """Clouds in the dataset."""
    min_points: int = 3
    """Fewest points of a cloud."""
    max_points: int = 9
    """Most points of a cloud."""


class CloudDataset(engine.Dataset):
    """Properties ``x`` (points x 3), ``y`` (points x 1, a smooth function of x) and ``index``."""

    config_schema = CloudDatasetConfig

    def __init__(self, config: CloudDatasetConfig) -> None:
        super().__init__(config)
        generator = torch.Generator().manual_seed(0)
        counts = torch.randint(config.min_points, config.max_points + 1, (config.num_samples,), generator=generator)
        self.points = [torch.randn(int(n), 3, generator=generator, dtype=torch.float64) for n in counts]

    def __len__(self) -> int:
        return len(self.points)

    def getitem_x(self, index: int) -> torch.Tensor:
        """The points."""
        return self.points[index]

    def getitem_y(self, index: int) -> torch.Tensor:
        """The per-point target."""
        return torch.sin(self.points[index].sum(dim=1, keepdim=True))

    def getitem_index(self, index: int) -> int:
        """The sample's index."""
        return index


@attrs.frozen(kw_only=True)
class PointMlpConfig(ModelBaseConfig):
    """A per-point MLP."""

    dropout: float = 0.0
    """Dropout after the hidden layer (draws from torch's generator in the training process)."""
    with_statistics: bool = False
    """Return ``{"y": prediction, "abs_mean": mean |prediction|}`` instead of the prediction alone."""


class PointMlp(engine.Model):
    """``forward(x) -> y`` per point, for padded ``(batch, points, 3)`` and concatenated ``(rows, 3)`` input."""

    config_schema = PointMlpConfig

    def __init__(self, config: PointMlpConfig) -> None:
        super().__init__(config)
        self.net = nn.Sequential(nn.Linear(3, 8), nn.Tanh(), nn.Dropout(config.dropout), nn.Linear(8, 1)).double()

    def forward(self, x: torch.Tensor) -> torch.Tensor | dict[str, torch.Tensor]:
        y = self.net(x)
        return {"y": y, "abs_mean": y.abs().mean()} if self.config.with_statistics else y


@attrs.frozen(kw_only=True)
class MaskedTrainerConfig(BaseTrainerConfig):
    """Which batches the trainer gets."""

    layout: Literal["pad", "concat"] = "pad"
    """``pad``: a ``mask`` of real rows; ``concat``: every row is real."""


class MaskedTrainer(engine.BaseTrainer):
    """Squared error summed over real points, counted per point (``engine.LossOutput``)."""

    config_schema = MaskedTrainerConfig

    def loss_compute(self, outputs: Any, targets: dict[str, torch.Tensor]) -> engine.LossOutput:
        outputs = outputs["y"] if isinstance(outputs, dict) else outputs
        squared = (outputs - targets["y"]).square().squeeze(-1)
        if self.config.layout == "pad":
            mask = targets["mask"]
            return engine.LossOutput(total=(squared * mask).sum(), count=mask.sum())
        return engine.LossOutput(total=squared.sum(), count=squared.shape[0])


@attrs.frozen(kw_only=True)
class NoisyPipelineConfig(PipelineConfig):
    """A user pipeline's own fields."""

    num_points: int = 2
    """Points kept per cloud."""
    layout: Literal["pad", "concat"] = "pad"
    """Pad (with a mask) or concatenate the clouds."""


class NoisyPipeline(MultiStagePipeline):
    """Keep ``num_points`` random points per cloud (torch), jitter them (numpy) and shift them (Python's
    ``random``); the batch's ``draws`` holds the three kinds of draws of every sample, for the tests."""

    config_schema = NoisyPipelineConfig

    def __init__(self, config: NoisyPipelineConfig) -> None:
        collator = (PadCollator(items=["x", "y"], mask_key="mask") if config.layout == "pad"
                    else ConcatCollator(items=["x", "y"], batch_index_key="batch_idx"))
        super().__init__(sample_processors=[self.jitter], collators=[collator, self.draws])
        self.num_points = config.num_points

    def jitter(self, sample: dict[str, Any]) -> dict[str, Any]:
        keep = torch.randperm(sample["x"].shape[0])[: self.num_points]
        noise = torch.from_numpy(np.random.normal(0.0, 0.01, size=(len(keep), 3)))
        shift = random.random() * 0.01
        return {**sample, "x": sample["x"][keep] + noise + shift, "y": sample["y"][keep],
                "draws": torch.tensor([float(keep[0]), float(noise[0, 0]), shift], dtype=torch.float64)}

    @staticmethod
    def draws(samples: list[dict[str, Any]]) -> dict[str, Any]:
        return {"draws": torch.stack([sample["draws"] for sample in samples])}


def pipeline_yaml(output_path: pathlib.Path, *, pipeline: str, layout: str = "pad", val_pipeline: str | None = None,
                  num_workers: int = 0, max_batch_size: int | None = None, dropout: float = 0.0,
                  with_statistics: bool = False, callbacks: str = "[]", extra: str = "") -> str:
    """A training config (YAML text) on ``CloudDataset`` with the given pipeline (a YAML flow mapping)."""
    forward = "[x]"
    targets = "[y, mask]" if layout == "pad" else "[y]"
    val = f"\n  val: {{kind: {MODULE}.CloudDataset, num_samples: 10, pipeline: {val_pipeline}}}" if val_pipeline else ""
    return f"""
output_path: {output_path}
run_id: test-run
seed: 4
num_workers: {num_workers}
tracker: disabled
datasets:
  train: {{kind: {MODULE}.CloudDataset, num_samples: 24, pipeline: {pipeline}}}{val}
model:
  kind: {MODULE}.PointMlp
  name: mlp
  dropout: {dropout}
  with_statistics: {str(with_statistics).lower()}
  optimizer_config: {{kind: torch.optim.AdamW, lr: 0.01, weight_decay: 0.1}}
trainer:
  kind: {MODULE}.MaskedTrainer
  layout: {layout}
  max_updates: 6
  effective_batch_size: 8{f"{chr(10)}  max_batch_size: {max_batch_size}" if max_batch_size else ""}
  track_every_n_updates: 1
  forward_properties: {forward}
  target_properties: {targets}
  callbacks: {callbacks}
{extra}"""


RECORDED_OUTPUTS: list[float] = []
"""``abs_mean`` of every micro-batch of the runs with an ``OutputsRecorder``."""


class OutputsRecorder(engine.PeriodicCallback):
    """Record the model's ``abs_mean`` output of every training micro-batch into ``RECORDED_OUTPUTS``."""

    def track_after_accumulation_step(self, iteration: Any, batch: Any, losses: Any, outputs: Any,
                                      items: Any = 1) -> None:
        RECORDED_OUTPUTS.append(float(outputs["abs_mean"]))
