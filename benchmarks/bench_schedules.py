"""What one schedule evaluation costs, per kind, next to torch's lr schedulers measured in the same run.

Prints three tables:

1. every schedule kind through ``make_schedule``: median ns per evaluation, and the median time to evaluate
   a whole 10^6-step curve;
2. the same curve built from torch schedulers (``LambdaLR`` with a cosine lambda; ``SequentialLR`` of
   ``LinearLR`` and ``CosineAnnealingLR`` for warmup + cosine), stepped once per update, with
   ``optimizer.step()`` left out of the timing, beside ours (value only, and value written into the param
   group as torch does), with ratios;
3. the largest absolute difference between the two curves where they define the same one.

Usage: ``PYTHONPATH=. python benchmarks/bench_schedules.py [--steps 10000] [--repeats 15]``. Timings are
medians of repeated runs (``time.perf_counter_ns``, garbage collection off while timing); they include the
cost of the ``for`` loop itself, shown as its own row. This is a script, not a test: it never fails on a time.
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
import typing
import warnings
from collections.abc import Callable

import torch

from noether.core.schedules import make_schedule
from noether.core.schemas.schedules import (
    AnyScheduleConfig,
    ConstantScheduleConfig,
    CosineDecreasingScheduleConfig,
    CosineIncreasingScheduleConfig,
    CustomScheduleConfig,
    DecreasingProgressScheduleConfig,
    IncreasingProgressScheduleConfig,
    LinearDecreasingScheduleConfig,
    LinearIncreasingScheduleConfig,
    LinearWarmupCosineDecayScheduleConfig,
    PeriodicBoolScheduleConfig,
    PolynomialDecreasingScheduleConfig,
    PolynomialIncreasingScheduleConfig,
    ProgressScheduleConfig,
    SchedulerConfig,
    StepDecreasingScheduleConfig,
    StepFixedScheduleConfig,
    StepIntervalScheduleConfig,
)

LR = 1e-3
CURVE_STEPS = 10**6


def example_configs(total_steps: int) -> dict[str, AnyScheduleConfig]:
    """One representative config per kind (a custom list as long as the longest run timed)."""
    configs: list[AnyScheduleConfig] = [
        ProgressScheduleConfig(start_value=0.0, end_value=LR),
        DecreasingProgressScheduleConfig(max_value=LR),
        IncreasingProgressScheduleConfig(max_value=LR),
        LinearDecreasingScheduleConfig(max_value=LR, exclude_last=True),
        LinearIncreasingScheduleConfig(max_value=LR, exclude_first=True),
        CosineDecreasingScheduleConfig(max_value=LR, end_value=1e-6),
        CosineIncreasingScheduleConfig(start_value=1e-6, max_value=LR),
        PolynomialDecreasingScheduleConfig(max_value=LR, power=2.0),
        PolynomialIncreasingScheduleConfig(max_value=LR, power=2.0),
        StepDecreasingScheduleConfig(max_value=LR, factor=0.1, decreases_interval=0.3),
        StepFixedScheduleConfig(start_value=LR, factor=0.1, steps=(0.5, 0.75, 0.9)),
        StepIntervalScheduleConfig(start_value=LR, factor=0.5, update_interval=0.2),
        ConstantScheduleConfig(value=LR),
        CustomScheduleConfig(values=tuple(LR * (1 - k / total_steps) for k in range(total_steps))),
        LinearWarmupCosineDecayScheduleConfig(warmup_percent=0.05, max_value=LR, end_value=1e-6),
        SchedulerConfig(warmup_percent=0.05, max_value=LR, end_value=1e-6),
        PeriodicBoolScheduleConfig(initial_state=True, on_duration=3, off_duration=2),
    ]
    by_name = {type(config).__name__: config for config in configs}
    missing = {kind.__name__ for kind in typing.get_args(AnyScheduleConfig)} - set(by_name)
    if missing:
        print(f"note: no example for {sorted(missing)}; add one to example_configs")
    return by_name


def median_ns(run: Callable[[], int], repeats: int) -> float:
    """Median over ``repeats`` of ``run()``'s time divided by the count it returns (ns per item)."""
    samples = []
    for _ in range(repeats):
        gc.collect()
        gc.disable()
        try:
            start = time.perf_counter_ns()
            count = run()
            samples.append((time.perf_counter_ns() - start) / count)
        finally:
            gc.enable()
    return statistics.median(samples)


def time_ours(schedule: Callable[[int], float], steps: int, repeats: int) -> float:
    """Median ns per evaluation of ``schedule`` over steps ``0 .. steps - 1``."""

    def run() -> int:
        for step in range(steps):
            schedule(step)
        return steps

    return median_ns(run, repeats)


def time_ours_into_group(schedule: Callable[[int], float], steps: int, repeats: int) -> float:
    """Median ns per update of evaluating ``schedule`` and writing the value into a param group, as torch does."""
    group = _optimizer().param_groups[0]

    def run() -> int:
        for step in range(steps):
            group["lr"] = schedule(step)
        return steps

    return median_ns(run, repeats)


def time_loop(steps: int, repeats: int) -> float:
    """Median ns per iteration of the bare ``for`` loop the other timings include."""

    def run() -> int:
        for _ in range(steps):
            pass
        return steps

    return median_ns(run, repeats)


def time_curve(schedule: Callable[[int], float], repeats: int) -> float:
    """Median ms to evaluate a whole ``CURVE_STEPS``-step curve into a list."""

    def run() -> int:
        _ = [schedule(step) for step in range(CURVE_STEPS)]
        return 1

    return median_ns(run, repeats) / 1e6


def _optimizer() -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=LR)


