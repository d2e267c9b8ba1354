"""Tests for ``noether.core.schedules.shapes``: each curve's formula, domain and joins."""

from __future__ import annotations

import math
from functools import partial
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noether.core.schedules import (
    constant,
    cosine_decay,
    cosine_progress,
    custom,
    linear_decay,
    linear_progress,
    linear_warmup,
    linear_warmup_cosine_decay,
    linear_warmup_linear_decay,
    overhang_total_steps,
    periodic_bool,
    polynomial_progress,
    progress_value,
    step_decreasing,
    step_fixed,
    step_interval,
    step_progress,
    warmup_span,
    warmup_then_decay,
)

EXACT = 1e-12
ROUNDED = 1e-9
SQRT2 = math.sqrt(2.0)

# Every shape with example hyperparameters, for the contract every shape shares.
SHAPES = {
    "linear_progress": linear_progress,
    "cosine_progress": cosine_progress,
    "polynomial_progress": partial(polynomial_progress, power=2.0),
    "step_progress": partial(step_progress, factor=0.5, interval=0.25),
    "progress_value": partial(progress_value, start_value=2.0, end_value=1.0, exclude_first=True),
    "progress_value down": partial(progress_value, start_value=1.0, end_value=0.1, progress=cosine_progress),
    "progress_value up": partial(progress_value, start_value=0.1, end_value=1.0, exclude_last=True),
    "step_decreasing": partial(step_decreasing, max_value=1.0, factor=0.5, decreases_interval=0.25),
    "step_fixed": partial(step_fixed, start_value=1.0, factor=0.5, steps=(0.3, 0.6)),
    "step_interval": partial(step_interval, start_value=1.0, factor=0.5, update_interval=0.25),
    "constant": partial(constant, value=0.5),
    "custom": partial(custom, values=tuple(float(i) for i in range(64))),
    "periodic_bool": partial(periodic_bool, initial_state=False, on_duration=2, off_duration=3),
    "linear_warmup": partial(linear_warmup, start_value=0.0, max_value=1.0),
    "cosine_decay": partial(cosine_decay, max_value=1.0, end_value=0.0),
    "linear_decay": partial(linear_decay, max_value=1.0, end_value=0.0),
    "warmup_then_decay": partial(
        warmup_then_decay,
        warmup_steps=3,
        warmup=partial(linear_warmup, start_value=0.0, max_value=1.0),
        decay=partial(cosine_decay, max_value=1.0, end_value=0.0),
    ),
    "linear_warmup_cosine_decay": partial(linear_warmup_cosine_decay, warmup_percent=0.1, max_value=1.0, end_value=0.0),
    "linear_warmup_linear_decay": partial(linear_warmup_linear_decay, warmup_steps=4, max_value=1.0, end_value=0.0),
}


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_negative_step_is_an_error(shape: partial) -> None:
    """Every shape rejects a negative step with a message naming it."""
    with pytest.raises(ValueError) as error:
        shape(-1, 10)
    assert str(error.value) == "step must be >= 0 (got -1)"


@pytest.mark.parametrize("shape", SHAPES.values(), ids=SHAPES.keys())
def test_empty_run_is_an_error(shape: partial) -> None:
    """Every shape rejects a run of no steps with a message naming total_steps."""
    with pytest.raises(ValueError) as error:
        shape(0, 0)
    assert str(error.value) == "total_steps must be >= 1 (got 0)"


@settings(max_examples=100, deadline=None)
@given(name=st.sampled_from(sorted(SHAPES)), total_steps=st.integers(1, 64), past=st.integers(0, 10**9))
def test_every_shape_holds_its_last_value_past_the_run(name: str, total_steps: int, past: int) -> None:
    """Every shape is total for steps >= 0 and returns the value at total_steps - 1 for any later step."""
    shape = SHAPES[name]
    assert shape(total_steps + past, total_steps) == shape(total_steps - 1, total_steps)


