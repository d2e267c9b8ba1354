"""Data pipelines: micro-batches per second of pad / concat / point-sampling pipelines beside Noether's way.

The data: an in-memory ``engine.data.Dataset`` of 64 point clouds, sample ``i`` holding ``position``
(``n_i x 3`` float32) and ``pressure`` (``n_i x 1`` float32) with ``n_i`` drawn from [2,000, 20,000] (seed 1);
the dataset hands out the same tensors on every fetch (a cached sample, what Noether's deep copy guards
against). Micro-batches of 8 samples, 8 per pass over the dataset, one torch thread.

Three pipelines, each written three ways:

- ours: ``engine.data.pipeline.MultiStagePipeline`` with
  pad: ``PadCollator(items=["position", "pressure"], mask_key="mask")``;
  concat: ``ConcatCollator(items=[...], batch_index_key="batch_idx")``;
  point sampling: ``PointSampling(items=[...], num_points=2048)`` then ``DefaultCollator(items=[...])``.
- Noether's way (the reference below, ``NoetherWayPipeline``): a ``copy.deepcopy`` of every sample before the
  sample processors, processors that shallow-copy the dict, and per-sample collation: pad each sample with
  ``torch.nn.functional.pad`` to the longest and stack with ``default_collate`` (the mask likewise); concat with
  ``torch.concat`` and a batch index filled slice by slice in a Python loop; ``default_collate`` after
  point sampling.
- plain DataLoader: ``torch.utils.data.DataLoader(dataset, batch_size=8, collate_fn=...)`` with the collate a
  user writes without a framework (``pad_sequence``; ``torch.cat`` + ``repeat_interleave``; ``randperm`` per
  sample + ``torch.stack``), ``num_workers=0``.

Timed per micro-batch: the pipeline call on already fetched samples (ours, Noether's way), and a whole
``num_workers=0`` loader (fetch, pipeline, DataLoader machinery): ours through ``engine.data.make_train_loader``
with the pipeline attached (``dataset.pipeline``, which adds the per-micro-batch ``random_state``), and the
plain DataLoader. The sides are measured in turn, ``--repeats`` times, ``--passes`` passes over the dataset
each, after one warm-up; medians, ratios of the medians. Before timing, the script checks that ours, Noether's
way, the hand collate and the loader build equal batches (same seeds for point sampling) and stops if not.
Target: Noether's way / ours >= 3x for every pipeline.

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_pipeline.py [--quick]``.
This is a script, not a test: it never fails on a time.
"""

from __future__ import annotations

import argparse
import copy
import os
import pathlib
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402, N812
from torch.utils.data import DataLoader, RandomSampler, default_collate  # noqa: E402

from engine.data import Dataset, UpdateBatchSampler, make_train_loader  # noqa: E402
from engine.data.batching import random_state  # noqa: E402
from engine.data.pipeline import (  # noqa: E402
    ConcatCollator,
    DefaultCollator,
    MultiStagePipeline,
    PadCollator,
    PointSampling,
)
from noether.core.schemas.dataset import DatasetBaseConfig  # noqa: E402

NUM_SAMPLES = 64
MIN_POINTS, MAX_POINTS = 2_000, 20_000
SEED = 1
"""Seed of the sample sizes; its smallest sample has 2,104 points, more than ``NUM_POINTS`` (seed 0's has 2,042,
which point sampling would keep whole, and the sampled batch could not be stacked)."""
MICRO_BATCH = 8
NUM_POINTS = 2048
ITEMS = ("position", "pressure")
TARGET = 3.0
"""Noether's way / ours, at least, for every pipeline."""


class PointClouds(Dataset):
    """64 in-memory point clouds; every fetch returns the same tensor objects."""

    def __init__(self, config: DatasetBaseConfig, positions: list[torch.Tensor], pressures: list[torch.Tensor]) -> None:
        self._positions = positions
        self._pressures = pressures
        super().__init__(config)

    def __len__(self) -> int:
        return len(self._positions)

    def getitem_position(self, index: int) -> torch.Tensor:
        return self._positions[index]

    def getitem_pressure(self, index: int) -> torch.Tensor:
        return self._pressures[index]


