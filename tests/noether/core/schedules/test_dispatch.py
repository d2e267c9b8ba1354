"""Tests for ``noether.core.schedules.dispatch``: config -> values, against Noether's acceptance table."""

from __future__ import annotations

import copy
import math
import typing
from itertools import pairwise

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noether.core.schedules import make_schedule, schedule_value, warmup_span
from noether.core.schedules.shapes import overhang_total_steps
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

KINDS = typing.get_args(AnyScheduleConfig)
SQRT2 = math.sqrt(2.0)
EXACT = 1e-12
"""Relative tolerance where the expected value is an exact expression."""
ROUNDED = 1e-9
"""Relative tolerance where the reference gives only 10 significant digits."""

LD = LinearDecreasingScheduleConfig
LI = LinearIncreasingScheduleConfig
CD = CosineDecreasingScheduleConfig
CI = CosineIncreasingScheduleConfig
PD = PolynomialDecreasingScheduleConfig
PI = PolynomialIncreasingScheduleConfig
SD = StepDecreasingScheduleConfig
SF = StepFixedScheduleConfig
SI = StepIntervalScheduleConfig
LWCD = LinearWarmupCosineDecayScheduleConfig

COSINE_5 = [1.0, (2 + SQRT2) / 4, 0.5, (2 - SQRT2) / 4, 0.0]
COSINE_11 = [
    1, 0.9755282581, 0.9045084972, 0.7938926261, 0.6545084972, 0.5,
    0.3454915028, 0.2061073739, 0.09549150281, 0.02447174185, 0,
]  # fmt: skip
COSINE_13_FIRST_11 = [
    1, 0.9829629131, 0.9330127019, 0.8535533906, 0.75, 0.6294095226,
    0.5, 0.3705904774, 0.25, 0.1464466094, 0.06698729811,
]  # fmt: skip
COSINE_FROM_1E5_11 = [
    1e-05, 0.024481497, 0.09550054790, 0.2061153128, 0.3454980479, 0.500005,
    0.6545119521, 0.7938946872, 0.9045094521, 0.9755285029, 1,
]  # fmt: skip
WARMUP_COSINE_11 = [
    1 / 3, 2 / 3, 1.0, 0.9619398043, 0.853553537, 0.6913420248,
    0.5000005, 0.3086589752, 0.146447463, 0.03806119568, 1e-06,
]  # fmt: skip


def case(name: str, config: AnyScheduleConfig, total_steps: int, values: list | dict, rel: float = EXACT):
    """One acceptance case: ``values`` lists steps 0.. in order, or maps chosen steps to values."""
    expected = dict(enumerate(values)) if isinstance(values, list) else values
    return pytest.param(config, total_steps, expected, rel, id=name)


