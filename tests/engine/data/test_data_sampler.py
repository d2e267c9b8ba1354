"""Tests of engine.data.sampler: epoch order, update batches, resume, ranks, loaders."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import Dataset, UpdateBatchSampler, epoch_order, make_eval_loader, make_train_loader
from noether.core.schemas.dataset import DatasetBaseConfig


class Table(Dataset):
    """n rows of an in-memory table: x = [index, 2 * index], i = index."""

    def __init__(self, config: DatasetBaseConfig, length: int = 20) -> None:
        super().__init__(config)
        self.x = torch.arange(2 * length, dtype=torch.float32).view(length, 2)

    def __len__(self) -> int:
        return len(self.x)

    def getitem_x(self, index: int) -> torch.Tensor:
        return self.x[index]

    def getitem_i(self, index: int) -> int:
        return index


def sampler(**overrides) -> UpdateBatchSampler:
    arguments = dict(
        dataset_length=23, effective_batch_size=6, micro_batch_sizes=(4, 2), updates_per_epoch=3, seed=5,
        start_update=0, end_update=10,
    )
    return UpdateBatchSampler(**(arguments | overrides))


def test_epoch_order_pinned_values():
    """The epoch order for a given (seed, epoch) is pinned: changing it would break resuming old runs."""
    assert epoch_order(8, seed=0, epoch=0).tolist() == [3, 6, 5, 1, 0, 4, 2, 7]
    assert epoch_order(8, seed=0, epoch=1).tolist() == [4, 0, 2, 3, 6, 5, 1, 7]
    assert epoch_order(8, seed=1, epoch=0).tolist() == [3, 2, 0, 6, 7, 4, 5, 1]


def test_epoch_order_is_a_pure_function_of_seed_and_epoch():
    """The same (seed, epoch) gives the same permutation whatever the global RNG state."""
    first = epoch_order(50, seed=3, epoch=2)
    torch.manual_seed(123)
    torch.rand(10)
    assert torch.equal(epoch_order(50, seed=3, epoch=2), first)
    assert sorted(first.tolist()) == list(range(50))
    assert not torch.equal(epoch_order(50, seed=3, epoch=3), first)


def test_epoch_order_without_shuffle_is_arange():
    """Without shuffling every epoch visits the dataset in order."""
    assert epoch_order(5, seed=9, epoch=4, shuffle=False).tolist() == [0, 1, 2, 3, 4]


def test_update_batches_follow_the_epoch_order():
    """Update u reads order_e[p * ebs:(p + 1) * ebs], split into the micro-batch sizes."""
    batches = list(sampler())
    order0, order1 = epoch_order(23, 5, 0).tolist(), epoch_order(23, 5, 1).tolist()
    assert batches[0] == order0[0:4] and batches[1] == order0[4:6]
    assert batches[4] == order0[12:16] and batches[5] == order0[16:18]
    assert batches[6] == order1[0:4] and batches[7] == order1[4:6]
    assert len(batches) == len(sampler()) == 20


def test_micro_batch_split_with_uneven_sizes():
    """Micro-batches are consecutive chunks of the update's indices in the given sizes."""
    plain = UpdateBatchSampler(
        dataset_length=10, effective_batch_size=5, micro_batch_sizes=(2, 2, 1), updates_per_epoch=2, seed=0,
        start_update=0, end_update=2, shuffle=False,
    )
    assert list(plain) == [[0, 1], [2, 3], [4], [5, 6], [7, 8], [9]]
    assert len(plain) == 6


@settings(max_examples=30, deadline=None)
@given(start_update=st.integers(min_value=0, max_value=10))
def test_resume_at_any_update_is_the_tail(start_update):
    """A sampler started at any update yields exactly the tail of a run started at 0."""
    full = list(sampler())
    assert list(sampler(start_update=start_update)) == full[start_update * 2:]


