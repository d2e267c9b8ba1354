"""One rule for what a checkpoint tag names (``engine.checkpoint.candidate_tags``), followed by resume
(``find_resume_point``), initializers and ``find_checkpoint``."""

from __future__ import annotations

import pathlib

import hypothesis.strategies as st
import pytest
import torch
from hypothesis import given

from engine.checkpoint import CheckpointWriter, candidate_tags, find_checkpoint
from engine.resume import find_resume_point
from noether.core.config import ConfigError
from noether.core.training import TrainingIteration

STORED = {
    "last": TrainingIteration(2, 4, 16),
    "E1_U2_S8": TrainingIteration(1, 2, 8),
    "E2_U4_S16": TrainingIteration(2, 4, 16),
    "best_model.loss.val.total": TrainingIteration(1, 3, 12),
    "E2_U5_S20.error": TrainingIteration(2, 5, 20),
}
"""A run's checkpoints as their manifests record them: periodic, named, and one saved by a failed update (in
no particular order: ``last`` comes first so that the periodic-before-named rule is what orders E2_U4_S16 first)."""


@pytest.mark.parametrize(("tag", "expected"), [
    ("latest", ["E2_U4_S16", "last", "best_model.loss.val.total", "E1_U2_S8", "E2_U5_S20.error"]),
    ("last", ["last"]),
    ("best_model.loss.val.total", ["best_model.loss.val.total"]),
    ("E2_U4_S16", ["E2_U4_S16"]),
    ("E2", ["E2_U4_S16", "last", "E2_U5_S20.error"]),
    ("U3", ["best_model.loss.val.total"]),
    ("S16", ["E2_U4_S16", "last"]),
    (TrainingIteration(epoch=1), ["E1_U2_S8", "best_model.loss.val.total"]),
    (TrainingIteration(2, 4, 16), ["E2_U4_S16", "last"]),
    ("E7", []),
    ("best", []),
])
def test_every_tag_form(tag, expected):
    """``latest``: newest first, a failed update's checkpoint last; an exact tag; a count (string or iteration):
    the earliest match first, periodic before named at the same update; an unknown tag: nothing."""
    assert candidate_tags(STORED, tag) == expected


def test_latest_prefers_what_the_caller_prefers():
    """Resume prefers checkpoints that hold the optimizer state: ``prefer`` ranks above the update."""
    assert candidate_tags(STORED, "latest", prefer=lambda tag: tag.startswith("E1"))[:2] == ["E1_U2_S8", "E2_U4_S16"]


def test_a_directory_written_by_noether_has_only_names():
    """Without manifests a periodic tag's name tells its iteration and Noether's ``latest`` is the newest."""
    noether = {"E1_U10_S80": None, "E2_U20_S160": None, "latest": None, "best_model.loss": None}
    assert candidate_tags(noether, "latest") == ["latest", "E2_U20_S160", "E1_U10_S80", "best_model.loss"]
    assert candidate_tags(noether, "E2") == ["E2_U20_S160"]
    assert candidate_tags({"E1_U10_S80": None, "E2_U20_S160": None}, "latest")[0] == "E2_U20_S160"


iterations = st.builds(TrainingIteration, st.integers(0, 5), st.integers(0, 30), st.integers(0, 300))
stored_sets = st.dictionaries(
    st.one_of(iterations.map(str), st.sampled_from(["last", "latest", "best_model.x", "E1_U1_S1.error"])),
    iterations, max_size=8)


@given(stored_sets)
def test_latest_orders_every_checkpoint(stored):
    """``latest`` tries every stored checkpoint once; a failed update's checkpoint only after all others, and
    among the others the first has the highest update."""
    order = candidate_tags(stored, "latest")
    assert sorted(order) == sorted(stored)
    normal = [tag for tag in order if not tag.endswith(".error")]
    assert order[:len(normal)] == normal
    if normal:
        assert stored[normal[0]].update == max(stored[tag].update for tag in normal)