# Reference section 1.11 (S1-S37) and section 9 items 1-9. Where Noether evaluates k == T (it overshoots, or
# raises for a custom list) the table lists our held value at k == T instead.
TABLE = [
    case("S1", ConstantScheduleConfig(value=0.5), 5, [0.5] * 5),
    case("S2", LD(max_value=1.0, end_value=0.0), 5, [1, 0.75, 0.5, 0.25, 0]),
    case("S2-past", LD(max_value=1.0, end_value=0.0), 5, {5: 0.0}),  # Noether: -0.25
    case("S3", LD(max_value=1.0, end_value=0.0, exclude_last=True), 5, [1, 0.8, 0.6, 0.4, 0.2]),
    case("S4", LD(max_value=1.0, end_value=0.0, exclude_first=True), 5, [0.8, 0.6, 0.4, 0.2, 0]),
    case(
        "S5",
        LD(max_value=1.0, end_value=0.0, exclude_first=True, exclude_last=True),
        5,
        [5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6],
    ),
    case("S6", LI(start_value=0.0, max_value=1.0), 5, [0, 0.25, 0.5, 0.75, 1]),
    case("S7", LI(start_value=0.0, max_value=1.0), 1, {0: 0.0, 1: 0.0}),  # Noether: k=1 -> 1
    case("S8", LD(max_value=1.0, end_value=0.0, overhang_steps=5), 5, [1 - k / 9 for k in range(5)]),
    case("S9", LD(max_value=1.0, end_value=0.0, overhang_percent=0.5), 5, [1 - k / 6 for k in range(5)]),
    case("S10", LD(max_value=1.0, end_value=0.0, overhang_percent=0.3), 5, [1 - k / 5 for k in range(5)]),
    case("S11", CD(max_value=1.0, end_value=0.0), 5, COSINE_5),
    case("S12", CI(start_value=0.0, max_value=1.0), 5, [1 - v for v in COSINE_5]),
    case("S13", CD(max_value=0.1, end_value=0.01), 5, [0.01 + 0.09 * v for v in COSINE_5]),
    case("S14", PD(max_value=1.0, end_value=0.0, power=2.0), 5, [1, 0.5625, 0.25, 0.0625, 0]),
    case("S15", PI(start_value=0.0, max_value=1.0, power=2.0), 5, [0, 0.4375, 0.75, 0.9375, 1]),
    case("S16", PD(max_value=1.0, end_value=0.0, power=0.5), 5, [1, math.sqrt(0.75), math.sqrt(0.5), 0.5, 0]),
    case(
        "S17",
        SD(max_value=1.0, factor=0.1, decreases_interval=0.25),
        8,
        [1, 1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001],
    ),
    case(
        "S18",
        SD(max_value=1.0, end_value=0.2, factor=0.5, decreases_interval=0.3),
        10,
        [1, 1, 1, 0.6, 0.6, 0.6, 0.4, 0.4, 0.4, 0.3],
    ),
    case("S19", SF(start_value=1.0, factor=0.5, steps=(0.5, 0.25)), 8, [1, 1, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]),
    case("S19-past", SF(start_value=1.0, factor=0.5, steps=(0.5, 0.25)), 8, {8: 0.25}),
    case(
        "S20",
        SF(start_value=1.0, factor=1.5, steps=(0.2, 0.5, 0.8)),
        10,
        [1, 1, 1.5, 1.5, 1.5, 2.25, 2.25, 2.25, 3.375, 3.375],
    ),
    case(
        "S21",
        SI(start_value=1.0, factor=0.1, update_interval=0.3),
        10,
        [1, 1, 1, 0.1, 0.1, 0.1, 0.01, 0.01, 0.01, 0.001],
    ),
    case("S21-past", SI(start_value=1.0, factor=0.1, update_interval=0.3), 10, {10: 0.001}),
    case(
        "S22",
        SI(start_value=1.0, factor=0.5, update_interval=0.2),
        10,
        [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625, 0.0625],
    ),
    case("S23", CustomScheduleConfig(values=(1.0, 2.0, 3.0)), 3, {0: 1, 1: 2, 2: 3, 3: 3}),  # Noether: k=3 raises
    case("S24", LWCD(warmup_steps=2, max_value=1.0, end_value=0.0), 6, [1 / 3, 2 / 3, 1, 0.75, 0.25, 0]),
    case(
        "S25",
        LWCD(warmup_steps=3, start_value=0.1, max_value=1.0, end_value=0.0),
        7,
        [0.1, 0.4, 0.7, 1, 0.75, 0.25, 0],
    ),
    case("S26-percent", LWCD(warmup_percent=0.2, max_value=1.0, end_value=1e-6), 11, WARMUP_COSINE_11, ROUNDED),
    case("S26-steps", LWCD(warmup_steps=2, max_value=1.0, end_value=1e-6), 11, WARMUP_COSINE_11, ROUNDED),
    case(
        "S27",
        LWCD(warmup_percent=0.05, max_value=1.0, end_value=0.0),
        100,
        {0: 0.2, 1: 0.4, 2: 0.6, 3: 0.8, 4: 1, 5: 0.9997266287, 6: 0.9989068136, 98: 0.0002733713295, 99: 0},
        ROUNDED,
    ),
    case(
        "S28",
        LWCD(warmup_steps=5, max_value=1.0, end_value=0.0),
        100,
        {0: 1 / 6, 1: 2 / 6, 2: 3 / 6, 3: 4 / 6, 4: 5 / 6, 5: 1, 6: 0.9997207819, 98: 0.0002792181349, 99: 0},
        ROUNDED,
    ),
    case("S29-steps", LWCD(warmup_steps=0, max_value=1.0, end_value=0.0), 5, COSINE_5),
    case("S29-percent", LWCD(warmup_percent=0.0, max_value=1.0, end_value=0.0), 5, COSINE_5),
    case("S30", LWCD(warmup_percent=1.0, max_value=1.0, end_value=0.0), 5, [1 / 6, 2 / 6, 3 / 6, 4 / 6, 1]),
    case("S31", LWCD(warmup_steps=10, max_value=1.0, end_value=0.0), 5, [(k + 1) / 11 for k in range(5)]),
    case(
        "S32",
        LWCD(warmup_steps=2, max_value=1.0, end_value=0.0, overhang_steps=2),
        6,
        [1 / 3, 2 / 3, 1, 0.9045084972, 0.6545084972, 0.3454915028],
        ROUNDED,
    ),
    case("S33", LWCD(warmup_steps=1, max_value=1.0), 3, [0.5, 1, 1e-6]),  # snapshot default max_value=1.0
    case("S34", CD(max_value=1.0, end_value=0.0), 11, COSINE_11, ROUNDED),
    case("S35-percent", CD(max_value=1.0, end_value=0.0, overhang_percent=0.25), 11, COSINE_13_FIRST_11, ROUNDED),
    case("S35-steps", CD(max_value=1.0, end_value=0.0, overhang_steps=2), 11, COSINE_13_FIRST_11, ROUNDED),
    case("S36", CI(start_value=1e-5, max_value=1.0), 11, COSINE_FROM_1E5_11, 1e-8),  # k=1 has 8 digits only
    case("S37", LI(start_value=1e-5, max_value=1.0), 11, [1e-5 + (1 - 1e-5) * k / 10 for k in range(11)]),
    case("9.1", LD(max_value=1.0, end_value=0.0), 11, [1 - k / 10 for k in range(11)]),
    case("9.1-last", LD(max_value=1.0, end_value=0.0, exclude_last=True), 11, [(11 - k) / 11 for k in range(11)]),
    case("9.2-first", LI(max_value=1.0, exclude_first=True), 11, [(k + 1) / 11 for k in range(11)]),
    case("9.2-both", LI(max_value=1.0, exclude_first=True, exclude_last=True), 11, [(k + 1) / 12 for k in range(11)]),
    case("9.2-last", LI(max_value=1.0, exclude_last=True), 11, [k / 11 for k in range(11)]),
    case("9.3-mirror", CI(start_value=0.0, max_value=1.0), 11, COSINE_11[::-1], ROUNDED),  # 1 - v(k) = v(10 - k)
    case(
        "9.3-start",
        CI(start_value=1e-5, max_value=1.0),
        11,
        [1e-5 + (1 - 1e-5) * (1 - math.cos(math.pi * k / 10)) / 2 for k in range(11)],
    ),
    case(
        "9.6-factor-0.5",
        SF(start_value=1.0, factor=0.5, steps=(0.2, 0.5, 0.8)),
        10,
        [1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125],
    ),
    case(
        "9.7-factor-1.5",
        SI(start_value=1.0, factor=1.5, update_interval=0.2),
        10,
        [1, 1, 1.5, 1.5, 2.25, 2.25, 3.375, 3.375, 5.0625, 5.0625],
    ),
    case("9.8-custom", CustomScheduleConfig(values=(0.3, 0.1, 0.4, 0.1, 0.5)), 5, [0.3, 0.1, 0.4, 0.1, 0.5]),
    case("9.8-constant", ConstantScheduleConfig(value=0.05), 100, {0: 0.05, 50: 0.05, 99: 0.05}),
    case("9.9-delta", LD(max_value=1.0, end_value=0.2), 3, [1.0, 0.6, 0.2]),  # delta = -0.8
]