@pytest.mark.parametrize(
    ("shape", "total_steps", "expected"),
    [
        pytest.param(linear_progress, 5, [0, 0.25, 0.5, 0.75, 1], id="linear"),
        pytest.param(linear_progress, 1, [0], id="linear-single-step"),
        pytest.param(cosine_progress, 5, [0, (2 - SQRT2) / 4, 0.5, (2 + SQRT2) / 4, 1], id="cosine"),
        pytest.param(partial(polynomial_progress, power=2.0), 5, [0, 0.4375, 0.75, 0.9375, 1], id="polynomial-2"),
        pytest.param(
            partial(polynomial_progress, power=0.5),
            5,
            [0, 1 - math.sqrt(0.75), 1 - math.sqrt(0.5), 0.5, 1],
            id="polynomial-0.5",
        ),
        pytest.param(partial(polynomial_progress, power=0.0), 3, [0, 0, 0], id="polynomial-0"),
        pytest.param(
            partial(step_progress, factor=0.1, interval=0.25),
            8,
            [0, 0, 0.9, 0.9, 0.99, 0.99, 0.999, 0.999],
            id="step",
        ),
    ],
)
def test_progress_curves(shape: partial, total_steps: int, expected: list[float]) -> None:
    """Progress curves follow their formulas with p = k / max(1, T - 1) (k / T for the step curve)."""
    assert [shape(k, total_steps) for k in range(total_steps)] == pytest.approx(expected, rel=EXACT, abs=1e-15)


@pytest.mark.parametrize(
    ("exclude_first", "exclude_last", "expected"),
    [
        (False, False, [1, 0.75, 0.5, 0.25, 0]),
        (False, True, [1, 0.8, 0.6, 0.4, 0.2]),
        (True, False, [0.8, 0.6, 0.4, 0.2, 0]),
        (True, True, [5 / 6, 4 / 6, 3 / 6, 2 / 6, 1 / 6]),
    ],
)
def test_exclude_flags(exclude_first: bool, exclude_last: bool, expected: list[float]) -> None:
    """exclude_last stretches the curve by a step; exclude_first also starts it one step in (reference 1.3)."""
    shape = partial(progress_value, start_value=1.0, end_value=0.0, exclude_first=exclude_first, exclude_last=exclude_last)
    assert [shape(k, 5) for k in range(5)] == pytest.approx(expected, rel=EXACT, abs=1e-15)


def test_step_decreasing_towards_an_end_value() -> None:
    """Step decay with an end value halves the distance to it every 0.3 of the run (S18)."""
    shape = partial(step_decreasing, max_value=1.0, end_value=0.2, factor=0.5, decreases_interval=0.3)
    expected = [1, 1, 1, 0.6, 0.6, 0.6, 0.4, 0.4, 0.4, 0.3]
    assert [shape(k, 10) for k in range(10)] == pytest.approx(expected, rel=EXACT)


@pytest.mark.parametrize("steps", [(0.2, 0.5, 0.8), (0.8, 0.2, 0.5)])
def test_step_fixed_ignores_the_order_of_steps(steps: tuple[float, ...]) -> None:
    """step_fixed counts the entries at or below k / T, whatever their order (S20)."""
    values = [step_fixed(k, 10, start_value=1.0, factor=1.5, steps=steps) for k in range(10)]
    assert values == [1, 1, 1.5, 1.5, 1.5, 2.25, 2.25, 2.25, 3.375, 3.375]


def test_step_interval_rounds_before_truncating() -> None:
    """0.6 / 0.2 = 2.9999999999999996 counts as 3 intervals, as in Noether (S22)."""
    values = [step_interval(k, 10, start_value=1.0, factor=0.5, update_interval=0.2) for k in range(10)]
    assert values == [1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125, 0.0625, 0.0625]


