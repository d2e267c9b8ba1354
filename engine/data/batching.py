"""A dataset's pipeline in its loaders: built once from config, run per micro-batch in a random state that is a
pure function of (seed, epoch, position, rank).

The sampler hands every micro-batch's indices to the loader as :class:`KeyedIndices`, which carry the seed of
that micro-batch. :class:`PipelineBatches` fetches the samples and calls the pipeline inside
:func:`random_state` of that seed, in the main process or in a worker alike: a pipeline that draws from torch's,
numpy's or Python's global generator gets the same numbers for any ``num_workers`` and after a resume, and the
main process's generators are restored afterwards (dropout in the model does not shift).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch

from noether.core.config import ConfigError, Issue
from noether.core.config.kinds import import_kind
from noether.core.schemas.pipeline import PipelineConfig

from engine.data.pipeline.errors import PipelineError

__all__ = ["EvalBatchSampler", "KeyedIndices", "PipelineBatches", "batch_as_is", "build_pipeline", "mix_seed", "random_state"]


def mix_seed(*parts: int | str) -> int:
    """A 63-bit seed derived from several values (BLAKE2b of their text), stable across platforms and versions.

    Different tuples give unrelated seeds: ``(1, 0)`` and ``(0, 1)`` do not collide the way ``seed + epoch``
    would.

    Args:
        *parts: The values the seed depends on, e.g. ``("epoch", seed, epoch)``.

    Returns:
        An integer in ``[0, 2**63)``.

    >>> mix_seed("epoch", 0, 1) == mix_seed("epoch", 0, 1) != mix_seed("epoch", 1, 0)
    True
    """
    text = ":".join(str(part) for part in parts).encode()
    return int.from_bytes(hashlib.blake2b(text, digest_size=8).digest(), "little") >> 1


def build_pipeline(config: PipelineConfig, *, path: str) -> Callable[[list[dict[str, Any]]], dict[str, Any]]:
    """Import ``config.kind`` and build it as ``cls(config)``.

    Args:
        config: The dataset's ``pipeline`` config (already structured into the class's ``config_schema``).
        path: Its config path, e.g. ``datasets.train.pipeline``, for errors.

    Returns:
        The pipeline, a callable ``pipeline(samples) -> batch``.

    Raises:
        ConfigError: The kind cannot be imported or is not callable, its construction rejects the config, or it
            built something that cannot be called; every problem with its path below ``path``.
    """
    cls = import_kind(config.kind, path=f"{path}.kind")
    if not callable(cls):
        raise ConfigError([Issue(f"{path}.kind", f"expected a pipeline class (got {type(cls).__name__} {config.kind!r})")])
    try:
        pipeline = cls(config)
    except ConfigError as exc:
        raise ConfigError([issue_below(issue, path) for issue in exc.issues]) from None
    except (ValueError, TypeError) as exc:
        raise ConfigError([Issue(path, f"{config.kind}: {exc}")]) from None
    if not callable(pipeline):
        raise ConfigError([Issue(f"{path}.kind", f"{config.kind}(config) built a {type(pipeline).__name__}, which is "
                                 "not callable; a pipeline is called as pipeline(samples) -> batch dict")])
    return pipeline


def issue_below(issue: Issue, prefix: str) -> Issue:
    """``issue`` with its path below ``prefix`` (a stage's ``collators[0].items`` below the pipeline's path)."""
    path = issue.path if issue.path.startswith(prefix) else (
        f"{prefix}{issue.path}" if issue.path.startswith("[") else f"{prefix}.{issue.path}")
    return Issue(path, issue.message, issue.location)


class KeyedIndices(list):
    """One micro-batch's dataset indices and the seed of the random state in which its pipeline runs.

    A list, so that everything that takes a sampler's index lists takes it; the seed travels with it to
    DataLoader workers.

    Args:
        indices: The dataset indices.
        seed: The micro-batch's seed.
    """

    def __init__(self, indices: Sequence[int], seed: int) -> None:
        super().__init__(indices)
        self.seed = seed
        """The seed of the micro-batch's random state."""

    def __reduce__(self) -> Any:
        return (KeyedIndices, (list(self), self.seed))


_SPARE_NUMPY_GENERATORS: list[np.random.MT19937] = []
"""Bit generators for :func:`random_state` to lend numpy's global functions (creating one costs about 200 µs)."""