@pytest.mark.parametrize(("config", "total_steps", "expected", "rel"), TABLE)
def test_known_values(config: AnyScheduleConfig, total_steps: int, expected: dict[int, float], rel: float) -> None:
    """Every acceptance case of the reference gives Noether's values, through both entry points."""
    schedule = make_schedule(config, total_steps)
    for step, value in expected.items():
        assert schedule_value(config, step, total_steps) == pytest.approx(value, rel=rel, abs=1e-15), step
        assert schedule(step) == pytest.approx(value, rel=rel, abs=1e-15), step


@pytest.mark.parametrize("overhang", [{"overhang_percent": 0.25}, {"overhang_steps": 2}])
def test_overhang_equals_longer_run(overhang: dict) -> None:
    """Cosine 1 -> 0 with overhang 25% or 2 steps at T=11 equals the plain schedule at T=13 (item 9.4)."""
    stretched = CD(max_value=1.0, end_value=0.0, **overhang)
    plain = CD(max_value=1.0, end_value=0.0)
    for step in range(11):
        assert schedule_value(stretched, step, 11) == pytest.approx(schedule_value(plain, step, 13), rel=EXACT)


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: LD(max_value=0.5, end_value=0.6), "end_value must be less than or equal"),
        (
            lambda: LD(max_value=1.0, overhang_percent=0.1, overhang_steps=1),
            "only one of overhang_percent and overhang_steps",
        ),
        (lambda: StepFixedScheduleConfig(factor=0.5, steps=()), "must not be empty"),
        (lambda: StepFixedScheduleConfig(factor=0.5, steps=(5.0,)), "must be in (0, 1)"),
        (lambda: StepFixedScheduleConfig(factor=0.5, steps=(-1.0,)), "must be in (0, 1)"),
        (lambda: StepIntervalScheduleConfig(factor=0.5, update_interval=0.0), "must be in (0, 1)"),
        (lambda: StepIntervalScheduleConfig(factor=0.5, update_interval=1.0), "must be in (0, 1)"),
    ],
)
def test_invalid_configs_are_rejected_before_any_value(build: typing.Callable[[], object], message: str) -> None:
    """The validation cases of reference items 9.6, 9.7 and 9.9 fail when the config is built."""
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


