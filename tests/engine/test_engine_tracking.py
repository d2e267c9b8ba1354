"""Logging (DESIGN.md section 4.4): TensorBoard is the default tracker, its x-axis is the update, and
``metrics.jsonl`` holds the same scalars."""

from __future__ import annotations

import json

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import engine
from engine_components import token_config
from noether.core.schemas import ConfigSchema, TensorboardTrackerSchema

TRAINING_TAGS = {"loss/online/total/U1", "optim/lr/mlp/default", "optim/lr/mlp/weight_decay=0"}
"""The scalars every update of the token MLP logs (4 updates: the default track interval is 1 update)."""


@pytest.fixture(scope="module")
def tracked_run(tmp_path_factory) -> engine.RunResult:
    """Three updates of the token MLP with the tracker a config gets when it names none."""
    tiny = token_config(tmp_path_factory.mktemp("tracked"), max_updates=3)
    config = ConfigSchema(datasets=tiny.datasets, model=tiny.model, trainer=tiny.trainer,
                          accelerator="cpu", output_path=tiny.output_path, run_id=tiny.run_id)  # no tracker given
    assert config.tracker == TensorboardTrackerSchema()
    return engine.run(config)


def events(result: engine.RunResult) -> EventAccumulator:
    """The run's TensorBoard events, read back from ``<run_dir>/runs``."""
    accumulator = EventAccumulator(str(result.run_dir / "runs"))
    accumulator.Reload()
    return accumulator


def test_tensorboard_scalars_are_logged_per_update(tracked_run):
    """The online loss and every param group's learning rate are TensorBoard scalars at steps 1, 2, 3."""
    accumulator = events(tracked_run)
    assert TRAINING_TAGS <= set(accumulator.Tags()["scalars"])
    for tag in TRAINING_TAGS:
        assert [event.step for event in accumulator.Scalars(tag)] == [1, 2, 3]
    assert [event.value for event in accumulator.Scalars("optim/lr/mlp/default")] == [np.float32(0.01)] * 3


def test_tensorboard_holds_the_resolved_config(tracked_run):
    """The resolved config is stored as a TensorBoard text summary."""
    assert "config/text_summary" in events(tracked_run).Tags()["tensors"]


def test_metrics_jsonl_has_the_tensorboard_values(tracked_run):
    """Each ``metrics.jsonl`` line is one update (epoch, update, sample) with the values TensorBoard got (float32)."""
    lines = [json.loads(line) for line in (tracked_run.run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [(line["epoch"], line["update"], line["sample"]) for line in lines] == [(0, 1, 12), (1, 2, 24), (1, 3, 36)]
    accumulator = events(tracked_run)
    for tag in accumulator.Tags()["scalars"]:
        from_tensorboard = [(event.step, event.value) for event in accumulator.Scalars(tag)]
        from_jsonl = [(line["update"], float(np.float32(line[tag]))) for line in lines if tag in line]
        assert from_tensorboard == from_jsonl, tag
    assert tracked_run.metrics["loss/online/total/U1"] == lines[-1]["loss/online/total/U1"]


def test_a_disabled_tracker_writes_no_events(tmp_path):
    """``tracker: disabled`` (``None``) writes no TensorBoard events, but ``metrics.jsonl`` still."""
    result = engine.run(token_config(tmp_path, max_updates=2, tracker=None))
    assert not (result.run_dir / "runs").exists()
    assert len((result.run_dir / "metrics.jsonl").read_text().splitlines()) == 2