def make_data() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(SEED)
    sizes = torch.randint(MIN_POINTS, MAX_POINTS + 1, (NUM_SAMPLES,), generator=generator).tolist()
    positions = [torch.randn(n, 3, generator=generator) for n in sizes]
    pressures = [torch.randn(n, 1, generator=generator) for n in sizes]
    return positions, pressures


def make_dataset(data: tuple[list[torch.Tensor], list[torch.Tensor]], pipeline: Any = None) -> PointClouds:
    dataset = PointClouds(DatasetBaseConfig(kind=f"{__name__}.PointClouds"), *data)
    if pipeline is not None:
        dataset.pipeline = pipeline
        dataset.dataset_key = "train"
    return dataset


# ---------------------------------------------------------------------------------------------------------------
# Ours.


def ours() -> dict[str, MultiStagePipeline]:
    return {
        "pad": MultiStagePipeline(collators=[PadCollator(items=list(ITEMS), mask_key="mask")]),
        "concat": MultiStagePipeline(collators=[ConcatCollator(items=list(ITEMS), batch_index_key="batch_idx")]),
        "point sampling": MultiStagePipeline(sample_processors=[PointSampling(items=list(ITEMS), num_points=NUM_POINTS)],
                                             collators=[DefaultCollator(items=list(ITEMS))]),
    }


# ---------------------------------------------------------------------------------------------------------------
# Noether's way: the reference implementation.


class NoetherWayPipeline:
    """A deep copy of every sample, then the sample processors one sample at a time, then the collators."""

    def __init__(self, sample_processors: list[Callable], collators: list[Callable]) -> None:
        self.sample_processors = sample_processors
        self.collators = collators

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        samples = [copy.deepcopy(sample) for sample in samples]
        for processor in self.sample_processors:
            samples = [processor(sample) for sample in samples]
        batch: dict[str, Any] = {}
        for collator in self.collators:
            batch.update(collator(samples))
        return batch


def noether_point_sampling(sample: dict[str, Any]) -> dict[str, Any]:
    """Shallow-copy the sample, keep the same ``NUM_POINTS`` random rows of every item."""
    out = dict(sample)
    keep = torch.randperm(len(out[ITEMS[0]]))[:NUM_POINTS]
    for item in ITEMS:
        out[item] = out[item][keep]
    return out


def noether_default_collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    return {item: default_collate([sample[item] for sample in samples]) for item in ITEMS}


def noether_pad_collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Pad every sample to the longest with ``F.pad``, a mask per sample, stack each list with ``default_collate``."""
    lengths = [len(sample[ITEMS[0]]) for sample in samples]
    longest = max(lengths)
    batch = {}
    for item in ITEMS:
        padded = [F.pad(sample[item], (0, 0, 0, longest - length)) for sample, length in zip(samples, lengths)]
        batch[item] = default_collate(padded)
    masks = []
    for length in lengths:
        mask = torch.zeros(longest, dtype=torch.bool)
        mask[:length] = True
        masks.append(mask)
    batch["mask"] = default_collate(masks)
    return batch


def noether_concat_collate(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """``torch.concat`` per item, the batch index filled one sample's slice at a time."""
    batch = {item: torch.concat([sample[item] for sample in samples]) for item in ITEMS}
    lengths = [len(sample[ITEMS[0]]) for sample in samples]
    batch_idx = torch.empty(sum(lengths), dtype=torch.long)
    start = 0
    for index, length in enumerate(lengths):
        batch_idx[start:start + length] = index
        start += length
    batch["batch_idx"] = batch_idx
    return batch


def noethers_way() -> dict[str, NoetherWayPipeline]:
    return {
        "pad": NoetherWayPipeline([], [noether_pad_collate]),
        "concat": NoetherWayPipeline([], [noether_concat_collate]),
        "point sampling": NoetherWayPipeline([noether_point_sampling], [noether_default_collate]),
    }


# ---------------------------------------------------------------------------------------------------------------
# What a user writes without a framework.


def hand_pad(samples: list[dict[str, Any]]) -> dict[str, Any]:
    batch = {item: torch.nn.utils.rnn.pad_sequence([s[item] for s in samples], batch_first=True) for item in ITEMS}
    lengths = torch.tensor([len(s[ITEMS[0]]) for s in samples])
    batch["mask"] = torch.arange(int(lengths.max())) < lengths[:, None]
    return batch