# Every kind, built from example values by field name, so a new kind in AnyScheduleConfig is covered here
# without a test change (a required field without an example fails loudly below).
FIELD_EXAMPLES = {
    "max_value": 1.0,
    "end_value": 0.1,
    "factor": 0.5,
    "decreases_interval": 0.25,
    "update_interval": 0.25,
    "steps": (0.25, 0.5),
    "value": 0.5,
    "values": tuple(float(i) for i in range(32)),
    "initial_state": True,
    "warmup_percent": 0.2,
}


def example_config(kind: type) -> AnyScheduleConfig:
    """Build a valid config of ``kind`` from ``FIELD_EXAMPLES``."""
    fields = attrs.fields(kind)
    missing = [f.name for f in fields if f.default is attrs.NOTHING and f.name not in FIELD_EXAMPLES]
    assert not missing, f"add example values for {missing} of {kind.__name__} to FIELD_EXAMPLES"
    return kind(**{f.name: FIELD_EXAMPLES[f.name] for f in fields if f.name in FIELD_EXAMPLES})


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_kind_has_finite_values_at_every_step(kind: type) -> None:
    """Every config kind builds a schedule with a finite value at every step, past the run included."""
    config = example_config(kind)
    schedule = make_schedule(config, 20)
    values = [schedule(step) for step in range(25)]
    assert all(isinstance(value, float) and math.isfinite(value) for value in values)
    assert values[20:] == [values[19]] * 5
    assert values == [schedule_value(config, step, 20) for step in range(25)]


@pytest.mark.parametrize("kind", KINDS, ids=lambda kind: kind.__name__)
def test_every_kind_has_a_strategy(kind: type) -> None:
    """Every config kind is drawn by the Hypothesis properties below."""
    assert kind in STRATEGIES, f"add a strategy for {kind.__name__} to STRATEGIES"


@pytest.mark.parametrize(
    "kind", [kind for kind in KINDS if "max_value" in attrs.fields_dict(kind)], ids=lambda kind: kind.__name__
)
def test_unresolved_max_value_is_an_error(kind: type) -> None:
    """A config whose max_value was left for the optimizer's lr cannot be evaluated before it is resolved."""
    config = attrs.evolve(example_config(kind), max_value=None)
    expected = (
        f"{kind.__name__}.max_value is not set: resolve the config first "
        "(it defaults to the optimizer's lr, or its weight_decay for a weight-decay schedule)"
    )
    with pytest.raises(ValueError) as make_error:
        make_schedule(config, 10)
    with pytest.raises(ValueError) as value_error:
        schedule_value(config, 0, 10)
    assert str(make_error.value) == str(value_error.value) == expected


def test_custom_shorter_than_the_run_is_an_error() -> None:
    """A custom list with fewer values than the run's steps is rejected when the schedule is made."""
    with pytest.raises(ValueError) as error:
        make_schedule(CustomScheduleConfig(values=(1.0, 2.0, 3.0)), 4)
    assert str(error.value) == "values has 3 entries but the run has 4 steps"


