"""Gradient accumulation in ``engine.run``: time per update and how far the weights drift from one full batch.

One update of 64 samples (``effective_batch_size: 64``) split by ``max_batch_size`` 64 / 16 / 24 / 1 into the
micro-batches 1x64, 4x16, 3x(24, 24, 16) and 64x1, on the MLP of ``bench_engine_overhead.py``
(``Linear(64, w) - GELU - Linear(w, w) - GELU - Linear(w, 1)``, default width 32), MSE, AdamW (lr 1e-3),
one torch thread, default callbacks, tracker disabled (the accumulation is measured, not the logging).

1. Time per update: wall clock of the training loop alone (``benchmarks/_components.py: LoopClock``: from
   the last ``before_training`` hook to the last hook of the last update), ``--updates`` updates per measurement,
   the splits measured in turn, ``--repeats`` times, medians; ratios against 1x64.
2. Equivalence: every split trains 10 updates from the same initial weights on the same samples (the engine's
   sample order depends only on the seed and the update), in float32 and in float64 (model and data); printed
   is the largest absolute parameter difference against the 1x64 run, and the same relative to the largest
   parameter magnitude. Targets: 1e-6 in float32, 1e-12 in float64.

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_grad_accum.py [--quick] [--width 32]``.
This is a script, not a test: it never fails on a time or a difference.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

import engine  # noqa: E402
from benchmarks import _components as components  # noqa: E402
from engine import demos  # noqa: E402
from noether.core.schemas import BaseTrainerConfig, ConfigSchema  # noqa: E402
from noether.core.schemas.optimizers import OptimizerConfig  # noqa: E402

IN_FEATURES = 64
EFFECTIVE_BATCH = 64
SPLITS = {"1x64": 64, "4x16": 16, "3x(24,24,16)": 24, "64x1": 1}
"""Label -> ``max_batch_size``."""
EQUIVALENCE_UPDATES = 10
TARGETS = {"float32": 1e-6, "float64": 1e-12}


def config(max_batch_size: int, updates: int, width: int, dtype: str, samples: int,
           output_path: pathlib.Path) -> ConfigSchema:
    prefix = components.__name__
    return ConfigSchema(
        name="bench_grad_accum",
        accelerator="cpu",
        seed=0,
        output_path=output_path,
        tracker=None,
        datasets={"train": demos.RegressionConfig(kind="engine.demos.Regression", num_samples=samples,
                                                  in_features=IN_FEATURES, dtype=dtype)},
        model=demos.MlpConfig(kind="engine.demos.Mlp", name="mlp", in_features=IN_FEATURES, width=width, dtype=dtype,
                              optimizer_config=OptimizerConfig(kind="torch.optim.AdamW", lr=1e-3),
                              forward_properties=("x",)),
        trainer=BaseTrainerConfig(kind=f"{prefix}.MSETrainer", max_updates=updates,
                                  effective_batch_size=EFFECTIVE_BATCH, max_batch_size=max_batch_size,
                                  target_properties=("y",)),
    )


def run(run_config: ConfigSchema) -> tuple[float, dict[str, torch.Tensor], tuple[int, ...]]:
    """Seconds per update of the training loop, the final weights and the micro-batch sizes of one update."""
    components.CLOCK.clear()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        result = engine.run(run_config)
    shutil.rmtree(result.run_dir)
    updates = result.iteration.update
    seconds = (components.CLOCK["stop"] - components.CLOCK["start"]) / updates
    trainer = run_config.trainer
    sizes = [trainer.max_batch_size] * (EFFECTIVE_BATCH // trainer.max_batch_size)
    if EFFECTIVE_BATCH % trainer.max_batch_size:
        sizes.append(EFFECTIVE_BATCH % trainer.max_batch_size)
    return seconds, dict(components.FINAL_STATE), tuple(sizes)


def max_difference(state: dict[str, torch.Tensor], reference: dict[str, torch.Tensor]) -> tuple[float, float]:
    """Largest absolute difference over all parameters, and that divided by the largest reference magnitude."""
    absolute = max((state[key] - reference[key]).abs().max().item() for key in reference)
    scale = max(value.abs().max().item() for value in reference.values())
    return absolute, absolute / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few updates, 1 repeat")
    parser.add_argument("--updates", type=int, default=None, help="updates per timed measurement (default 200)")
    parser.add_argument("--repeats", type=int, default=None, help="timed measurements per split (default 5)")
    parser.add_argument("--width", type=int, default=32, help="hidden width of the MLP (default 32)")
    parser.add_argument("--samples", type=int, default=EFFECTIVE_BATCH * 200, help="dataset size (default 64 * 200)")
    args = parser.parse_args()
    updates = args.updates or (5 if args.quick else 200)
    repeats = args.repeats or (1 if args.quick else 5)
    torch.set_num_threads(1)
    print(f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs "
          f"({platform.machine()}, {platform.system()}), torch threads {torch.get_num_threads()}")
    print(f"MLP width {args.width}, effective batch {EFFECTIVE_BATCH}, {updates} updates per timing, {repeats} "
          f"repeats (medians), default callbacks, no tracker; equivalence after {EQUIVALENCE_UPDATES} AdamW updates\n")

    output_path = pathlib.Path(tempfile.mkdtemp(prefix="bench_grad_accum_"))
    try:
        times: dict[str, list[float]] = {label: [] for label in SPLITS}
        sizes: dict[str, tuple[int, ...]] = {}
        for label, max_batch in SPLITS.items() if not args.quick else ():  # warm-up
            run(config(max_batch, min(updates, 5), args.width, "float32", args.samples, output_path))
        for _ in range(repeats):
            for label, max_batch in SPLITS.items():
                seconds, _, sizes[label] = run(config(max_batch, updates, args.width, "float32", args.samples,
                                                      output_path))
                times[label].append(seconds)
        differences: dict[str, dict[str, tuple[float, float]]] = {label: {} for label in SPLITS}
        for dtype in ("float32", "float64"):
            states = {label: run(config(max_batch, EQUIVALENCE_UPDATES, args.width, dtype, args.samples,
                                        output_path))[1] for label, max_batch in SPLITS.items()}
            reference = states["1x64"]
            for label, state in states.items():
                differences[label][dtype] = max_difference(state, reference)

        base = statistics.median(times["1x64"])
        print("| split (max_batch_size) | micro-batches | ms/update | vs 1x64 | µs per extra micro-batch "
              "| max abs diff float32 | relative | max abs diff float64 | relative |")
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
        for label, max_batch in SPLITS.items():
            median = statistics.median(times[label])
            count = len(sizes[label])
            extra = f"{(median - base) / (count - 1) * 1e6:.0f}" if count > 1 else "-"
            d32, d64 = differences[label]["float32"], differences[label]["float64"]
            print(f"| {label} ({max_batch}) | {list(sizes[label]) if count <= 4 else f'{count} x 1'} | "
                  f"{median * 1e3:.3f} | {median / base:.2f}x | {extra} | {d32[0]:.1e} | {d32[1]:.1e} | "
                  f"{d64[0]:.1e} | {d64[1]:.1e} |")
        for dtype, target in TARGETS.items():
            worst = max(differences[label][dtype][0] for label in SPLITS)
            print(f"\n{dtype}: largest difference {worst:.1e}, target {target:.0e}: "
                  f"{'met' if worst <= target else '**not met**'}", end="")
        print()
    finally:
        shutil.rmtree(output_path, ignore_errors=True)


if __name__ == "__main__":
    main()
