"""A dataset's pipeline in its loaders: the same batches for any number of workers, draws that differ per
micro-batch and epoch but not between runs, the main process's generators left alone, evaluation loaders, and
errors that name the dataset, the stage, the item and the sample."""

from __future__ import annotations

import pathlib
import random

import numpy as np
import pytest
import torch

from engine.data import UpdateBatchSampler, make_eval_loader, make_train_loader
from engine.data.batching import KeyedIndices, PipelineBatches, random_state
from engine.data.pipeline import PipelineError
from engine.run import build_components, load_config
from pipeline_components import MODULE, pipeline_yaml

NOISY = f"{{kind: {MODULE}.NoisyPipeline, num_points: 2}}"


def datasets(tmp_path: pathlib.Path, pipeline: str = NOISY, **fields):
    config_path = tmp_path / "train.yaml"
    config_path.write_text(pipeline_yaml(tmp_path / "out", pipeline=pipeline, val_pipeline=pipeline, **fields))
    built, _, _ = build_components(load_config(config_path), torch.device("cpu"))
    return built


def sampler(length: int, *, shuffle: bool = True) -> UpdateBatchSampler:
    return UpdateBatchSampler(dataset_length=length, effective_batch_size=8, micro_batch_sizes=(4, 4),
                              updates_per_epoch=3, seed=4, start_update=0, end_update=6, shuffle=shuffle)


def train_batches(dataset, num_workers: int, *, shuffle: bool = True) -> list[dict[str, torch.Tensor]]:
    return list(make_train_loader(dataset, sampler(len(dataset), shuffle=shuffle), num_workers=num_workers, seed=4))


def assert_equal_batches(first, second):
    assert len(first) == len(second)
    for one, other in zip(first, second):
        assert one.keys() == other.keys()
        assert all(torch.equal(one[key], other[key]) for key in one)


@pytest.mark.parametrize("num_workers", [1, 2])
def test_the_same_batches_for_any_number_of_workers(tmp_path, num_workers):
    """torch, numpy and Python draws in the pipeline give bit-identical batches in workers and in the main process."""
    dataset = datasets(tmp_path)["train"]
    assert_equal_batches(train_batches(dataset, 0), train_batches(dataset, num_workers))


def test_draws_differ_per_micro_batch_and_epoch_and_repeat_between_runs(tmp_path):
    """Unshuffled, epoch 1 reads the same samples as epoch 0, with other random points; two runs draw alike."""
    dataset = datasets(tmp_path)["train"]
    batches = train_batches(dataset, 0, shuffle=False)
    epoch_0, epoch_1 = batches[:6], batches[6:]
    draws = torch.cat([batch["draws"] for batch in batches])
    assert len({tuple(row.tolist()) for row in draws[:, 1:]}) == len(draws)  # numpy and Python: all different
    assert not all(torch.equal(a["draws"], b["draws"]) for a, b in zip(epoch_0, epoch_1))
    assert_equal_batches(batches, train_batches(dataset, 0, shuffle=False))


def test_the_main_process_generators_are_left_as_they_were(tmp_path):
    """Collating in the main process does not shift torch's, numpy's or Python's random numbers (dropout)."""
    dataset = datasets(tmp_path)["train"]
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    expected = torch.rand(3), np.random.rand(), random.random()
    torch.manual_seed(1), np.random.seed(1), random.seed(1)
    train_batches(dataset, 0)
    assert torch.equal(torch.rand(3), expected[0]) and np.random.rand() == expected[1] and random.random() == expected[2]


def test_random_state_restores_after_an_error():
    torch.manual_seed(2)
    expected = torch.rand(2)
    torch.manual_seed(2)
    with pytest.raises(ZeroDivisionError), random_state(5):
        torch.rand(7)
        1 / 0  # noqa: B018
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_evaluation_loaders_use_the_pipeline_with_the_same_draws_every_time(tmp_path, num_workers):
    val = datasets(tmp_path)["val"]
    first = list(make_eval_loader(val, 4, num_workers=num_workers))
    assert [batch["x"].shape[:2] for batch in first] == [(4, 2), (4, 2), (2, 2)]
    assert_equal_batches(first, list(make_eval_loader(val, 4, num_workers=0)))
    other = list(make_eval_loader(val, 4, seed=1))
    assert not torch.equal(first[0]["draws"], other[0]["draws"])


@pytest.mark.parametrize("num_workers", [0, 2])
def test_a_bad_sample_names_dataset_stage_item_and_sample(tmp_path, num_workers):
    """Every sample lacks the item a collator needs: one line with the dataset key, the stage, the item and the
    micro-batch's first sample with its dataset index, from a worker too."""
    pipeline = ("{kind: engine.data.pipeline.MultiStagePipeline, collators: [{kind: engine.data.pipeline.PadCollator, "
                "items: [x, pressure], mask_key: mask}]}")
    dataset = datasets(tmp_path, pipeline=pipeline)["train"]
    first_index = sampler(len(dataset)).update_indices(0)[0][0]
    with pytest.raises(PipelineError) as info:
        train_batches(dataset, num_workers)
    assert str(info.value) == (
        f"datasets.train.pipeline.collators[0] (PadCollator): sample 0 (dataset index {first_index}), item "
        "'pressure': missing (the sample has 'index', 'x', 'y')")
    assert (info.value.worker_traceback is not None) == (num_workers > 0)


def test_a_pipeline_that_returns_no_dict(tmp_path):
    view = PipelineBatches([{"x": 1}], lambda samples: [1], "datasets.val.pipeline")
    with pytest.raises(PipelineError) as info:
        view.__getitems__(KeyedIndices([0], seed=1))
    assert str(info.value) == "datasets.val.pipeline: returned a list, expected a dict (the batch)"


def test_keyed_indices_are_lists_that_keep_their_seed_when_pickled():
    import pickle

    indices = pickle.loads(pickle.dumps(KeyedIndices([3, 1], seed=9)))
    assert indices == [3, 1] and indices.seed == 9


def test_the_sampler_seeds_depend_on_epoch_position_and_rank():
    one = sampler(24)
    seeds = [one.micro_batch_seed(update, index) for update in range(6) for index in range(2)]
    assert len(set(seeds)) == 12
    assert [indices.seed for indices in one] == seeds
    resumed = UpdateBatchSampler(dataset_length=24, effective_batch_size=8, micro_batch_sizes=(4, 4),
                                 updates_per_epoch=3, seed=4, start_update=4, end_update=6)
    assert [indices.seed for indices in resumed] == seeds[8:]
    other_rank = UpdateBatchSampler(dataset_length=24, effective_batch_size=8, micro_batch_sizes=(4,),
                                    updates_per_epoch=3, seed=4, start_update=0, end_update=1, rank=1, world_size=2)
    assert next(iter(other_rank)).seed != seeds[0]