def test_custom_ignores_overhang() -> None:
    """Overhang stretches curves, not a list indexed by step, so a custom list as long as the run suffices."""
    config = CustomScheduleConfig(values=(1.0, 2.0, 3.0), overhang_steps=10)
    assert [schedule_value(config, step, 3) for step in range(4)] == [1.0, 2.0, 3.0, 3.0]


def test_negative_power_is_an_error_when_the_schedule_is_made() -> None:
    """A negative polynomial power (which divides by zero at the last step) is rejected by the config and,
    should a config bypass its validators, when the schedule is made."""
    with pytest.raises(ValueError) as error:
        PolynomialDecreasingScheduleConfig(max_value=1.0, power=-1.0)
    assert str(error.value) == "must be >= 0.0 (got -1.0)"
    with attrs.validators.disabled():
        unchecked = PolynomialDecreasingScheduleConfig(max_value=1.0, power=-1.0)
    with pytest.raises(ValueError) as error:
        make_schedule(unchecked, 5)
    assert str(error.value) == "power must be >= 0 (got -1.0)"


@pytest.mark.parametrize(
    ("step", "total_steps", "message"),
    [(-1, 5, "step must be >= 0 (got -1)"), (0, 0, "total_steps must be >= 1 (got 0)")],
)
def test_step_and_total_out_of_domain(step: int, total_steps: int, message: str) -> None:
    """A negative step or an empty run is a ValueError naming the argument."""
    config = LD(max_value=1.0)
    with pytest.raises(ValueError) as error:
        schedule_value(config, step, total_steps)
    assert str(error.value) == message
    if total_steps >= 1:
        with pytest.raises(ValueError) as error:
            make_schedule(config, total_steps)(step)
        assert str(error.value) == message


def test_not_a_schedule_config() -> None:
    """Anything that is not a schedule config is a TypeError naming its type."""
    with pytest.raises(TypeError) as error:
        make_schedule(object(), 5)  # type: ignore[arg-type]
    assert str(error.value) == "not a schedule config: object"


# ---------------------------------------------------------------------------------------------------------------
# Hypothesis properties over random configs of every kind.

values = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)
fractions = st.floats(min_value=0.01, max_value=0.99)
exclude = st.booleans()


@st.composite
def overhangs(draw: st.DrawFn) -> dict:
    choice = draw(st.sampled_from(["none", "percent", "steps"]))
    if choice == "percent":
        return {"overhang_percent": draw(st.floats(min_value=0.0, max_value=2.0))}
    if choice == "steps":
        return {"overhang_steps": draw(st.integers(min_value=0, max_value=50))}
    return {}


@st.composite
def decreasing_configs(draw: st.DrawFn, kind: type, **extra: st.SearchStrategy) -> AnyScheduleConfig:
    low, high = sorted((draw(values), draw(values)))
    drawn = {name: draw(strategy) for name, strategy in extra.items()}
    flags = {"exclude_first": draw(exclude), "exclude_last": draw(exclude)}
    return kind(max_value=high, end_value=low, **flags, **drawn, **draw(overhangs()))


@st.composite
def increasing_configs(draw: st.DrawFn, kind: type, **extra: st.SearchStrategy) -> AnyScheduleConfig:
    low, high = sorted((draw(values), draw(values)))
    drawn = {name: draw(strategy) for name, strategy in extra.items()}
    flags = {"exclude_first": draw(exclude), "exclude_last": draw(exclude)}
    return kind(start_value=low, max_value=high, **flags, **drawn, **draw(overhangs()))


@st.composite
def progress_configs(draw: st.DrawFn) -> ProgressScheduleConfig:
    flags = {"exclude_first": draw(exclude), "exclude_last": draw(exclude)}
    return ProgressScheduleConfig(start_value=draw(values), end_value=draw(values), **flags, **draw(overhangs()))


@st.composite
def warmup_configs(draw: st.DrawFn, kind: type) -> AnyScheduleConfig:
    max_value = draw(values)
    start_value = draw(st.floats(min_value=0.0, max_value=max_value))
    end_value = draw(st.floats(min_value=0.0, max_value=max_value))
    if kind is SchedulerConfig or draw(st.booleans()):
        warmup = {"warmup_percent": draw(st.one_of(st.just(1.0), st.just(0.0), st.floats(0.0, 1.0)))}
    else:
        warmup = {"warmup_steps": draw(st.integers(min_value=0, max_value=300))}
    return kind(start_value=start_value, max_value=max_value, end_value=end_value, **warmup, **draw(overhangs()))