@contextlib.contextmanager
def random_state(seed: int) -> Iterator[None]:
    """Run the body with Python's, numpy's and torch's (CPU) global generators seeded from ``seed``, and give
    them their previous states back afterwards.

    CUDA generators are untouched: pipelines run on CPU tensors.

    >>> with random_state(3):
    ...     first = torch.rand(2)
    >>> with random_state(3):
    ...     torch.equal(first, torch.rand(2))
    True
    """
    # numpy: swap the global bit generator for a seeded spare instead of copying its 2.5 kB state out and back
    # (get_state + set_state cost about 200 µs, the swap about 4 µs)
    saved = random.getstate(), np.random.get_bit_generator(), torch.default_generator.get_state()
    spare = _SPARE_NUMPY_GENERATORS.pop() if _SPARE_NUMPY_GENERATORS else np.random.MT19937()
    spare._legacy_seeding(seed % 2**32)  # what np.random.seed(seed) does to the global generator
    random.seed(seed)
    np.random.set_bit_generator(spare)
    torch.default_generator.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(saved[0])
        np.random.set_bit_generator(saved[1])
        torch.default_generator.set_state(saved[2])
        _SPARE_NUMPY_GENERATORS.append(spare)


class PipelineBatches(torch.utils.data.Dataset):
    """The view of a dataset that a loader with a pipeline reads: ``__getitems__(indices)`` fetches the
    samples and returns the pipeline's batch for them (the loader's ``collate_fn`` passes it on unchanged).

    Args:
        dataset: The dataset (``__getitems__`` is used when present).
        pipeline: ``pipeline(samples) -> batch``.
        where: Where the pipeline is configured, e.g. ``datasets.train.pipeline``, for errors.
    """

    def __init__(self, dataset: Any, pipeline: Callable[[list[dict[str, Any]]], Any], where: str) -> None:
        self.dataset = dataset
        """The dataset."""
        self.pipeline = pipeline
        """The pipeline."""
        self.where = where
        """Where the pipeline is configured."""

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int) -> Any:
        return self.dataset[index]

    def __getitems__(self, indices: Sequence[int]) -> dict[str, Any]:
        """The batch of the samples at ``indices``, built in the random state of ``indices.seed``."""
        fetch = getattr(self.dataset, "__getitems__", None)
        samples = fetch(list(indices)) if fetch is not None else [self.dataset[index] for index in indices]
        seed = getattr(indices, "seed", None)
        try:
            with random_state(seed) if seed is not None else contextlib.nullcontext():
                batch = self.pipeline(samples)
        except PipelineError as exc:
            raise exc.located(where=self.where, sample_indices=list(indices)) from None
        except Exception as exc:  # noqa: BLE001 - a user pipeline's error, with where it happened
            raise PipelineError(f"{type(exc).__name__}: {exc}").located(where=self.where) from exc
        if not isinstance(batch, dict):
            raise PipelineError(f"returned a {type(batch).__name__}, expected a dict (the batch)").located(
                where=self.where)
        return batch


def batch_as_is(batch: Any) -> Any:
    """The ``collate_fn`` of a loader whose dataset view already returns batches."""
    return batch


class EvalBatchSampler:
    """The batch sampler of an evaluation loader: consecutive ``batch_size`` chunks of ``indices`` (the last one
    kept when short), each a :class:`KeyedIndices` whose seed depends on (seed, batch position, rank) only, so
    that every evaluation draws the same random numbers.

    Args:
        indices: The rank's dataset indices, in order.
        batch_size: Samples per batch.
        seed: The seed of the random states.
        rank: The process's rank.

    >>> [list(batch) for batch in EvalBatchSampler(range(5), 2)]
    [[0, 1], [2, 3], [4]]
    """

    def __init__(self, indices: Sequence[int], batch_size: int, *, seed: int = 0, rank: int = 0) -> None:

        self.indices = list(indices)
        """The rank's dataset indices."""
        self.batch_size = batch_size
        """Samples per batch."""
        self._seeds = [mix_seed("pipeline-eval", seed, position, rank) for position in range(len(self))]

    def __iter__(self) -> Iterator[KeyedIndices]:
        for position, start in enumerate(range(0, len(self.indices), self.batch_size)):
            yield KeyedIndices(self.indices[start:start + self.batch_size], self._seeds[position])

    def __len__(self) -> int:
        return -(-len(self.indices) // self.batch_size)
