"""The point-cloud example, end to end on the CPU with a smaller problem: variable-size clouds batched by its
pipeline train, the validation loss goes down, and the EMA and best checkpoints are there."""

from __future__ import annotations

import json
import pathlib

import pytest
import torch

import engine
from engine.checkpoint import verified_files

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "pointcloud" / "train.yaml"
OVERRIDES = ("accelerator=cpu", "datasets.train.num_samples=96", "datasets.val.num_samples=24",
             "trainer.max_epochs=8", "trainer.track_every_n_updates=1", "num_workers=2")
"""3 updates of 2 micro-batches of 16 clouds per epoch, 8 epochs, loaded by two workers."""


@pytest.fixture(scope="module")
def pointcloud_run(tmp_path_factory) -> engine.RunResult:
    output_path = tmp_path_factory.mktemp("pointcloud")
    return engine.run(EXAMPLE, [f"output_path={output_path}", *OVERRIDES])


def test_the_clouds_have_different_sizes_and_the_batches_are_padded(tmp_path):
    config = engine.load_config(EXAMPLE, [f"output_path={tmp_path}", *OVERRIDES])
    from examples.pointcloud.dataset import EllipsoidDataset

    train = EllipsoidDataset(config.datasets["train"])
    sizes = {train[index]["position"].shape[0] for index in range(len(train))}
    assert min(sizes) >= 200 and max(sizes) <= 800 and len(sizes) > 50


def test_the_validation_loss_goes_down(pointcloud_run):
    lines = [json.loads(line) for line in (pointcloud_run.run_dir / "metrics.jsonl").read_text().splitlines()]
    validation = [line["loss/val/total"] for line in lines if "loss/val/total" in line]
    assert len(validation) == 8 and validation[-1] < 0.95 * validation[0]
    assert str(pointcloud_run.iteration) == "E8_U24_S768"


def test_the_ema_and_best_checkpoints(pointcloud_run):
    directory = pointcloud_run.run_dir / "checkpoints"
    names = {path.name for path in directory.iterdir()}
    assert "pointnet_cp=best_model.loss.val.total_model.th" in names
    assert "pointnet_ema=0.99_cp=E8_U24_S768_model.th" in names, sorted(names)
    assert verified_files(directory / "pointnet_cp=best_model.loss.val.total_manifest.json") is not None
    state = torch.load(directory / "pointnet_ema=0.99_cp=E8_U24_S768_model.th", weights_only=True)["state_dict"]
    assert set(state) == set(torch.load(directory / "pointnet_cp=latest_model.th", weights_only=True)["state_dict"])