factors = st.floats(min_value=0.0, max_value=3.0)
powers = st.floats(min_value=0.0, max_value=5.0)

STRATEGIES: dict[type, st.SearchStrategy] = {
    ProgressScheduleConfig: progress_configs(),
    DecreasingProgressScheduleConfig: decreasing_configs(DecreasingProgressScheduleConfig),
    IncreasingProgressScheduleConfig: increasing_configs(IncreasingProgressScheduleConfig),
    LinearDecreasingScheduleConfig: decreasing_configs(LinearDecreasingScheduleConfig),
    LinearIncreasingScheduleConfig: increasing_configs(LinearIncreasingScheduleConfig),
    CosineDecreasingScheduleConfig: decreasing_configs(CosineDecreasingScheduleConfig),
    CosineIncreasingScheduleConfig: increasing_configs(CosineIncreasingScheduleConfig),
    PolynomialDecreasingScheduleConfig: decreasing_configs(PolynomialDecreasingScheduleConfig, power=powers),
    PolynomialIncreasingScheduleConfig: increasing_configs(PolynomialIncreasingScheduleConfig, power=powers),
    StepDecreasingScheduleConfig: decreasing_configs(
        StepDecreasingScheduleConfig, factor=st.floats(0.0, 1.0), decreases_interval=fractions
    ),
    StepFixedScheduleConfig: st.builds(
        StepFixedScheduleConfig,
        start_value=values,
        factor=factors,
        steps=st.lists(fractions, min_size=1, max_size=5).map(tuple),
    ),
    StepIntervalScheduleConfig: st.builds(
        StepIntervalScheduleConfig, start_value=values, factor=factors, update_interval=fractions
    ),
    ConstantScheduleConfig: st.builds(ConstantScheduleConfig, value=values),
    CustomScheduleConfig: st.builds(
        CustomScheduleConfig, values=st.lists(values, min_size=400, max_size=400).map(tuple)
    ),
    LinearWarmupCosineDecayScheduleConfig: warmup_configs(LinearWarmupCosineDecayScheduleConfig),
    SchedulerConfig: warmup_configs(SchedulerConfig),
    PeriodicBoolScheduleConfig: st.builds(
        PeriodicBoolScheduleConfig,
        initial_state=st.booleans(),
        on_value=values,
        off_value=values,
        on_duration=st.integers(1, 5),
        off_duration=st.integers(1, 5),
        invert=st.booleans(),
    ),
}
any_config = st.one_of(*STRATEGIES.values())
totals = st.integers(min_value=1, max_value=300)

DECREASING = (DecreasingProgressScheduleConfig,)  # Linear/Cosine/Polynomial/StepDecreasing subclasses too
INCREASING = (IncreasingProgressScheduleConfig,)
WARMUP = (LinearWarmupCosineDecayScheduleConfig, SchedulerConfig)


def bounds(config: AnyScheduleConfig) -> tuple[float, float]:
    """The closed range a config's values promise to stay in."""
    match config:
        case StepDecreasingScheduleConfig() | DecreasingProgressScheduleConfig():
            return config.end_value, config.max_value
        case IncreasingProgressScheduleConfig():
            return config.start_value, config.max_value
        case ProgressScheduleConfig():
            return min(config.start_value, config.end_value), max(config.start_value, config.end_value)
        case StepFixedScheduleConfig() | StepIntervalScheduleConfig():
            return (0.0, config.start_value) if config.factor <= 1 else (config.start_value, math.inf)
        case ConstantScheduleConfig():
            return config.value, config.value
        case CustomScheduleConfig():
            return min(config.values), max(config.values)
        case LinearWarmupCosineDecayScheduleConfig() | SchedulerConfig():
            return min(config.start_value, config.end_value), config.max_value
        case PeriodicBoolScheduleConfig():
            return min(config.on_value, config.off_value), max(config.on_value, config.off_value)
    raise AssertionError(f"no bounds for {type(config).__name__}")


