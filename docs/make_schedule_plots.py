"""Draw one plot per schedule kind for ``docs/schedules.md``: ``python docs/make_schedule_plots.py``.

``EXAMPLES`` holds the YAML snippets the page shows, verbatim; each is structured with the project's converter
(``structure(..., AnyScheduleConfig)``) and evaluated with ``make_schedule``, the function the engine calls,
so a snippet on the page cannot be invalid and a plot cannot drift from the code. ``tests/docs`` imports this
module (it has no side effects on import and needs matplotlib only to draw) and checks the page against it.

The PNGs go to ``docs/img/schedules/<slug>.png``; re-running the script rewrites them byte for byte.
"""

from __future__ import annotations

import math
from pathlib import Path

import attrs
from ruamel.yaml import YAML

from noether.core.config import structure
from noether.core.schedules import make_schedule
from noether.core.schemas.schedules import AnyScheduleConfig

DOCS = Path(__file__).resolve().parent
IMAGE_DIR = DOCS / "img" / "schedules"
"""Where the plots are written; the page links them as ``img/schedules/<slug>.png``."""

TOTAL_STEPS = 100
"""The run length of every example, except those in ``SHORT_RUNS``."""

SHORT_RUNS = {"custom": 10, "exclude-first-last": 8}
"""Examples plotted over a short run: a custom list must cover the run, and excluding one step shows at 8."""

UPDATES_PER_EPOCH = 10
"""Updates per epoch of the run the ``interval: epoch`` example is plotted over."""

EXAMPLES: list[tuple[str, str, str]] = [
    (
        "constant",
        "ConstantSchedule",
        """\
kind: noether.core.schedules.ConstantSchedule
value: 0.5
""",
    ),
    (
        "custom",
        "CustomSchedule",
        """\
kind: noether.core.schedules.CustomSchedule
values: [0.2, 0.6, 1.0, 1.0, 0.8, 0.8, 0.5, 0.5, 0.3, 0.1]
""",
    ),
    (
        "linear-increasing",
        "LinearIncreasingSchedule",
        """\
kind: noether.core.schedules.LinearIncreasingSchedule
start_value: 0.0
max_value: 1.0
""",
    ),
    (
        "linear-decreasing",
        "LinearDecreasingSchedule",
        """\
kind: noether.core.schedules.LinearDecreasingSchedule
max_value: 1.0
end_value: 0.0
""",
    ),
    (
        "cosine-increasing",
        "CosineIncreasingSchedule",
        """\
kind: noether.core.schedules.CosineIncreasingSchedule
start_value: 0.0
max_value: 1.0
""",
    ),
    (
        "cosine-decreasing",
        "CosineDecreasingSchedule",
        """\
kind: noether.core.schedules.CosineDecreasingSchedule
max_value: 1.0
end_value: 0.0
""",
    ),
    (
        "polynomial-increasing",
        "PolynomialIncreasingSchedule (power 2)",
        """\
kind: noether.core.schedules.PolynomialIncreasingSchedule
start_value: 0.0
max_value: 1.0
power: 2.0
""",
    ),
    (
        "polynomial-decreasing",
        "PolynomialDecreasingSchedule (power 2)",
        """\
kind: noether.core.schedules.PolynomialDecreasingSchedule
max_value: 1.0
end_value: 0.0
power: 2.0
""",
    ),
    (
        "progress",
        "ProgressSchedule",
        """\
kind: noether.core.schedules.ProgressSchedule
start_value: 1.0
end_value: 0.2
""",
    ),
    (
        "decreasing-progress",
        "DecreasingProgressSchedule",
        """\
kind: noether.core.schedules.DecreasingProgressSchedule
max_value: 1.0
end_value: 0.1
""",
    ),
    (
        "increasing-progress",
        "IncreasingProgressSchedule",
        """\
kind: noether.core.schedules.IncreasingProgressSchedule
start_value: 0.1
max_value: 1.0
""",
    ),
    (
        "step-decreasing",
        "StepDecreasingSchedule",
        """\
kind: noether.core.schedules.StepDecreasingSchedule
max_value: 1.0
end_value: 0.0
factor: 0.5
decreases_interval: 0.25
""",
    ),
    (
        "step-fixed",
        "StepFixedSchedule",
        """\
kind: noether.core.schedules.StepFixedSchedule
start_value: 1.0
factor: 0.1
steps: [0.5, 0.75]
""",
    ),
    (
        "step-interval",
        "StepIntervalSchedule",
        """\
kind: noether.core.schedules.StepIntervalSchedule
start_value: 1.0
factor: 0.5
update_interval: 0.2
""",
    ),
    (
        "linear-warmup-cosine-decay-steps",
        "LinearWarmupCosineDecaySchedule (warmup_steps)",
        """\
kind: noether.core.schedules.LinearWarmupCosineDecaySchedule
warmup_steps: 10
max_value: 1.0
end_value: 0.0
""",
    ),
    (
        "linear-warmup-cosine-decay-percent",
        "LinearWarmupCosineDecaySchedule (warmup_percent)",
        """\
kind: noether.core.schedules.LinearWarmupCosineDecaySchedule
warmup_percent: 0.3
start_value: 0.2
max_value: 1.0
end_value: 0.1
""",
    ),
    (
        "periodic-bool",
        "PeriodicBoolSchedule",
        """\
kind: noether.core.schedules.PeriodicBoolSchedule
initial_state: true
on_value: 1.0
off_value: 0.2
on_duration: 10
off_duration: 20
""",
    ),
    (
        "scheduler",
        "SchedulerConfig",
        """\
kind: noether.core.schedules.scheduler.SchedulerConfig
warmup_percent: 0.1
max_value: 1.0
end_value: 0.0
""",
    ),
    (
        "overhang",
        "CosineDecreasingSchedule with overhang_percent: 0.5",
        """\
kind: noether.core.schedules.CosineDecreasingSchedule
max_value: 1.0
end_value: 0.0
overhang_percent: 0.5
""",
    ),
    (
        "exclude-first-last",
        "LinearDecreasingSchedule with exclude_first and exclude_last",
        """\
kind: noether.core.schedules.LinearDecreasingSchedule
max_value: 1.0
end_value: 0.0
exclude_first: true
exclude_last: true
""",
    ),
    (
        "interval-epoch",
        "CosineDecreasingSchedule with interval: epoch",
        """\
kind: noether.core.schedules.CosineDecreasingSchedule
max_value: 1.0
end_value: 0.0
interval: epoch
""",
    ),
]
"""``(slug, title, yaml_text)`` per example: the plot's file name, its title, and the snippet on the page."""

