"""TensorBoard over a whole training: a resumed run continues its first run's TensorBoard run (one curve, read back
with TensorBoard's own reader), and the hyper-parameters reach the HParams tab."""

from __future__ import annotations

import json
import pathlib

import attrs
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2

import engine
from engine_components import token_config
from noether.core.schemas import OptimizerConfig, TensorboardTrackerSchema
from noether.core.schemas.callbacks import CheckpointCallbackConfig

KEY = "loss/online/total/U1"
"""The online loss, logged every update."""


def read(log_dir: pathlib.Path) -> EventAccumulator:
    """Every event of a TensorBoard log directory, as TensorBoard reads it."""
    accumulator = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    accumulator.Reload()
    return accumulator


def logged(run_dir: pathlib.Path, key: str) -> dict[int, float]:
    """``metrics.jsonl``'s values of ``key`` by update."""
    records = map(json.loads, (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines())
    return {record["update"]: record[key] for record in records if key in record}


def config(output_path: pathlib.Path, lr: float = 0.01, **fields):
    """4 updates with TensorBoard and a checkpoint every 2 updates."""
    base = token_config(output_path, tracker=TensorboardTrackerSchema(flush_secs=1),
                        optimizer=OptimizerConfig(kind="torch.optim.AdamW", lr=lr, weight_decay=0.1),
                        callbacks=(CheckpointCallbackConfig(every_n_updates=2, save_optim=True),))
    return attrs.evolve(base, store_code_in_output=False, **fields)


def test_a_resumed_run_continues_the_first_runs_tensorboard_run(tmp_path):
    """Resuming at E1 (update 2) with another learning rate writes into the first run's log directory: TensorBoard
    reads one curve with each update once, the first run's values up to update 2 and the resumed run's after
    (the first run's own updates 3 and 4 are superseded); a second resume continues the same directory."""
    first = engine.run(config(tmp_path))
    resumed = engine.run(config(tmp_path, lr=0.02, run_id="resumed", resume_run_id="test-run", resume_checkpoint="E1"))
    assert resumed.tensorboard_dir == first.run_dir / "runs" == first.tensorboard_dir
    assert not (resumed.run_dir / "runs").exists()
    old, new = logged(first.run_dir, KEY), logged(resumed.run_dir, KEY)
    assert sorted(new) == [3, 4] and new[4] != pytest.approx(old[4], rel=1e-9)
    curve = {event.step: event.value for event in read(first.run_dir / "runs").Scalars(KEY)}
    assert [event.step for event in read(first.run_dir / "runs").Scalars(KEY)] == [1, 2, 3, 4]
    expected = {1: old[1], 2: old[2], 3: new[3], 4: new[4]}
    assert curve == {step: pytest.approx(value, rel=1e-6) for step, value in expected.items()}  # float32 in events
    longer = config(tmp_path, run_id="again", resume_run_id="resumed")
    again = engine.run(attrs.evolve(longer, trainer=attrs.evolve(longer.trainer, max_updates=6)))
    assert again.tensorboard_dir == first.run_dir / "runs"
    steps = [event.step for event in read(first.run_dir / "runs").Scalars(KEY)]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_hyperparameters_reach_the_hparams_tab(tmp_path):
    """The config's scalar leaves are a session of TensorBoard's HParams plugin."""
    result = engine.run(config(tmp_path))
    content = read(result.run_dir / "runs").PluginTagToContent("hparams")
    assert set(content) == {"_hparams_/experiment", "_hparams_/session_start_info", "_hparams_/session_end_info"}
    start = plugin_data_pb2.HParamsPluginData.FromString(content["_hparams_/session_start_info"]).session_start_info
    assert start.hparams["trainer.max_updates"].number_value == 4
    assert start.hparams["model.optimizer_config.lr"].number_value == 0.01
    assert start.hparams["model.kind"].string_value == "engine_components.TokenMlp"
