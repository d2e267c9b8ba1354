"""The order of training samples as a pure function of (seed, epoch), batched per optimizer update.

A run's sample order does not depend on how it got where it is: update ``u`` of a run always reads the same
samples, whether the run started at 0 or resumed at ``u``. That is what makes mid-epoch resume exact.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

from engine.data.batching import EvalBatchSampler, KeyedIndices, PipelineBatches, batch_as_is, mix_seed
from engine.data.collate import collate
from engine.data.dataset import Dataset

__all__ = ["UpdateBatchSampler", "epoch_order", "make_eval_loader", "make_train_loader", "mix_seed"]


def epoch_order(dataset_length: int, seed: int, epoch: int, shuffle: bool = True) -> torch.Tensor:
    """The order in which epoch ``epoch`` visits the dataset: a pure function of ``(seed, epoch)``.

    ``torch.randperm(dataset_length)`` drawn from a CPU ``torch.Generator`` seeded with
    ``mix_seed("epoch", seed, epoch)``; ``torch.arange(dataset_length)`` when ``shuffle`` is False.

    Args:
        dataset_length: Number of samples (>= 0).
        seed: The run's seed.
        epoch: The epoch (0-based, >= 0).
        shuffle: Permute (True) or keep the dataset's order (False).

    Returns:
        A 1-D int64 tensor holding a permutation of ``range(dataset_length)``.

    Raises:
        ValueError: ``dataset_length`` or ``epoch`` is negative.

    >>> torch.equal(epoch_order(10, seed=1, epoch=3), epoch_order(10, seed=1, epoch=3))
    True
    >>> epoch_order(4, seed=1, epoch=0, shuffle=False)
    tensor([0, 1, 2, 3])
    """
    if dataset_length < 0:
        raise ValueError(f"dataset_length must be >= 0 (got {dataset_length})")
    if epoch < 0:
        raise ValueError(f"epoch must be >= 0 (got {epoch})")
    if not shuffle:
        return torch.arange(dataset_length)
    generator = torch.Generator().manual_seed(mix_seed("epoch", seed, epoch))
    return torch.randperm(dataset_length, generator=generator)


class UpdateBatchSampler(Sampler[list[int]]):
    """Yields this rank's micro-batches for every update in ``[start_update, end_update)``.

    Update ``u`` belongs to epoch ``e = u // updates_per_epoch`` at position ``p = u % updates_per_epoch``;
    its global batch is ``epoch_order(dataset_length, seed, e, shuffle)[p * ebs:(p + 1) * ebs]``. Rank ``r``
    takes the slice ``[r * B:(r + 1) * B]`` of it (``B = ebs // world_size``) and splits it into consecutive
    micro-batches of ``micro_batch_sizes``. Each update's samples depend only on ``(seed, u)``, so a sampler
    started at any ``start_update`` yields exactly the tail of one started at 0. Samples past
    ``updates_per_epoch * ebs`` in an epoch's order are not used in that epoch (a new permutation follows).

    Args:
        dataset_length: Number of samples in the (wrapped) training dataset.
        effective_batch_size: Samples per update over all ranks.
        micro_batch_sizes: The sizes of one update's micro-batches on this rank; they sum to
            ``effective_batch_size // world_size``.
        updates_per_epoch: Updates per epoch (``updates_per_epoch * effective_batch_size <= dataset_length``).
        seed: The run's seed (the same on every rank).
        start_update: The first update to yield (e.g. the update a run resumes at).
        end_update: The update after the last one to yield.
        shuffle: Permute each epoch (True) or keep the dataset's order (False).
        rank: This process's rank.
        world_size: The number of processes.

    Raises:
        ValueError: The arguments do not fit together (message names the values).

    >>> sampler = UpdateBatchSampler(dataset_length=6, effective_batch_size=4, micro_batch_sizes=(3, 1),
    ...     updates_per_epoch=1, seed=0, start_update=0, end_update=2, shuffle=False)
    >>> list(sampler)
    [[0, 1, 2], [3], [0, 1, 2], [3]]
    """

    def __init__(
        self,
        *,
        dataset_length: int,
        effective_batch_size: int,
        micro_batch_sizes: tuple[int, ...],
        updates_per_epoch: int,
        seed: int,
        start_update: int,
        end_update: int,
        shuffle: bool = True,
        rank: int = 0,
        world_size: int = 1,
    ) -> None:
        micro_batch_sizes = tuple(int(size) for size in micro_batch_sizes)
        problems = []
        if world_size < 1 or not 0 <= rank < world_size:
            problems.append(f"rank must lie in [0, world_size) (got rank {rank}, world_size {world_size})")
        if effective_batch_size < 1 or world_size >= 1 and effective_batch_size % world_size:
            problems.append(
                f"effective_batch_size must be a positive multiple of world_size (got {effective_batch_size} "
                f"and {world_size})"
            )
        elif sum(micro_batch_sizes) != effective_batch_size // world_size or any(s < 1 for s in micro_batch_sizes):
            problems.append(
                f"micro_batch_sizes must be positive and sum to effective_batch_size // world_size = "
                f"{effective_batch_size // world_size} (got {micro_batch_sizes})"
            )
        if updates_per_epoch < 1 or updates_per_epoch * effective_batch_size > dataset_length:
            problems.append(
                f"updates_per_epoch * effective_batch_size must lie in [1, dataset_length = {dataset_length}] "
                f"(got {updates_per_epoch} * {effective_batch_size})"
            )
        if not 0 <= start_update <= end_update:
            problems.append(f"need 0 <= start_update <= end_update (got {start_update} and {end_update})")
        if problems:
            raise ValueError("; ".join(problems))
        self.dataset_length = dataset_length
        """Samples in the training dataset."""
        self.effective_batch_size = effective_batch_size
        """Samples per update over all ranks."""
        self.micro_batch_sizes = micro_batch_sizes
        """This rank's micro-batch sizes of one update."""
        self.updates_per_epoch = updates_per_epoch
        """Updates per epoch."""
        self.seed = seed
        """The run's seed."""
        self.start_update = start_update
        """The first update yielded."""
        self.end_update = end_update
        """The update after the last one yielded."""
        self.shuffle = shuffle
        """Whether each epoch is permuted."""
        self.rank = rank
        """This process's rank."""
        self.world_size = world_size
        """The number of processes."""
        self._cached: tuple[int, list[int]] | None = None

    def epoch_indices(self, epoch: int) -> list[int]:
        """``epoch_order(...)`` of ``epoch`` as a list (the last epoch asked for is cached).

        Args:
            epoch: The epoch.

        Returns:
            The epoch's order of dataset indices.
        """
        if self._cached is None or self._cached[0] != epoch:
            order = epoch_order(self.dataset_length, self.seed, epoch, self.shuffle)
            self._cached = (epoch, order.tolist())
        return self._cached[1]

    def update_indices(self, update: int) -> list[list[int]]:
        """This rank's micro-batches of one update.

        Args:
            update: The update (>= 0).

        Returns:
            One list of dataset indices per micro-batch.
        """
        epoch, position = divmod(update, self.updates_per_epoch)
        order = self.epoch_indices(epoch)
        per_rank = self.effective_batch_size // self.world_size
        start = position * self.effective_batch_size + self.rank * per_rank
        micro_batches = []
        for size in self.micro_batch_sizes:
            micro_batches.append(order[start:start + size])
            start += size
        return micro_batches

    def micro_batch_seed(self, update: int, micro_batch: int) -> int:
        """The seed of the random state in which micro-batch ``micro_batch`` of update ``update`` is collated:
        ``mix_seed("pipeline", seed, epoch, position in the epoch, rank)``.

        Args:
            update: The update.
            micro_batch: The micro-batch's index within the update.

        Returns:
            The seed (the same for any number of workers and after any resume).
        """
        epoch, position = divmod(update, self.updates_per_epoch)
        return mix_seed("pipeline", self.seed, epoch, position * len(self.micro_batch_sizes) + micro_batch, self.rank)

    def __iter__(self) -> Iterator[list[int]]:
        """Yield this rank's micro-batches of every update in ``[start_update, end_update)``, in order, each as
        :class:`~engine.data.batching.KeyedIndices` carrying its :meth:`micro_batch_seed`."""
        for update in range(self.start_update, self.end_update):
            for index, indices in enumerate(self.update_indices(update)):
                yield KeyedIndices(indices, self.micro_batch_seed(update, index))

    def __len__(self) -> int:
        """The number of micro-batches yielded: ``(end_update - start_update) * len(micro_batch_sizes)``."""
        return (self.end_update - self.start_update) * len(self.micro_batch_sizes)

    def __repr__(self) -> str:
        return (
            f"UpdateBatchSampler(updates [{self.start_update}, {self.end_update}), "
            f"effective_batch_size={self.effective_batch_size}, micro_batch_sizes={self.micro_batch_sizes}, "
            f"updates_per_epoch={self.updates_per_epoch}, seed={self.seed}, shuffle={self.shuffle}, "
            f"rank={self.rank}/{self.world_size})"
        )


def seed_worker(seed: int, rank: int, worker_id: int) -> None:
    """Seed python's ``random``, numpy's global RNG and torch in a DataLoader worker.

    The seed is ``mix_seed("worker", seed, rank, worker_id)``: the same in every run with the same
    arguments, different for every worker and rank.

    Args:
        seed: The loader's seed.
        rank: The process's rank.
        worker_id: The worker's id (the DataLoader passes it).
    """
    worker_seed = mix_seed("worker", seed, rank, worker_id)
    random.seed(worker_seed)
    torch.manual_seed(worker_seed)
    try:
        import numpy
    except ImportError:
        return
    numpy.random.seed(worker_seed % 2**32)


def make_train_loader(
    dataset: Any,
    sampler: UpdateBatchSampler,
    *,
    num_workers: int = 0,
    seed: int = 0,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader that yields the sampler's micro-batches, batched by the dataset's ``pipeline`` (see
    :mod:`engine.data.batching`) or, without one, by :func:`engine.data.collate`.

    Workers (``num_workers > 0``) are persistent and seeded with :func:`seed_worker` from
    ``(seed, sampler.rank, worker id)``; the loader's own ``torch.Generator`` is seeded with ``seed``. The
    batches (which samples, in which order) come from the sampler alone and are the same for any
    ``num_workers``.

    Args:
        dataset: The training dataset (``__getitems__`` is used when present).
        sampler: The update batch sampler.
        num_workers: Worker processes (0: load in the main process).
        seed: Seed of the workers' RNGs and of the loader's generator.
        pin_memory: Return batches in pinned memory (for faster host-to-GPU copies).

    Returns:
        The DataLoader; ``len(loader) == len(sampler)``.
    """
    pipeline = getattr(dataset, "pipeline", None)
    return DataLoader(
        PipelineBatches(dataset, pipeline, pipeline_path(dataset)) if pipeline is not None else dataset,
        batch_sampler=sampler,
        collate_fn=batch_as_is if pipeline is not None else collate,
        num_workers=num_workers,
        pin_memory=pin_memory,
        worker_init_fn=functools.partial(seed_worker, seed, sampler.rank) if num_workers > 0 else None,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=num_workers > 0,
    )


def eval_indices(dataset_length: int, rank: int = 0, world_size: int = 1) -> range:
    """The dataset indices a rank evaluates: ``range(rank, dataset_length, world_size)``.

    Gathering order: rank ``r``'s ``k``-th sample is dataset index ``k * world_size + r``. To restore dataset
    order, gather every rank's outputs padded to ``ceil(dataset_length / world_size)`` rows, stack them as
    ``[k, r]`` (e.g. ``torch.stack(gathered, dim=1).flatten(0, 1)``) and keep the first ``dataset_length`` rows.

    Args:
        dataset_length: Samples in the dataset.
        rank: This process's rank.
        world_size: The number of processes.

    Returns:
        The indices, in order.

    >>> list(eval_indices(5, rank=1, world_size=2))
    [1, 3]
    """
    if world_size < 1 or not 0 <= rank < world_size:
        raise ValueError(f"rank must lie in [0, world_size) (got rank {rank}, world_size {world_size})")
    return range(rank, dataset_length, world_size)


def pipeline_path(dataset: Any) -> str:
    """Where a dataset's pipeline is configured, for errors: ``datasets.<key>.pipeline`` (``pipeline`` when the
    dataset does not know its key)."""
    key = getattr(dataset, "dataset_key", None)
    return f"datasets.{key}.pipeline" if key is not None else "pipeline"


def make_eval_loader(
    dataset: Any, batch_size: int, *, num_workers: int = 0, rank: int = 0, world_size: int = 1, seed: int = 0
) -> DataLoader:
    """A sequential DataLoader over this rank's share of ``dataset``, the last batch kept even when short.

    Batches are built by the dataset's ``pipeline`` when it has one, each in a random state that depends on
    (``seed``, batch position, rank) only: every evaluation sees the same random draws (e.g. the same sampled
    points), whatever the number of workers.

    With ``world_size > 1`` rank ``r`` takes the indices ``i`` with ``i % world_size == r`` (see
    :func:`eval_indices` for restoring dataset order after gathering). Workers are persistent, so a loader that
    is reused for every evaluation starts its workers once.

    Args:
        dataset: The dataset to evaluate.
        batch_size: Samples per batch (>= 1).
        num_workers: Worker processes (0: load in the main process).
        rank: This process's rank.
        world_size: The number of processes.
        seed: The seed of the pipeline's random states.

    Returns:
        The DataLoader.

    Raises:
        ValueError: ``batch_size < 1`` or the rank does not fit the world size.

    >>> import torch
    >>> [batch.tolist() for batch in make_eval_loader(torch.arange(5), batch_size=2, rank=0, world_size=2)]
    [[0, 2], [4]]
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
    indices = eval_indices(len(dataset), rank, world_size)
    pipeline = getattr(dataset, "pipeline", None)
    if pipeline is not None:
        return DataLoader(
            PipelineBatches(dataset, pipeline, pipeline_path(dataset)),
            batch_sampler=EvalBatchSampler(indices, batch_size, seed=seed, rank=rank),
            collate_fn=batch_as_is,
            num_workers=num_workers,
            persistent_workers=num_workers > 0,
            generator=torch.Generator().manual_seed(0),
        )
    # engine datasets (and wrappers) yield dicts, collated by ours; anything else keeps torch's default.
    sample_collate = collate if isinstance(dataset, Dataset) else None
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=indices,
        drop_last=False,
        collate_fn=sample_collate,
        num_workers=num_workers,
        persistent_workers=num_workers > 0,
        # without its own generator, every iter() of a DataLoader draws a seed from torch's global RNG, which
        # would shift the training's random numbers (dropout, augmentation) and break bit-exact resume
        generator=torch.Generator().manual_seed(0),
    )