def test_two_ranks_cover_the_global_batch_of_each_update():
    """Rank 0 then rank 1 of each update together are exactly the single-process batch of that update."""
    single = UpdateBatchSampler(
        dataset_length=30, effective_batch_size=8, micro_batch_sizes=(8,), updates_per_epoch=3, seed=1,
        start_update=0, end_update=7,
    )
    ranks = [
        UpdateBatchSampler(
            dataset_length=30, effective_batch_size=8, micro_batch_sizes=(3, 1), updates_per_epoch=3, seed=1,
            start_update=0, end_update=7, rank=rank, world_size=2,
        )
        for rank in (0, 1)
    ]
    per_rank = [list(r) for r in ranks]
    for update, global_batch in enumerate(single):
        joined = [index for rank in (0, 1) for micro in per_rank[rank][2 * update:2 * update + 2] for index in micro]
        assert joined == global_batch


def test_sampler_rejects_inconsistent_arguments():
    """Arguments that do not fit together are reported all at once."""
    with pytest.raises(ValueError) as info:
        sampler(micro_batch_sizes=(4, 4), updates_per_epoch=4, start_update=11)
    assert str(info.value) == (
        "micro_batch_sizes must be positive and sum to effective_batch_size // world_size = 6 (got (4, 4)); "
        "updates_per_epoch * effective_batch_size must lie in [1, dataset_length = 23] (got 4 * 6); "
        "need 0 <= start_update <= end_update (got 11 and 10)"
    )


def train_batches(num_workers: int) -> list[dict]:
    dataset = Table(DatasetBaseConfig(kind="tests.Table"))
    batches = sampler(dataset_length=20, end_update=4)
    return list(make_train_loader(dataset, batches, num_workers=num_workers, seed=3))


def test_train_loader_batches_match_the_sampler():
    """Each loader batch holds the sampler's micro-batch, collated."""
    batches = train_batches(num_workers=0)
    expected = list(sampler(dataset_length=20, end_update=4))
    assert [batch["i"].tolist() for batch in batches] == expected
    assert batches[0]["x"].shape == (4, 2) and batches[0]["x"][:, 0].tolist() == [2.0 * i for i in expected[0]]


def test_two_workers_give_the_same_batches_as_none():
    """num_workers=2 yields the same batches, in the same order, as loading in the main process."""
    zero, two = train_batches(num_workers=0), train_batches(num_workers=2)
    assert len(zero) == len(two) == 8
    for a, b in zip(zero, two):
        assert torch.equal(a["x"], b["x"]) and torch.equal(a["i"], b["i"])


def test_eval_loader_is_sequential_and_keeps_the_last_batch():
    """A single-process eval loader visits every index in order, the last batch short."""
    dataset = Table(DatasetBaseConfig(kind="tests.Table"), length=5)
    assert [batch["i"].tolist() for batch in make_eval_loader(dataset, batch_size=2)] == [[0, 1], [2, 3], [4]]


def test_eval_loader_ranks_interleave():
    """With two ranks, rank r takes the indices i with i % 2 == r, together covering the dataset once."""
    dataset = Table(DatasetBaseConfig(kind="tests.Table"), length=5)
    shares = [
        [i for batch in make_eval_loader(dataset, batch_size=2, rank=rank, world_size=2) for i in batch["i"].tolist()]
        for rank in (0, 1)
    ]
    assert shares == [[0, 2, 4], [1, 3]]


class Noisy(Table):
    """Draws from torch's global RNG in getitem_, like a random augmentation."""

    def getitem_noise(self, index: int) -> torch.Tensor:
        return torch.rand(1)


def test_worker_rngs_are_seeded_from_the_loader_seed():
    """Random draws inside two workers repeat exactly for the same seed and differ for another seed."""
    def noise(seed: int) -> torch.Tensor:
        dataset = Noisy(DatasetBaseConfig(kind="tests.Noisy"), length=8)
        batches = UpdateBatchSampler(
            dataset_length=8, effective_batch_size=4, micro_batch_sizes=(4,), updates_per_epoch=2, seed=0,
            start_update=0, end_update=2,
        )
        return torch.cat([batch["noise"] for batch in make_train_loader(dataset, batches, num_workers=2, seed=seed)])

    first = noise(seed=1)
    assert torch.equal(noise(seed=1), first)
    assert not torch.equal(noise(seed=2), first)
