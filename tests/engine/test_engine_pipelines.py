"""Pipelines in runs: padded and concatenated batches train with exact accumulation, a user pipeline class is
configured from YAML, evaluation loaders batch with the dataset's pipeline, and a bad pipeline config is one
error line per problem before anything is written."""

from __future__ import annotations

import pathlib

import pytest
import torch

import engine
from noether.core.config import ConfigError
from pipeline_components import MODULE, PointMlp, pipeline_yaml

PAD = ("{kind: noether.data.pipeline.MultiStagePipeline, collators: [{kind: engine.data.pipeline.PadCollator, "
       "items: [x, y], mask_key: mask}]}")
CONCAT = ("{kind: engine.data.pipeline.MultiStagePipeline, collators: [{kind: "
          "noether.data.pipeline.collators.ConcatSparseTensorCollator, items: [x, y], create_batch_idx: true}]}")


def run(tmp_path: pathlib.Path, name: str, **fields) -> engine.RunResult:
    path = tmp_path / f"{name}.yaml"
    path.write_text(pipeline_yaml(tmp_path / name, **fields))
    return engine.run(path)


def final_weights(result: engine.RunResult) -> dict[str, torch.Tensor]:
    return torch.load(result.run_dir / "checkpoints" / "mlp_cp=latest_model.th", weights_only=True)["state_dict"]


@pytest.mark.parametrize(("pipeline", "layout"), [(PAD, "pad"), (CONCAT, "concat")], ids=["pad", "concat"])
@pytest.mark.parametrize("max_batch_size", [1, 3])
def test_accumulated_updates_equal_full_batch_updates(tmp_path, pipeline, layout, max_batch_size):
    """Micro-batches of 1 or 3 (+ 2) clouds of 3-9 points give the weights of full batches of 8 (float64, 6 AdamW
    updates): the per-point loss is normalised by the points of the whole update, not per micro-batch."""
    full = final_weights(run(tmp_path, "full", pipeline=pipeline, layout=layout))
    split = final_weights(run(tmp_path, "split", pipeline=pipeline, layout=layout, max_batch_size=max_batch_size))
    assert max((full[key] - split[key]).abs().max().item() for key in full) < 1e-12


def test_a_user_pipeline_class_from_yaml_is_built_with_its_own_config(tmp_path):
    result = run(tmp_path, "noisy", pipeline=f"{{kind: {MODULE}.NoisyPipeline, num_points: 3, layout: concat}}",
                 layout="concat")
    assert result.iteration.update == 6
    written = (result.run_dir / "config.yaml").read_text()
    assert f"kind: {MODULE}.NoisyPipeline" in written and "num_points: 3" in written and "layout: concat" in written


@pytest.mark.parametrize(("pipeline", "layout"), [(PAD, "pad"), (CONCAT, "concat")], ids=["pad", "concat"])
def test_offline_loss_batches_the_validation_set_with_its_pipeline(tmp_path, pipeline, layout):
    """The offline loss over clouds of different sizes equals the squared error over every point of the
    validation set, computed by hand with the final weights."""
    callbacks = "[{name: OfflineLossCallback, dataset_key: val, every_n_updates: 6, batch_size: 4}]"
    result = run(tmp_path, "val", pipeline=pipeline, val_pipeline=pipeline, layout=layout, callbacks=callbacks)
    config = engine.load_config(tmp_path / "val.yaml")
    model = PointMlp(config.model)
    model.load_state_dict(final_weights(result))
    from pipeline_components import CloudDataset

    val = CloudDataset(config.datasets["val"])
    with torch.no_grad():
        squared = torch.cat([(model(val[i]["x"]) - val[i]["y"]).square().flatten() for i in range(len(val))])
    assert result.metrics["loss/val/total"] == pytest.approx(squared.mean().item(), rel=1e-12)


def config_lines(tmp_path: pathlib.Path, pipeline: str) -> list[str]:
    path = tmp_path / "bad.yaml"
    path.write_text(pipeline_yaml(tmp_path / "out", pipeline=pipeline))
    with pytest.raises(ConfigError) as info:
        engine.run(path)
    assert not (tmp_path / "out").exists()  # nothing was written
    return str(info.value).splitlines()


