"""Tests for ``noether.core.training.iteration``: strings, parsing, arithmetic, filling in counts."""

from __future__ import annotations

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from noether.core.training import TrainingIteration

TI = TrainingIteration
counts = st.integers(min_value=0, max_value=10**12)


@pytest.mark.parametrize(
    ("iteration", "text"),
    [
        (TI(5, 342, 123155), "E5_U342_S123155"),
        (TI(epoch=5), "Epoch: 5"),
        (TI(update=5), "Update: 5"),
        (TI(sample=5), "Sample: 5"),
        (TI(epoch=5, update=10), "E5_U10_SNone"),
        (TI(), "ENone_UNone_SNone"),
    ],
)
def test_str(iteration, text):
    """``str()`` is the checkpoint tag, or ``<Unit>: n`` when exactly one count is set (Noether's format)."""
    assert str(iteration) == text


def test_specification_properties():
    """Fully specified means all three counts, minimally specified exactly one."""
    assert [TI(1, 2, 3).is_fully_specified, TI(1, 2, 3).is_minimally_specified] == [True, False]
    assert [TI(epoch=1).is_fully_specified, TI(epoch=1).is_minimally_specified] == [False, True]
    assert [TI(epoch=1, sample=2).is_fully_specified, TI(epoch=1, sample=2).is_minimally_specified] == [False, False]
    assert [TI().is_fully_specified, TI().is_minimally_specified] == [False, False]


def test_is_frozen_hashable_and_equal_by_value():
    """Iterations are immutable values: equal by their counts and usable as dict keys."""
    iteration = TI(1, 4, 16)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        iteration.epoch = 2  # type: ignore[misc]
    assert iteration == TI(epoch=1, update=4, sample=16)
    assert {iteration: "a"}[TI(1, 4, 16)] == "a"
    assert TI(1, 4, 16) != TI(1, 4, None)


def test_counts_must_be_integers():
    """A float or a bool is not a count; numpy-style integers are converted to ``int``."""
    with pytest.raises(TypeError, match=r"a count must be an int or None \(got 1.5\)"):
        TI(epoch=1.5)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"a count must be an int or None \(got True\)"):
        TI(update=True)

    class Index:
        def __index__(self) -> int:
            return 7

    assert TI(update=Index()).update == 7  # type: ignore[arg-type]
    assert type(TI(update=Index()).update) is int  # type: ignore[arg-type]


def test_add_and_subtract_elementwise():
    """``+`` and ``-`` work count by count and keep unset counts unset."""
    assert TI(1, 10, 100) + TI(2, 20, 200) == TI(3, 30, 300)
    assert TI(5, 500, 16000) - TI(1, 100, 3200) == TI(4, 400, 12800)
    assert TI(epoch=10) - TI(epoch=5) == TI(epoch=5)


def test_add_with_different_counts_is_a_value_error():
    """Adding iterations with different counts set is a ``ValueError`` naming both sets."""
    with pytest.raises(ValueError) as info:
        TI(1, 2, 3) + TI(epoch=1)
    assert str(info.value) == "both iterations must have the same counts set (got epoch/update/sample and epoch)"
    with pytest.raises(ValueError, match=r"\(got none and update\)$"):
        TI() - TI(update=1)


def test_add_other_types_is_not_supported():
    """Adding a number to an iteration is a ``TypeError``."""
    with pytest.raises(TypeError):
        TI(1, 2, 3) + 1  # type: ignore[operator]


@pytest.mark.parametrize(
    ("iteration", "expected"),
    [
        (TI(update=25), TI(2, 25, 100)),
        (TI(sample=18), TI(1, 4, 16)),
        (TI(epoch=3), TI(3, 30, 120)),
        (TI(sample=0), TI(0, 0, 0)),
        (TI(7, 1, 2), TI(7, 1, 2)),
    ],
)
def test_to_fully_specified(iteration, expected):
    """Noether's examples: update 25 with 10 updates per epoch and batch 4 is E2_U25_S100; sample 18 is E1_U4_S16."""
    upe, ebs = (4, 4) if iteration == TI(sample=18) else (10, 4)
    assert iteration.to_fully_specified(upe, ebs) == expected


