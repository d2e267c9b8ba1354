"""The differences between a stored run's config and a resumed run's, grouped by how much they matter."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from noether.core.config.diff import (
    HARMLESS,
    SCHEDULE_CHANGING,
    UNSAFE,
    Difference,
    category_of,
    config_differences,
    describe_differences,
)


@pytest.mark.parametrize(("path", "category"), [
    ("trainer.max_epochs", SCHEDULE_CHANGING),
    ("trainer.effective_batch_size", SCHEDULE_CHANGING),
    ("trainer.max_batch_size", SCHEDULE_CHANGING),
    ("trainer.callbacks[1].every_n_epochs", HARMLESS),
    ("trainer.log_every_n_updates", HARMLESS),
    ("trainer.kind", UNSAFE),
    ("model.kind", UNSAFE),
    ("model.hidden_channels", UNSAFE),
    ("model.optimizer_config.kind", UNSAFE),
    ("model.optimizer_config.lr", SCHEDULE_CHANGING),
    ("model.optimizer_config.schedule_config.end_value", SCHEDULE_CHANGING),
    ("model.encoder.optimizer_config.kind", UNSAFE),
    ("model.is_frozen", HARMLESS),
    ("datasets.train.kind", UNSAFE),
    ("datasets.train.num_samples", SCHEDULE_CHANGING),
    ("seed", SCHEDULE_CHANGING),
    ("tracker.log_dir", HARMLESS),
    ("run_id", HARMLESS),
    ("resume_run_id", HARMLESS),
    ("output_path", HARMLESS),
])
def test_category_of(path: str, category: str) -> None:
    """Each kind of leaf lands in its category."""
    assert category_of(path) == category


def test_differences_of_nested_configs() -> None:
    """Changed, added and removed leaves (also inside lists) are listed in path order with old and new values."""
    old = {"trainer": {"max_epochs": 5, "callbacks": [{"every_n_epochs": 1}]}, "model": {"kind": "a.B", "width": 8}}
    new = {"trainer": {"max_epochs": 8, "callbacks": [{"every_n_epochs": 2}, {"every_n_updates": 3}]},
           "model": {"kind": "a.B"}}
    assert config_differences(old, new) == [
        Difference("model.width", 8, None, UNSAFE),
        Difference("trainer.callbacks[0].every_n_epochs", 1, 2, HARMLESS),
        Difference("trainer.callbacks[1].every_n_updates", None, 3, HARMLESS),
        Difference("trainer.max_epochs", 5, 8, SCHEDULE_CHANGING),
    ]


def test_description_groups_unsafe_first() -> None:
    """The text lists unsafe, then schedule-changing, then harmless changes."""
    differences = [Difference("trainer.max_epochs", 5, 8, SCHEDULE_CHANGING), Difference("model.width", 8, 16, UNSAFE),
                   Difference("run_id", "a", "b", HARMLESS)]
    assert describe_differences(differences) == (
        "unsafe changes:\n  model.width: 8 -> 16\n"
        "schedule-changing changes:\n  trainer.max_epochs: 5 -> 8\n"
        "harmless changes:\n  run_id: 'a' -> 'b'"
    )
    assert describe_differences([]) == ""


configs = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=3),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.sampled_from("abc"), children, max_size=3),
    max_leaves=10,
)


@given(st.dictionaries(st.sampled_from(["model", "trainer", "seed"]), configs, max_size=3))
def test_a_config_does_not_differ_from_itself(config: dict) -> None:
    """Comparing a config with itself finds nothing."""
    assert config_differences(config, config) == []


@given(st.dictionaries(st.sampled_from(["model", "trainer", "seed"]), configs, max_size=3),
       st.dictionaries(st.sampled_from(["model", "trainer", "seed"]), configs, max_size=3))
def test_differences_are_symmetric(first: dict, second: dict) -> None:
    """The same paths differ in both directions, with old and new swapped."""
    forward = config_differences(first, second)
    backward = config_differences(second, first)
    assert [(d.path, d.old, d.new) for d in forward] == [(d.path, d.new, d.old) for d in backward]