def direction(config: AnyScheduleConfig) -> int:
    """+1 for a non-decreasing curve, -1 for a non-increasing one, 0 for neither (checked elsewhere)."""
    match config:
        case DecreasingProgressScheduleConfig():
            return -1
        case IncreasingProgressScheduleConfig() | ConstantScheduleConfig():
            return 1
        case ProgressScheduleConfig():
            return 1 if config.end_value >= config.start_value else -1
        case StepFixedScheduleConfig() | StepIntervalScheduleConfig():
            return -1 if config.factor <= 1 else 1
    return 0


def curve(config: AnyScheduleConfig, total_steps: int) -> list[float]:
    """The values at steps ``0 .. total_steps - 1``."""
    schedule = make_schedule(config, total_steps)
    return [schedule(step) for step in range(total_steps)]


@settings(max_examples=300, deadline=None)
@given(config=any_config, total_steps=totals)
def test_values_stay_within_the_promised_range(config: AnyScheduleConfig, total_steps: int) -> None:
    """Every value lies between the config's start/end/max values (up to one ulp of Noether's rounding)."""
    low, high = bounds(config)
    for value in curve(config, total_steps):
        # Noether's start + p * (end - start) can round past the end value by about an ulp of the larger end.
        slack = math.ulp(max(abs(low), abs(high))) if math.isfinite(high) else 0.0
        assert low - slack <= value <= high + slack


@settings(max_examples=300, deadline=None)
@given(config=any_config, total_steps=totals)
def test_monotone_kinds_are_monotone(config: AnyScheduleConfig, total_steps: int) -> None:
    """Increasing kinds never decrease and decreasing kinds never increase, over the run and past it."""
    sign = direction(config)
    schedule = make_schedule(config, total_steps)
    values = [schedule(step) for step in range(total_steps + 3)]
    for before, after in pairwise(values):
        assert sign * (after - before) >= 0 or sign == 0


@settings(max_examples=300, deadline=None)
@given(config=st.one_of(*(STRATEGIES[kind] for kind in WARMUP)), total_steps=totals)
def test_warmup_peaks_at_its_last_step_and_decays_after(config: AnyScheduleConfig, total_steps: int) -> None:
    """Warmup kinds rise to exactly max_value at the switch step, without a jump, and never rise after it."""
    total = overhang_total_steps(
        total_steps, overhang_percent=config.overhang_percent, overhang_steps=config.overhang_steps
    )
    switch_step, _ = warmup_span(
        total, warmup_steps=getattr(config, "warmup_steps", None), warmup_percent=config.warmup_percent
    )
    values = curve(config, total_steps)
    warmup, decay = values[: switch_step + 1], values[switch_step:]
    assert all(after >= before for before, after in pairwise(warmup))
    assert all(after <= before for before, after in pairwise(decay))
    if switch_step < total_steps:
        assert values[switch_step] == config.max_value
    if 2 <= switch_step < total_steps and config.warmup_percent != 1.0:
        # Continuity: the step into the peak is an ordinary warmup increment. (Noether's warmup_percent=1.0
        # stretches the warmup over T steps but switches at T - 1, so its last increment is doubled.)
        last_rise = values[switch_step] - values[switch_step - 1]
        assert last_rise == pytest.approx(values[switch_step - 1] - values[switch_step - 2], rel=1e-9, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(config=any_config, total_steps=totals, past=st.integers(min_value=0, max_value=10**6))
def test_total_for_every_step_and_holding_past_the_run(config: AnyScheduleConfig, total_steps: int, past: int) -> None:
    """Any step >= 0 has a finite value; steps at or past the end of the run hold the value at total_steps - 1."""
    last = schedule_value(config, total_steps - 1, total_steps)
    assert math.isfinite(last)
    assert schedule_value(config, total_steps + past, total_steps) == last
    assert make_schedule(config, total_steps)(total_steps + past) == last


@settings(max_examples=200, deadline=None)
@given(config=any_config, total_steps=totals, data=st.data())
def test_schedule_is_stateless(config: AnyScheduleConfig, total_steps: int, data: st.DataObject) -> None:
    """One schedule evaluated in any order equals schedule_value at each step, and the config is unchanged."""
    before = copy.deepcopy(config)
    steps = data.draw(st.lists(st.integers(min_value=0, max_value=2 * total_steps), min_size=1, max_size=30))
    schedule = make_schedule(config, total_steps)
    assert [schedule(step) for step in steps] == [schedule_value(config, step, total_steps) for step in steps]
    assert config == before