def test_to_fully_specified_needs_exactly_one_count():
    """An iteration with two counts set cannot be filled in."""
    with pytest.raises(ValueError) as info:
        TI(epoch=1, update=4).to_fully_specified(4, 4)
    assert str(info.value) == "exactly one of epoch, update, sample must be set to fill in the others (got E1_U4_SNone)"
    with pytest.raises(ValueError, match=r"must be >= 1 \(got 0 and 4\)"):
        TI(epoch=1).to_fully_specified(0, 4)


def test_reached():
    """``reached`` compares only the counts the target sets, all of which must be at least as large."""
    current = TI(2, 8, 32)
    assert current.reached(TI(epoch=2))
    assert current.reached(TI(update=8))
    assert not current.reached(TI(update=9))
    assert current.reached(TI(2, 8, 32))
    assert not current.reached(TI(1, 9, 0))
    assert current.reached(TI())


def test_reached_needs_the_targets_counts():
    """Comparing with a target that sets a count this iteration lacks is a ``ValueError``."""
    with pytest.raises(ValueError) as info:
        TI(update=3).reached(TI(epoch=1))
    assert str(info.value) == "cannot compare: epoch is not set here but is in the target (got Update: 3, target Epoch: 1)"


def test_as_dict_has_only_set_counts():
    """``as_dict`` leaves out unset counts."""
    assert TI(1, 4, 16).as_dict() == {"epoch": 1, "update": 4, "sample": 16}
    assert TI(update=4).as_dict() == {"update": 4}
    assert TI().as_dict() == {}


def test_from_string():
    """A full tag parses into a fully specified iteration."""
    assert TI.from_string("E5_U342_S123155") == TI(5, 342, 123155)
    assert TI.from_string("E0_U0_S0") == TI(0, 0, 0)


@pytest.mark.parametrize("text", ["", "E5_U342", "E5_U342_S", "cp=E5_U342_S1", "E5_U342_S1_model.th", "e5_u1_s1", "E-1_U0_S0"])
def test_from_string_rejects_anything_but_a_whole_tag(text):
    """Parsing is anchored at both ends and names the expected form."""
    with pytest.raises(ValueError) as info:
        TI.from_string(text)
    assert str(info.value) == (
        f"not a training iteration of the form E<epoch>_U<update>_S<sample>, e.g. E1_U4_S16 (got {text!r})"
    )


def test_find_in():
    """``find_in`` finds a tag anywhere in a file name and returns None when there is none."""
    assert TI.find_in("m_cp=E1_U4_S16_model.th") == TI(1, 4, 16)
    assert TI.find_in("encoder_cp=E12_U400_S6400.signal_interrupt_optim.th") == TI(12, 400, 6400)
    assert TI.find_in("E3_U30_S120") == TI(3, 30, 120)
    assert TI.find_in("m_cp=latest_model.th") is None
    assert TI.find_in("m_cp=E1_U4_model.th") is None
    assert TI.find_in("") is None


@given(counts, counts, counts)
def test_string_round_trip(epoch, update, sample):
    """A fully specified iteration survives ``str`` and ``from_string``, and ``find_in`` in a file name."""
    iteration = TI(epoch, update, sample)
    assert TI.from_string(str(iteration)) == iteration
    assert TI.find_in(f"model_cp={iteration}_model.th") == iteration


@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=1, max_value=1000), st.integers(1, 1000))
def test_to_fully_specified_is_consistent(update, updates_per_epoch, effective_batch_size):
    """Filling in from any single count gives the same iteration as filling in from its update."""
    full = TI(update=update).to_fully_specified(updates_per_epoch, effective_batch_size)
    assert full == TI(update // updates_per_epoch, update, update * effective_batch_size)
    assert TI(sample=full.sample).to_fully_specified(updates_per_epoch, effective_batch_size) == full
    epoch_end = TI(epoch=full.epoch).to_fully_specified(updates_per_epoch, effective_batch_size)
    assert epoch_end.update == full.epoch * updates_per_epoch
