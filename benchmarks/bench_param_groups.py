"""Cost of param-group planning and of the per-update ``schedule_step``, beside torch's ``LambdaLR.step()``.

Run: ``.venv/bin/python benchmarks/bench_param_groups.py``. Prints median microseconds; not a test.

* planning: ``plan_param_groups`` over a synthetic model of 10^4 parameters (weights, biases, norm weights,
  tokens) with a few modifiers;
* per update: ``OptimizerWrapper.schedule_step`` with an lr schedule (and with an lr plus weight-decay
  schedule) on optimizers of 1 and 4 groups, and ``torch.optim.lr_scheduler.LambdaLR.step()`` on the same torch
  optimizer in the same run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from engine.optimizer import OptimizerWrapper
from noether.core.optimizer import plan_param_groups
from noether.core.schedules import make_schedule
from noether.core.schemas.optimizers import OptimizerConfig, ParamGroupModifierConfig
from noether.core.schemas.schedules import LinearDecreasingScheduleConfig, LinearWarmupCosineDecayScheduleConfig
from noether.core.schemas.trainers import BaseTrainerConfig
from noether.core.training import bind_schedules, plan_training

TOTAL_UPDATES = 100_000


def median_us(function: Callable[[], object], *, number: int, repeat: int = 15) -> float:
    """Median over ``repeat`` runs of the mean time of one call (``number`` calls per run), in microseconds."""
    function()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            function()
        times.append((time.perf_counter() - start) / number)
    return statistics.median(times) * 1e6


def synthetic_params(count: int) -> list[tuple[str, tuple[int, ...]]]:
    """A transformer-like list of ``count`` (name, shape) pairs: linear weights and biases, norms, tokens."""
    params = [("cls_token", (1, 1, 384)), ("pos_embed", (1, 197, 384))]
    block = 0
    while len(params) < count:
        prefix = f"blocks.{block}"
        params += [
            (f"{prefix}.norm1.weight", (384,)), (f"{prefix}.norm1.bias", (384,)),
            (f"{prefix}.attn.qkv.weight", (1152, 384)), (f"{prefix}.attn.qkv.bias", (1152,)),
            (f"{prefix}.attn.proj.weight", (384, 384)), (f"{prefix}.attn.proj.bias", (384,)),
            (f"{prefix}.norm2.weight", (384,)), (f"{prefix}.norm2.bias", (384,)),
            (f"{prefix}.mlp.fc1.weight", (1536, 384)), (f"{prefix}.mlp.fc1.bias", (1536,)),
            (f"{prefix}.mlp.fc2.weight", (384, 1536)), (f"{prefix}.mlp.fc2.bias", (384,)),
        ]  # fmt: skip
        block += 1
    return params[:count]


def planning_row() -> tuple[str, float]:
    """Median time of planning 10^4 parameters with four modifiers."""
    params = synthetic_params(10_000)
    config = OptimizerConfig(
        kind="torch.optim.AdamW",
        lr=1e-3,
        weight_decay=0.05,
        param_group_modifiers_config=(
            ParamGroupModifierConfig(name="cls_token", value=0.0),
            ParamGroupModifierConfig(name="pos_embed", value=0.0),
            ParamGroupModifierConfig(name="blocks.0.attn.qkv.weight", scale=0.1),
            ParamGroupModifierConfig(name="blocks.1.attn.qkv.weight", scale=0.5),
        ),
    )
    plan = plan_param_groups(params, config)
    return f"plan_param_groups, 10^4 params -> {len(plan)} groups", median_us(
        lambda: plan_param_groups(params, config), number=5
    )


def model_with_groups(groups: int) -> tuple[torch.nn.Module, tuple[ParamGroupModifierConfig, ...]]:
    """A tiny model and modifiers that give exactly ``groups`` param groups (1 or 4)."""
    model = torch.nn.Sequential(torch.nn.Linear(4, 4, bias=groups > 1), torch.nn.Linear(4, 4, bias=groups > 1))
    modifiers = (ParamGroupModifierConfig(name="1.weight", scale=0.5),) if groups > 1 else ()
    if groups > 1:
        modifiers += (ParamGroupModifierConfig(name="1.bias", scale=0.5),)
    return model, modifiers


def schedule_rows(groups: int) -> list[tuple[str, float]]:
    """schedule_step (lr; lr + weight decay) and LambdaLR.step() on an optimizer with ``groups`` groups."""
    model, modifiers = model_with_groups(groups)
    lr_schedule = LinearWarmupCosineDecayScheduleConfig(warmup_steps=1000, max_value=1e-3, end_value=1e-6)
    config = OptimizerConfig(
        kind="torch.optim.AdamW", lr=1e-3, weight_decay=0.05, schedule_config=lr_schedule,
        param_group_modifiers_config=modifiers,
    )  # fmt: skip
    plan = plan_training(BaseTrainerConfig(kind="t", max_updates=TOTAL_UPDATES, effective_batch_size=1), TOTAL_UPDATES)
    wrapper = OptimizerWrapper(model, config, schedules=bind_schedules(config, plan))
    assert len(wrapper.optimizer.param_groups) == groups, wrapper.current_values()
    both_config = OptimizerConfig(
        kind="torch.optim.AdamW", lr=1e-3, weight_decay=0.05, schedule_config=lr_schedule,
        weight_decay_schedule=LinearDecreasingScheduleConfig(max_value=0.05, end_value=0.01),
        param_group_modifiers_config=modifiers,
    )  # fmt: skip
    both = OptimizerWrapper(model, both_config, schedules=bind_schedules(both_config, plan))

    counter = iter(range(10**9))
    update = lambda: next(counter) % TOTAL_UPDATES  # noqa: E731
    curve = make_schedule(lr_schedule, TOTAL_UPDATES)
    scheduler = torch.optim.lr_scheduler.LambdaLR(wrapper.optimizer, lambda step: curve(step % TOTAL_UPDATES) / 1e-3)
    wrapper.optimizer.step()  # no gradients: a no-op that keeps LambdaLR from warning about the call order
    number = 20_000
    return [
        (f"schedule_step, lr schedule, {groups} group(s)", median_us(lambda: wrapper.schedule_step(update()), number=number)),
        (f"schedule_step, lr + wd schedules, {groups} group(s)", median_us(lambda: both.schedule_step(update()), number=number)),
        (f"torch LambdaLR.step(), {groups} group(s)", median_us(scheduler.step, number=number)),
    ]  # fmt: skip


def main() -> None:
    rows = [planning_row(), *schedule_rows(1), *schedule_rows(4)]
    width = max(len(name) for name, _ in rows)
    print(f"{'what'.ljust(width)}  median µs")
    print(f"{'-' * width}  ---------")
    for name, micros in rows:
        print(f"{name.ljust(width)}  {micros:9.2f}")
    print(f"(torch {torch.__version__}; schedule_step calls the schedules bound to the plan, once each)")


if __name__ == "__main__":
    main()