def hand_concat(samples: list[dict[str, Any]]) -> dict[str, Any]:
    batch = {item: torch.cat([s[item] for s in samples]) for item in ITEMS}
    lengths = torch.tensor([len(s[ITEMS[0]]) for s in samples])
    batch["batch_idx"] = torch.repeat_interleave(torch.arange(len(samples)), lengths)
    return batch


def hand_point_sampling(samples: list[dict[str, Any]]) -> dict[str, Any]:
    keeps = [torch.randperm(len(s[ITEMS[0]]))[:NUM_POINTS] for s in samples]
    return {item: torch.stack([s[item][keep] for s, keep in zip(samples, keeps)]) for item in ITEMS}


HAND = {"pad": hand_pad, "concat": hand_concat, "point sampling": hand_point_sampling}


# ---------------------------------------------------------------------------------------------------------------
# Checks and timing.


def check_equal(label: str, got: dict[str, Any], expected: dict[str, Any]) -> None:
    """Stop the script unless the two batches have the same keys, dtypes, shapes and values."""
    if sorted(got) != sorted(expected):
        raise AssertionError(f"{label}: keys {sorted(got)} != {sorted(expected)}")
    for key in expected:
        a, b = got[key], expected[key]
        if a.dtype != b.dtype or a.shape != b.shape or not torch.equal(a, b):
            raise AssertionError(f"{label}: {key!r} differs ({a.dtype} {tuple(a.shape)} against {b.dtype} "
                                 f"{tuple(b.shape)})")


def sampler(passes: int) -> UpdateBatchSampler:
    """One micro-batch of 8 per update, 8 updates per pass."""
    per_pass = NUM_SAMPLES // MICRO_BATCH
    return UpdateBatchSampler(dataset_length=NUM_SAMPLES, effective_batch_size=MICRO_BATCH,
                              micro_batch_sizes=(MICRO_BATCH,), updates_per_epoch=per_pass, seed=0,
                              start_update=0, end_update=passes * per_pass)


def plain_loader(dataset: PointClouds, collate_fn: Callable, passes: int) -> DataLoader:
    generator = torch.Generator().manual_seed(0)
    return DataLoader(dataset, batch_size=MICRO_BATCH, collate_fn=collate_fn, drop_last=True,
                      sampler=RandomSampler(dataset, num_samples=passes * NUM_SAMPLES, generator=generator))


def check(data: tuple[list[torch.Tensor], list[torch.Tensor]]) -> None:
    """Ours, Noether's way and the hand collate give equal batches; so does ours through make_train_loader."""
    dataset = make_dataset(data)
    noether = noethers_way()
    for name, pipeline in ours().items():
        for start in range(0, NUM_SAMPLES, MICRO_BATCH):
            samples = dataset.__getitems__(list(range(start, start + MICRO_BATCH)))
            torch.manual_seed(start)
            batch = pipeline(samples)
            torch.manual_seed(start)
            check_equal(f"{name}: Noether's way", noether[name](samples), batch)
            torch.manual_seed(start)
            check_equal(f"{name}: hand collate", HAND[name](samples), batch)
        for sample, position in zip(samples, data[0][start:]):
            if sample["position"] is not position:
                raise AssertionError(f"{name}: the pipeline replaced a sample's tensor")
        batch_sampler = sampler(1)
        loader = make_train_loader(make_dataset(data, pipeline), batch_sampler)
        for update, loaded in enumerate(loader):
            indices = batch_sampler.update_indices(update)[0]
            with random_state(batch_sampler.micro_batch_seed(update, 0)):
                expected = pipeline(dataset.__getitems__(indices))
            check_equal(f"{name}: make_train_loader", loaded, expected)


def per_call(fn: Callable[[list[dict[str, Any]]], Any], micro_batches: list[list[dict[str, Any]]],
             passes: int) -> float:
    """Seconds per micro-batch of ``fn`` over already fetched micro-batches."""
    start = time.perf_counter()
    for _ in range(passes):
        for samples in micro_batches:
            fn(samples)
    return (time.perf_counter() - start) / (passes * len(micro_batches))