def test_custom_needs_a_value_per_step() -> None:
    """custom rejects a run longer than its list, naming both lengths."""
    with pytest.raises(ValueError) as error:
        custom(0, 4, values=(1.0, 2.0, 3.0))
    assert str(error.value) == "values has 3 entries but the run has 4 steps"


def test_polynomial_power_must_not_be_negative() -> None:
    """A negative power would divide by zero at the last step, so it is rejected at every step."""
    with pytest.raises(ValueError) as error:
        polynomial_progress(0, 5, power=-0.5)
    assert str(error.value) == "power must be >= 0 (got -0.5)"


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"initial_state": True}, [1, 0, 1, 0, 1, 0]),
        ({"initial_state": False}, [0, 1, 0, 1, 0, 1]),
        ({"initial_state": True, "on_duration": 2, "off_duration": 1}, [1, 1, 0, 1, 1, 0]),
        ({"initial_state": False, "on_duration": 2, "off_duration": 1}, [0, 1, 1, 0, 1, 1]),
        ({"initial_state": True, "on_duration": 2, "invert": True}, [0, 0, 1, 0, 0, 1]),
        (
            {"initial_state": False, "off_duration": 3, "on_value": 0.5, "off_value": 0.1},
            [0.1, 0.1, 0.1, 0.5, 0.1, 0.1],
        ),
    ],
)
def test_periodic_bool(kwargs: dict, expected: list[float]) -> None:
    """on_value for on_duration steps, off_value for off_duration steps, from initial_state; invert swaps values."""
    assert [periodic_bool(k, 6, **kwargs) for k in range(6)] == expected


@pytest.mark.parametrize(
    ("total_steps", "overhang", "expected"),
    [
        (5, {}, 5),
        (5, {"overhang_steps": 5}, 10),
        (5, {"overhang_percent": 0.5}, 7),
        (5, {"overhang_percent": 0.3}, 6),
        (11, {"overhang_percent": 0.25}, 13),
        (11, {"overhang_steps": 2}, 13),
    ],
)
def test_overhang_total_steps(total_steps: int, overhang: dict, expected: int) -> None:
    """Overhang adds int(T * percent) or a number of steps to the total (reference 1.1, S8-S10, S35)."""
    assert overhang_total_steps(total_steps, **overhang) == expected


def test_both_overhangs_are_an_error() -> None:
    """Setting both overhangs is rejected with Noether's wording (item 9.9)."""
    with pytest.raises(ValueError, match="only one of overhang_percent and overhang_steps"):
        overhang_total_steps(5, overhang_percent=0.1, overhang_steps=1)


@pytest.mark.parametrize(
    ("total_steps", "warmup", "expected"),
    [
        (100, {"warmup_percent": 0.05}, (4, 4)),
        (100, {"warmup_steps": 5}, (5, 5)),
        (11, {"warmup_percent": 0.2}, (2, 2)),
        (5, {"warmup_percent": 1.0}, (4, 5)),
        (5, {"warmup_percent": 0.0}, (0, 0)),
        (5, {"warmup_steps": 10}, (10, 10)),
    ],
)
def test_warmup_span(total_steps: int, warmup: dict, expected: tuple[int, int]) -> None:
    """Percent warmups switch at int(q * (T - 1)); q = 1.0 stretches the warmup over T steps (reference 1.7)."""
    assert warmup_span(total_steps, **warmup) == expected


@pytest.mark.parametrize("warmup", [{}, {"warmup_steps": 1, "warmup_percent": 0.1}])
def test_warmup_span_needs_exactly_one_length(warmup: dict) -> None:
    """A warmup needs exactly one of warmup_steps and warmup_percent."""
    with pytest.raises(ValueError, match="define exactly one of warmup_steps or warmup_percent"):
        warmup_span(10, **warmup)


