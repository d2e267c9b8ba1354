"""Tests for ``noether.core.training.intervals``: when a periodic callback is due (reference section 5.3)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noether.core.schemas.callbacks import CheckpointCallbackConfig, OnlineLossCallbackConfig
from noether.core.training import Interval, TrainingIteration


def due_samples(interval: Interval, effective_batch_size: int, updates: int) -> list[int]:
    """The sample counts after the updates at which ``interval`` is due."""
    return [
        update * effective_batch_size
        for update in range(1, updates + 1)
        if interval.due_after_update(TrainingIteration(update=update, sample=update * effective_batch_size), effective_batch_size)
    ]


def test_samples_with_a_dividing_batch():
    """Every 1000 samples with batches of 100 fires at 1000 and 2000."""
    assert due_samples(Interval(every_n_samples=1000), 100, 20) == [1000, 2000]


def test_samples_with_a_batch_that_does_not_divide():
    """Every 1000 samples with batches of 300 fires at 1200, 2100 and 3000: when a multiple was crossed."""
    assert due_samples(Interval(every_n_samples=1000), 300, 10) == [1200, 2100, 3000]


def test_samples_larger_batch_than_interval():
    """A batch larger than the interval fires after every update."""
    assert due_samples(Interval(every_n_samples=10), 32, 4) == [32, 64, 96, 128]


def test_updates():
    """Every 3 updates fires at updates 3, 6 and 9, independent of the batch size."""
    interval = Interval(every_n_updates=3)
    due = [u for u in range(1, 11) if interval.due_after_update(TrainingIteration(update=u), effective_batch_size=7)]
    assert due == [3, 6, 9]


def test_epochs_are_never_due_after_an_update():
    """An epoch interval is checked only at the end of an epoch."""
    interval = Interval(every_n_epochs=1)
    assert not interval.due_after_update(TrainingIteration(1, 4, 16), 4)
    assert [e for e in range(1, 7) if interval.due_after_epoch(TrainingIteration(epoch=e))] == [1, 2, 3, 4, 5, 6]
    assert [e for e in range(1, 7) if Interval(every_n_epochs=3).due_after_epoch(TrainingIteration(epoch=e))] == [3, 6]


def test_update_and_sample_intervals_never_fire_after_an_epoch():
    """Only the epoch interval is checked at the end of an epoch."""
    assert not Interval(every_n_updates=1, every_n_samples=1).due_after_epoch(TrainingIteration(1, 4, 16))


def test_empty_interval_is_never_due():
    """An interval with no unit set is never due and has an empty short string."""
    interval = Interval()
    assert not interval.due_after_update(TrainingIteration(1, 4, 16), 4)
    assert not interval.due_after_epoch(TrainingIteration(1, 4, 16))
    assert interval.short_string() == ""


def test_from_config():
    """A callback config's interval is read from its ``every_n_*`` fields; missing attributes count as unset."""
    assert Interval.from_config(CheckpointCallbackConfig(every_n_epochs=5)) == Interval(every_n_epochs=5)
    assert Interval.from_config(OnlineLossCallbackConfig(every_n_updates=10, verbose=True)) == Interval(every_n_updates=10)
    assert Interval.from_config(object()) == Interval()


@pytest.mark.parametrize(
    ("interval", "text"),
    [
        (Interval(every_n_epochs=5), "E5"),
        (Interval(every_n_updates=100), "U100"),
        (Interval(every_n_samples=1000), "S1000"),
        (Interval(every_n_epochs=1, every_n_updates=2, every_n_samples=3), "E1_U2_S3"),
    ],
)
def test_short_string(interval, text):
    """The short string is the unit letter and n, as in the log key ``loss/online/total/U10``."""
    assert interval.short_string() == text


def test_updates_per_interval():
    """The interval in updates: epochs times updates per epoch, updates as is, samples over the batch size."""
    assert Interval(every_n_epochs=2).updates_per_interval(100, 32) == 200.0
    assert Interval(every_n_updates=10).updates_per_interval(100, 32) == 10.0
    assert Interval(every_n_samples=1000).updates_per_interval(100, 300) == pytest.approx(10 / 3)
    assert Interval(every_n_epochs=1, every_n_updates=30).updates_per_interval(100, 32) == 30.0


def test_updates_per_interval_needs_a_unit():
    """An empty interval has no length."""
    with pytest.raises(ValueError) as info:
        Interval().updates_per_interval(100, 32)
    assert str(info.value) == "the interval has no every_n_epochs, every_n_updates or every_n_samples set"


@pytest.mark.parametrize("value", [0, -1, 1.5, True])
def test_counts_must_be_positive_integers(value):
    """An interval of 0, a negative, a float or a bool is rejected."""
    with pytest.raises(ValueError) as info:
        Interval(every_n_updates=value)
    assert str(info.value) == f"every_n_updates must be an int >= 1 or None (got {value!r})"


@given(
    st.integers(min_value=1, max_value=5000),
    st.integers(min_value=1, max_value=500),
    st.integers(min_value=1, max_value=400),
)
def test_sample_interval_fires_once_per_multiple_crossed(every_n_samples, effective_batch_size, updates):
    """The sample interval fires exactly as often as multiples of n are reached, never twice for one multiple."""
    interval = Interval(every_n_samples=every_n_samples)
    fired = due_samples(interval, effective_batch_size, updates)
    assert len(fired) == min(updates * effective_batch_size // every_n_samples, updates)
    if effective_batch_size <= every_n_samples:
        assert len(fired) == updates * effective_batch_size // every_n_samples