def _primed(build: Callable[[torch.optim.Optimizer], torch.optim.lr_scheduler.LRScheduler]):
    """A fresh optimizer and scheduler, with one (gradient-free, so no-op) ``optimizer.step()`` taken first.

    Torch warns when ``scheduler.step()`` precedes any ``optimizer.step()``; one untimed step keeps the
    timed loop free of ``optimizer.step()`` and of the warning.
    """
    optimizer = _optimizer()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SequentialLR's construction may warn about the epoch argument
        scheduler = build(optimizer)
    optimizer.step()
    return optimizer, scheduler


def time_torch(build: Callable, steps: int, repeats: int) -> float:
    """Median ns per ``scheduler.step()`` over ``steps`` updates (a fresh scheduler per repeat)."""
    samples = []
    for _ in range(repeats):
        _, scheduler = _primed(build)
        samples.append(time_steps(scheduler, steps))
    return statistics.median(samples)


def time_steps(scheduler: torch.optim.lr_scheduler.LRScheduler, steps: int) -> float:
    gc.collect()
    gc.disable()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SequentialLR's switch passes a deprecated epoch argument
            start = time.perf_counter_ns()
            for _ in range(steps):
                scheduler.step()
            return (time.perf_counter_ns() - start) / steps
    finally:
        gc.enable()


def torch_curve(build: Callable, total_steps: int) -> list[float]:
    """The lr torch uses for updates ``0 .. total_steps - 1`` (read before each ``scheduler.step()``)."""
    optimizer, scheduler = _primed(build)
    values = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for _ in range(total_steps):
            values.append(optimizer.param_groups[0]["lr"])
            scheduler.step()
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10_000, help="updates per timed run (also the run length T)")
    parser.add_argument("--repeats", type=int, default=15, help="timed runs per row; medians are printed")
    parser.add_argument("--curve-repeats", type=int, default=3, help="timed runs of each 10^6-step curve")
    args = parser.parse_args()
    steps, repeats = args.steps, args.repeats
    print(f"python schedules vs torch {torch.__version__} lr schedulers; T = {steps} updates, {repeats} repeats\n")

    # Torch constructions of two curves we also define; the reference cost is LambdaLR.step().
    warmup_steps, start_factor, eta_min = steps // 20, 0.01, 1e-6

    def cosine_lambda(step: int) -> float:
        return 0.5 * (1 + math.cos(math.pi * min(step, steps - 1) / (steps - 1)))

    def lambda_lr(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        return torch.optim.lr_scheduler.LambdaLR(optimizer, cosine_lambda)

    def sequential_lr(optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LRScheduler:
        warmup = torch.optim.lr_scheduler.LinearLR(optimizer, start_factor, 1.0, total_iters=warmup_steps)
        cosine = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps - warmup_steps - 1, eta_min=eta_min)
        return torch.optim.lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])

    ours_cosine = CosineDecreasingScheduleConfig(max_value=LR, end_value=0.0)
    ours_warmup_cosine = LinearWarmupCosineDecayScheduleConfig(
        warmup_steps=warmup_steps, start_value=start_factor * LR, max_value=LR, end_value=eta_min
    )
    lambda_ns = time_torch(lambda_lr, steps, repeats)

    loop_ns = time_loop(steps, repeats)
    print(f"{'schedule kind (make_schedule)':<40} {'ns/eval':>9} {'of LambdaLR.step':>17} {'10^6 curve ms':>14}")
    print(f"{'(bare for loop, included below)':<40} {loop_ns:>9.0f}")
    for name, config in example_configs(max(steps, CURVE_STEPS)).items():
        per_eval = time_ours(make_schedule(config, steps), steps, repeats)
        curve_ms = time_curve(make_schedule(config, CURVE_STEPS), args.curve_repeats)
        print(f"{name:<40} {per_eval:>9.0f} {per_eval / lambda_ns:>16.2f}x {curve_ms:>14.1f}")

    print(f"\n{'same curve, per update':<26} {'ours':>7} {'ours+set lr':>12} {'torch':>7} {'torch/ours':>11}"
          f" {'torch/(ours+set)':>17} {'max |diff|':>11}")  # fmt: skip
    for label, config, build in (
        ("cosine: LambdaLR", ours_cosine, lambda_lr),
        ("warmup+cosine: Sequential", ours_warmup_cosine, sequential_lr),
    ):
        schedule = make_schedule(config, steps)
        ours_ns = time_ours(schedule, steps, repeats)
        set_ns = time_ours_into_group(schedule, steps, repeats)
        torch_ns = lambda_ns if build is lambda_lr else time_torch(build, steps, repeats)
        difference = max(abs(a - schedule(k)) for k, a in enumerate(torch_curve(build, steps)))
        print(f"{label:<26} {ours_ns:>7.0f} {set_ns:>12.0f} {torch_ns:>7.0f} {torch_ns / ours_ns:>10.1f}x"
              f" {torch_ns / set_ns:>16.1f}x {difference:>11.2e}")  # fmt: skip

    torch_runs = [time_steps(_primed(lambda_lr)[1], CURVE_STEPS) * CURVE_STEPS / 1e6 for _ in range(args.curve_repeats)]
    torch_ms = statistics.median(torch_runs)
    ours_ms = time_curve(make_schedule(ours_cosine, CURVE_STEPS), args.curve_repeats)
    ratio = torch_ms / ours_ms
    print(f"\n10^6-step cosine curve: ours {ours_ms:.1f} ms, LambdaLR.step() x 10^6 {torch_ms:.1f} ms ({ratio:.1f}x)")


if __name__ == "__main__":
    main()