def test_warmup_then_decay_is_a_join() -> None:
    """The join evaluates the warmup at (k, W) before W and the decay at (k - W, T - W) from W on."""
    calls: list[tuple[str, int, int]] = []

    def warmup(step: int, total_steps: int) -> float:
        calls.append(("warmup", step, total_steps))
        return 0.0

    def decay(step: int, total_steps: int) -> float:
        calls.append(("decay", step, total_steps))
        return 1.0

    values = [warmup_then_decay(k, 5, warmup_steps=2, warmup=warmup, decay=decay) for k in range(6)]
    assert values == [0, 0, 1, 1, 1, 1]
    assert calls == [
        ("warmup", 0, 2),
        ("warmup", 1, 2),
        ("decay", 0, 3),
        ("decay", 1, 3),
        ("decay", 2, 3),
        ("decay", 2, 3),  # step 5 is past the run: it holds step 4
    ]


WARMUP_COSINE_11 = [
    1 / 3, 2 / 3, 1.0, 0.9619398043, 0.853553537, 0.6913420248,
    0.5000005, 0.3086589752, 0.146447463, 0.03806119568, 1e-06,
]  # fmt: skip
COSINE_5 = [1.0, (2 + SQRT2) / 4, 0.5, (2 - SQRT2) / 4, 0.0]


@pytest.mark.parametrize(
    ("kwargs", "total_steps", "expected", "rel"),
    [
        pytest.param({"warmup_steps": 2, "end_value": 0.0}, 6, [1 / 3, 2 / 3, 1, 0.75, 0.25, 0], EXACT, id="S24"),
        pytest.param(
            {"warmup_steps": 3, "start_value": 0.1, "end_value": 0.0},
            7,
            [0.1, 0.4, 0.7, 1, 0.75, 0.25, 0],
            EXACT,
            id="S25",
        ),
        pytest.param({"warmup_percent": 0.2, "end_value": 1e-6}, 11, WARMUP_COSINE_11, ROUNDED, id="S26-percent"),
        pytest.param({"warmup_steps": 2, "end_value": 1e-6}, 11, WARMUP_COSINE_11, ROUNDED, id="S26-steps"),
        pytest.param({"warmup_steps": 0, "end_value": 0.0}, 5, COSINE_5, EXACT, id="S29"),
        pytest.param({"warmup_percent": 1.0, "end_value": 0.0}, 5, [1 / 6, 2 / 6, 3 / 6, 4 / 6, 1], EXACT, id="S30"),
        pytest.param({"warmup_steps": 10, "end_value": 0.0}, 5, [(k + 1) / 11 for k in range(5)], EXACT, id="S31"),
        pytest.param({"warmup_steps": 1, "end_value": 1e-6}, 3, [0.5, 1, 1e-6], EXACT, id="S33"),
    ],
)
def test_linear_warmup_cosine_decay(kwargs: dict, total_steps: int, expected: list[float], rel: float) -> None:
    """The warmup-cosine shape on its own gives the reference's values (S24-S33)."""
    values = [linear_warmup_cosine_decay(k, total_steps, max_value=1.0, **kwargs) for k in range(total_steps)]
    assert values == pytest.approx(expected, rel=rel, abs=1e-15)


def test_linear_warmup_cosine_decay_with_overhang() -> None:
    """Overhang is applied to the total before the join, so the decay stops short of its end (S32)."""
    total = overhang_total_steps(6, overhang_steps=2)
    values = [linear_warmup_cosine_decay(k, total, warmup_steps=2, max_value=1.0, end_value=0.0) for k in range(6)]
    expected = [1 / 3, 2 / 3, 1, 0.9045084972, 0.6545084972, 0.3454915028]
    assert values == pytest.approx(expected, rel=ROUNDED)


def test_linear_warmup_linear_decay() -> None:
    """The SchedulerConfig curve warms up like the cosine one and then decays in a straight line."""
    values = [linear_warmup_linear_decay(k, 7, warmup_percent=0.5, max_value=1.0, end_value=0.1) for k in range(7)]
    assert values == pytest.approx([0.25, 0.5, 0.75, 1.0, 0.7, 0.4, 0.1], rel=EXACT)