@pytest.mark.parametrize(
    ("pipeline", "lines"),
    [
        ("{kind: my_missing_package.Pipeline}",
         ["datasets.train.pipeline.kind: cannot import 'my_missing_package.Pipeline': No module named "
          "'my_missing_package'  [{file}:8:85]"]),
        (f"{{kind: {MODULE}.MODULE}}",
         [f"datasets.train.pipeline.kind: expected a pipeline class (got str '{MODULE}.MODULE')  [{{file}}:8:79]"]),
        (f"{{kind: {MODULE}.NoisyPipeline, num_point: 3}}",
         ["datasets.train.pipeline.num_point: unknown key 'num_point'; did you mean 'num_points'?  [{file}:8:120]"]),
        ("{kind: engine.data.pipeline.MultiStagePipeline, collators: [{kind: engine.data.pipeline.PadCollator, "
         "itms: [x]}, {kind: engine.data.pipeline.DefaultCollator, items: [x, x]}], sample_processors: [{kind: "
         "engine.data.pipeline.PointSampling, items: [x], num_points: 0}]}",
         ["datasets.train.pipeline.collators[0]: engine.data.pipeline.PadCollator needs the argument 'items' (got "
          "itms)  [{file}:8:138]",
          "datasets.train.pipeline.collators[0].itms: engine.data.pipeline.PadCollator takes no argument 'itms'; "
          "did you mean 'items'? (it takes items, mask_key, pad_value)  [{file}:8:179]",
          "datasets.train.pipeline.collators[1].items: names an item twice (got ['x', 'x'])  [{file}:8:236]",
          "datasets.train.pipeline.sample_processors[0].num_points: must be an integer >= 1 (got 0)  [{file}:8:328]"]),
        ("{kind: engine.data.pipeline.MultiStagePipeline, collators: [{kind: engine.data.pipeline.PadCollator, "
         "items: [x], mask_key: mask}, {kind: engine.data.pipeline.DefaultCollator, items: [mask]}]}",
         ["datasets.train.pipeline.collators[1]: collators[0] (PadCollator) and collators[1] (DefaultCollator) both "
          "produce 'mask'; each key must come from one collator  [{file}:8:208]"]),
    ],
    ids=["missing kind", "not callable", "unknown field", "bad stage arguments", "overlapping collators"],
)
def test_bad_pipeline_configs(tmp_path, pipeline, lines):
    assert config_lines(tmp_path, pipeline) == [line.format(file=tmp_path / "bad.yaml") for line in lines]


def test_noether_train_prints_a_sample_the_pipeline_cannot_batch_in_one_line(tmp_path, capsys, monkeypatch):
    """Samples without the item a collator needs, loaded by two workers: one line naming the dataset, the stage,
    the sample and the item, exit status 1."""
    from engine.cli import train_main

    monkeypatch.setattr("sys.path", list(__import__("sys").path))
    pipeline = ("{kind: engine.data.pipeline.MultiStagePipeline, collators: [{kind: engine.data.pipeline.PadCollator, "
                "items: [x, pressure]}]}")
    path = tmp_path / "train.yaml"
    path.write_text(pipeline_yaml(tmp_path / "out", pipeline=pipeline, num_workers=2))
    assert train_main([str(path)]) == 1
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "noether-train: datasets.train.pipeline.collators[0] (PadCollator): sample 0 (dataset index ")
    assert lines[0].endswith("), item 'pressure': missing (the sample has 'index', 'x', 'y')")


@pytest.mark.parametrize(("pipeline", "layout"), [(PAD, "pad"), (CONCAT, "concat")], ids=["pad", "concat"])
def test_additional_outputs_are_tracked_on_padded_and_concatenated_batches(tmp_path, pipeline, layout):
    """The model's extra output of every micro-batch of the interval, averaged, as TrackAdditionalOutputs logs it."""
    from pipeline_components import RECORDED_OUTPUTS

    callbacks = ("[{name: TrackAdditionalOutputsCallback, keys: [abs_mean], every_n_updates: 3}, "
                 f"{{kind: {MODULE}.OutputsRecorder, every_n_updates: 3}}]")
    RECORDED_OUTPUTS.clear()
    result = run(tmp_path, "tracked", pipeline=pipeline, layout=layout, with_statistics=True, max_batch_size=4,
                 callbacks=callbacks)
    assert len(RECORDED_OUTPUTS) == 12  # 6 updates of 2 micro-batches
    last_interval = RECORDED_OUTPUTS[6:]
    assert result.metrics["abs_mean/U3"] == pytest.approx(sum(last_interval) / 6, rel=1e-12)