OPTIMIZER_EXAMPLE = """\
model:
  optimizer_config:
    kind: torch.optim.AdamW
    lr: 1.0e-3
    weight_decay: 0.05
    schedule_config:
      kind: noether.core.schedules.LinearWarmupCosineDecaySchedule
      warmup_percent: 0.05
      end_value: 1.0e-6
    weight_decay_schedule:
      kind: noether.core.schedules.CosineIncreasingSchedule
      start_value: 0.01
"""
"""The page's one snippet that is not a schedule on its own: schedules inside a model's optimizer config."""

REFERENCES: dict[str, dict[str, object]] = {
    "overhang": {"overhang_percent": None},
    "exclude-first-last": {"exclude_first": False, "exclude_last": False},
    "interval-epoch": {"interval": "update"},
}
"""Examples drawn over the plain curve (dashed): the changes to their config that give that curve."""


def load_yaml(text: str) -> object:
    """Read YAML text the way configs are read (the safe loader)."""
    return YAML(typ="safe").load(text)


def example_config(yaml_text: str) -> AnyScheduleConfig:
    """The schedule config a snippet describes, structured and validated like any config file."""
    return structure(load_yaml(yaml_text), AnyScheduleConfig)


def total_steps_for(slug: str) -> int:
    """The number of updates the example ``slug`` is plotted over."""
    return SHORT_RUNS.get(slug, TOTAL_STEPS)


def curve(config: AnyScheduleConfig, total_updates: int) -> list[float]:
    """The value at every update of a run of ``total_updates`` updates.

    An ``interval: epoch`` schedule sees ``(u // UPDATES_PER_EPOCH, ceil(total_updates / UPDATES_PER_EPOCH))``
    at update ``u``, as the training plan gives it (``TrainingPlan.schedule_position``).
    """
    if config.interval == "epoch":
        schedule = make_schedule(config, math.ceil(total_updates / UPDATES_PER_EPOCH))
        return [schedule(update // UPDATES_PER_EPOCH) for update in range(total_updates)]
    schedule = make_schedule(config, total_updates)
    return [schedule(update) for update in range(total_updates)]


def plot(slug: str, title: str, config: AnyScheduleConfig, path: Path) -> None:
    """Draw the example's curve (and its plain reference curve, if any) to a small deterministic PNG."""
    import matplotlib.pyplot as plt

    total = total_steps_for(slug)
    # One more point at x = total draws the last step with its width (a step's value holds until the next).
    steps = range(total + 1)

    def held(values: list[float]) -> list[float]:
        return [*values, values[-1]]

    short = total <= 20
    figure, axes = plt.subplots(figsize=(5, 2.5), dpi=100)
    if slug in REFERENCES:
        reference = attrs.evolve(config, **REFERENCES[slug])
        label = ", ".join(
            f"{key}: {'null' if value is None else str(value).lower()}" for key, value in REFERENCES[slug].items()
        )
        axes.plot(steps, held(curve(reference, total)), drawstyle="steps-post", color="0.6", linestyle="--",
                  marker="o" if short else None, markevery=slice(0, total), markersize=3, label=label)
    axes.plot(steps, held(curve(config, total)), drawstyle="steps-post", color="tab:blue",
              marker="o" if short else None, markevery=slice(0, total), markersize=4,
              label="as configured" if slug in REFERENCES else None)
    if slug in REFERENCES:
        axes.legend(fontsize=7, frameon=False)
    axes.set_title(title, fontsize=9)
    axes.set_xlabel("update" if config.interval == "epoch" else "step", fontsize=8)
    axes.set_ylabel("value", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.set_xlim(0, total)
    axes.grid(True, color="0.9", linewidth=0.6)
    figure.tight_layout(pad=0.4)
    # No software or date entry: re-running the script gives identical bytes.
    figure.savefig(path, dpi=100, metadata={"Software": None})
    plt.close(figure)


def main() -> None:
    """Write every example's plot and list the files with their sizes."""
    import matplotlib

    matplotlib.use("Agg")
    IMAGE_DIR.mkdir(parents=True, exist_ok=True)
    for slug, title, yaml_text in EXAMPLES:
        path = IMAGE_DIR / f"{slug}.png"
        plot(slug, title, example_config(yaml_text), path)
        print(f"{path.relative_to(DOCS.parent)}  {path.stat().st_size / 1024:.1f} KB")


if __name__ == "__main__":
    main()