@settings(max_examples=200, deadline=None)
@given(total_steps=st.integers(1, 200), step=st.integers(0, 400), power=st.floats(0.01, 8.0))
def test_progress_curves_run_from_zero_to_one(total_steps: int, step: int, power: float) -> None:
    """Progress curves start at exactly 0, end at exactly 1 and stay in [0, 1] in between."""
    for progress in (linear_progress, cosine_progress, partial(polynomial_progress, power=power)):
        assert progress(0, total_steps) == 0.0
        assert 0.0 <= progress(step, total_steps) <= 1.0
        if total_steps >= 2:
            assert progress(total_steps - 1, total_steps) == 1.0


@settings(max_examples=200, deadline=None)
@given(total_steps=st.integers(1, 200), power=st.floats(0.0, 8.0))
def test_progress_curves_never_decrease(total_steps: int, power: float) -> None:
    """Progress curves are non-decreasing over the run and past it."""
    for progress in (linear_progress, cosine_progress, partial(polynomial_progress, power=power)):
        values = [progress(k, total_steps) for k in range(total_steps + 2)]
        assert all(after >= before for before, after in pairwise(values))


values = st.floats(min_value=0.0, max_value=10.0, allow_nan=False)


@st.composite
def warmup_curves(draw: st.DrawFn) -> tuple[partial, int, int]:
    """A warmup-then-decay shape with its total and its switch step."""
    max_value = draw(values)
    start_value = draw(st.floats(0.0, max_value))
    end_value = draw(st.floats(0.0, max_value))
    total_steps = draw(st.integers(1, 300))
    if draw(st.booleans()):
        warmup = {"warmup_steps": draw(st.integers(0, 300))}
    else:
        warmup = {"warmup_percent": draw(st.one_of(st.just(1.0), st.floats(0.0, 1.0)))}
    join = draw(st.sampled_from([linear_warmup_cosine_decay, linear_warmup_linear_decay]))
    shape = partial(join, start_value=start_value, max_value=max_value, end_value=end_value, **warmup)
    return shape, total_steps, warmup_span(total_steps, **warmup)[0]


@settings(max_examples=300, deadline=None)
@given(warmup_curves())
def test_warmup_peaks_exactly_at_the_switch(curve: tuple[partial, int, int]) -> None:
    """The value at the switch step W equals max_value exactly; the warmup rises to it, the decay falls from it."""
    shape, total_steps, switch_step = curve
    values = [shape(k, total_steps) for k in range(total_steps)]
    if switch_step < total_steps:
        assert values[switch_step] == shape.keywords["max_value"]
    warmup, decay = values[: switch_step + 1], values[switch_step:]
    assert all(after >= before for before, after in pairwise(warmup))
    assert all(after <= before for before, after in pairwise(decay))


@settings(max_examples=300, deadline=None)
@given(warmup_curves())
def test_warmup_is_continuous_at_the_switch(curve: tuple[partial, int, int]) -> None:
    """The step into the peak is one ordinary warmup increment, so the curve has no jump at the switch."""
    shape, total_steps, switch_step = curve
    if not 2 <= switch_step < total_steps or shape.keywords.get("warmup_percent") == 1.0:
        return  # no switch inside the run, or Noether's percent=1.0 special case (its last rise is doubled)
    before, last, peak = (shape(k, total_steps) for k in (switch_step - 2, switch_step - 1, switch_step))
    assert peak - last == pytest.approx(last - before, rel=1e-9, abs=1e-12)


def test_warmup_percent_one_doubles_the_last_rise() -> None:
    """Noether's warmup_percent=1.0 reaches max at T - 1 from (T - 1) / (T + 1): a double step, kept as is (S30)."""
    values = [linear_warmup_cosine_decay(k, 5, warmup_percent=1.0, max_value=1.0, end_value=0.0) for k in range(5)]
    assert values[4] - values[3] == pytest.approx(2 * (values[3] - values[2]), rel=EXACT)