def per_loaded(make_loader: Callable[[], DataLoader]) -> float:
    """Seconds per micro-batch of iterating a loader (built before the clock starts; its iterator after)."""
    loader = make_loader()
    start = time.perf_counter()
    count = sum(1 for _ in loader)
    return (time.perf_counter() - start) / count


def random_state_cost(calls: int) -> float:
    """Seconds per enter + exit of ``random_state`` with an empty body."""
    start = time.perf_counter()
    for seed in range(calls):
        with random_state(seed):
            pass
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 passes, 2 repeats")
    parser.add_argument("--passes", type=int, default=None, help="passes over the dataset per timing (default 20)")
    parser.add_argument("--repeats", type=int, default=None, help="timed measurements per side (default 7)")
    args = parser.parse_args()
    passes = args.passes or (2 if args.quick else 20)
    repeats = args.repeats or (2 if args.quick else 7)
    torch.set_num_threads(1)

    data = make_data()
    sizes = [len(position) for position in data[0]]
    if min(sizes) < NUM_POINTS:
        raise SystemExit(f"the smallest sample has {min(sizes)} points, fewer than num_points {NUM_POINTS}")
    check(data)

    print(f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs "
          f"({platform.machine()}, {platform.system()}), torch threads {torch.get_num_threads()}")
    print(f"{NUM_SAMPLES} samples of {min(sizes):,}-{max(sizes):,} points (mean {statistics.mean(sizes):,.0f}; "
          f"position n x 3, pressure n x 1, float32), micro-batches of {MICRO_BATCH}, point sampling to "
          f"{NUM_POINTS}; {passes} passes ({passes * NUM_SAMPLES // MICRO_BATCH} micro-batches) per timing, "
          f"{repeats} repeats per side (medians). Batches checked equal: ours, Noether's way, hand collate, "
          "make_train_loader.\n")

    dataset = make_dataset(data)
    order = torch.randperm(NUM_SAMPLES, generator=torch.Generator().manual_seed(0)).tolist()
    micro_batches = [dataset.__getitems__(order[start:start + MICRO_BATCH])
                     for start in range(0, NUM_SAMPLES, MICRO_BATCH)]
    mine, noether = ours(), noethers_way()
    sides: dict[str, dict[str, Callable[[], float]]] = {}
    for name in mine:
        loaded = make_dataset(data, mine[name])
        sides[name] = {
            "ours": lambda p=mine[name]: per_call(p, micro_batches, passes),
            "noether": lambda p=noether[name]: per_call(p, micro_batches, passes),
            "loader": lambda d=loaded: per_loaded(lambda: make_train_loader(d, sampler(passes))),
            "plain": lambda c=HAND[name]: per_loaded(lambda: plain_loader(dataset, c, passes)),
        }
    for timers in sides.values():  # warm-up
        for timer in timers.values():
            timer()
    times = {name: {side: [] for side in timers} for name, timers in sides.items()}
    state_times = []
    for _ in range(repeats):
        for name, timers in sides.items():
            for side, timer in timers.items():
                times[name][side].append(timer())
        state_times.append(random_state_cost(passes * 50))

    print("| pipeline | ours µs/micro-batch | ours micro-batches/s | Noether's way µs | Noether / ours | target "
          "| ours via make_train_loader µs | plain DataLoader µs | make_train_loader / plain |")
    print("|---|---:|---:|---:|---:|---|---:|---:|---:|")
    ratios = {}
    for name, sided in times.items():
        median = {side: statistics.median(values) for side, values in sided.items()}
        ratios[name] = median["noether"] / median["ours"]
        verdict = f">= {TARGET:.0f}x: {'met' if ratios[name] >= TARGET else '**not met**'}"
        print(f"| {name} | {median['ours'] * 1e6:.0f} | {1 / median['ours']:,.0f} | {median['noether'] * 1e6:.0f} | "
              f"{ratios[name]:.2f}x | {verdict} | {median['loader'] * 1e6:.0f} | {median['plain'] * 1e6:.0f} | "
              f"{median['loader'] / median['plain']:.2f}x |")
    print(f"\n`random_state(seed)` enter + exit alone (Python, numpy and torch CPU generators saved, seeded and "
          f"restored), once per micro-batch in make_train_loader: {statistics.median(state_times) * 1e6:.1f} µs "
          f"(median of {repeats} x {passes * 50} calls)")


if __name__ == "__main__":
    main()