@given(stored_sets, st.sampled_from(["epoch", "update", "sample"]), st.integers(0, 30))
def test_a_count_names_exactly_the_checkpoints_with_it_earliest_first(stored, field, count):
    """``E3`` / ``U3`` / ``S3``: every checkpoint whose recorded count matches, ordered by update."""
    tag = f"{field[0].upper()}{count}"
    order = candidate_tags(stored, tag)
    assert sorted(order) == sorted(name for name, iteration in stored.items() if getattr(iteration, field) == count)
    assert [stored[name].update for name in order] == sorted(stored[name].update for name in order)


@given(stored_sets, st.sampled_from(["latest", "E1", "U4", "S16", "last"]), st.randoms())
def test_the_order_of_the_directory_listing_does_not_matter(stored, tag, random):
    shuffled = list(stored.items())
    random.shuffle(shuffled)
    assert candidate_tags(dict(shuffled), tag) == candidate_tags(stored, tag)


@given(stored_sets)
def test_an_exact_tag_names_itself(stored):
    for tag in stored:
        if tag != "latest":
            assert candidate_tags(stored, tag) == [tag]


def save_run(directory: pathlib.Path) -> None:
    """Checkpoints of model ``net``: periodic E1 and E2 (trainer state, E1 without optimizer state), a
    weights-only best model, and the ``.error`` checkpoint of a failed update after them."""
    torch.manual_seed(0)
    model = torch.nn.Linear(2, 2)
    model.name = "net"
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    writer = CheckpointWriter(directory, run_id="run", model=model, optimizers={"net": optimizer},
                              trainer_state=lambda: {"note": "trainer"})
    writer.save("E1_U2_S8", TrainingIteration(1, 2, 8), trainer=True)
    writer.save("E2_U4_S16", TrainingIteration(2, 4, 16), optim=True, trainer=True)
    writer.save("best_model.loss", TrainingIteration(1, 2, 8))
    writer.save("E2_U5_S20.error", TrainingIteration(2, 5, 20), optim=True, trainer=True)


@pytest.mark.parametrize(("tag", "expected"), [
    ("latest", "E2_U4_S16"),
    ("E1", "E1_U2_S8"),
    ("U5", "E2_U5_S20.error"),
    ("best_model.loss", "best_model.loss"),
])
def test_resume_and_find_checkpoint_follow_the_rule(tmp_path, tag, expected):
    """Resume chooses among checkpoints that hold trainer state (an exact tag may name any); ``find_checkpoint``
    among all; both take the first candidate that verifies."""
    save_run(tmp_path)
    point = find_resume_point(tmp_path, "net", tag)
    assert point.tag == expected
    assert (point.trainer_state is None) == (expected == "best_model.loss")
    assert f"net_cp={expected}_model.th" in find_checkpoint(tmp_path, "net", tag)


def test_resume_from_latest_skips_a_torn_checkpoint(tmp_path):
    """A flipped byte in the newest checkpoint: ``latest`` warns, naming the file, and takes the next one."""
    save_run(tmp_path)
    torn = tmp_path / "net_cp=E2_U4_S16_trainer.th"
    data = bytearray(torn.read_bytes())
    data[len(data) // 2] ^= 0xFF
    torn.write_bytes(bytes(data))
    with pytest.warns(UserWarning, match=f"skipping checkpoint 'E2_U4_S16': {torn} does not match its checksum"):
        assert find_resume_point(tmp_path, "net", "latest").tag == "E1_U2_S8"


def test_resume_from_a_missing_tag_lists_the_tags(tmp_path):
    save_run(tmp_path)
    with pytest.raises(ConfigError) as caught:
        find_resume_point(tmp_path, "net", "E9")
    assert str(caught.value) == ("resume_checkpoint: no verified checkpoint 'E9' to resume from (available: "
                                 "E1_U2_S8, E2_U4_S16, E2_U5_S20.error, best_model.loss)")


def test_resume_with_another_model_name_names_the_models_there(tmp_path):
    """The ancestor's checkpoints are of model ``net``; resuming a model named ``surrogate`` says so."""
    save_run(tmp_path)
    with pytest.raises(ConfigError) as caught:
        find_resume_point(tmp_path, "surrogate", "latest")
    assert str(caught.value) == (f"model.name: the run being resumed has no checkpoint of model 'surrogate' in "
                                 f"{tmp_path} (models there: net)")
