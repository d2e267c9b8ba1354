"""Library use, as documentation: a user trains their own model with a dataset, a model and a trainer class of a
few lines each and one call to ``engine.run``."""

from __future__ import annotations

import pytest
import torch

import engine
from noether.core.schemas import BaseTrainerConfig, ConfigSchema, DatasetBaseConfig, ModelBaseConfig, OptimizerConfig


class Points(engine.Dataset):
    """64 points of the line y = 3x - 1."""

    def __init__(self, config):
        super().__init__(config)
        self.x = torch.linspace(-1, 1, 64).unsqueeze(1)
        self.y = 3 * self.x - 1

    def __len__(self):
        return len(self.x)

    def getitem_x(self, index):
        return self.x[index]

    def getitem_y(self, index):
        return self.y[index]


class Line(engine.Model):
    """y = w x + b."""

    def __init__(self, config):
        super().__init__(config)
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


class LineTrainer(engine.BaseTrainer):
    """Mean squared error."""

    def loss_compute(self, outputs, targets):
        return torch.nn.functional.mse_loss(outputs, targets["y"])


def test_a_user_trains_their_own_model(tmp_path):
    """Three small classes, named by their import path, and a config object are all it takes to fit a line."""
    here = __name__  # the module that defines the classes; a user writes e.g. "my_project.model.Line"
    config = ConfigSchema(
        datasets={"train": DatasetBaseConfig(kind=f"{here}.Points")},
        model=ModelBaseConfig(kind=f"{here}.Line", name="line", forward_properties=("x",),
                              optimizer_config=OptimizerConfig(kind="torch.optim.SGD", lr=0.5)),
        trainer=BaseTrainerConfig(kind=f"{here}.LineTrainer", max_epochs=30, effective_batch_size=16,
                                  target_properties=("y",)),
        output_path=tmp_path,
        tracker=None,  # no TensorBoard events
    )
    result = engine.run(config)
    assert str(result.iteration) == "E30_U120_S1920"
    assert result.metrics["loss/online/total/U25"] < 1e-6  # default: tracked every 25 updates
    weights = torch.load(result.run_dir / "checkpoints" / "line_cp=latest_model.th", weights_only=True)["state_dict"]
    assert weights["linear.weight"].item() == pytest.approx(3.0, abs=1e-3)
    assert weights["linear.bias"].item() == pytest.approx(-1.0, abs=1e-3)
