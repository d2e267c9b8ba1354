"""Tests for ``noether.core.training.plan``: batch sizes, accumulation, updates per epoch, ends, schedule positions."""

from __future__ import annotations

from itertools import pairwise

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from noether.core.config import ConfigError
from noether.core.schemas import BaseTrainerConfig
from noether.core.training import TrainingIteration, TrainingPlan, plan_training
from noether.core.training.plan import split_micro_batches

TI = TrainingIteration


def trainer(**fields) -> BaseTrainerConfig:
    """A trainer config with a kind and, unless given, ``max_epochs=1`` and ``effective_batch_size=8``."""
    if not any(name in fields for name in ("max_epochs", "max_updates", "max_samples")):
        fields["max_epochs"] = 1
    fields.setdefault("effective_batch_size", 8)
    return BaseTrainerConfig(kind="my_project.Trainer", **fields)


def config_error_lines(config: BaseTrainerConfig, dataset_length: int, world_size: int = 1, **kwargs) -> list[str]:
    """The rendered lines of the ``ConfigError`` that planning raises."""
    with pytest.raises(ConfigError) as info:
        plan_training(config, dataset_length, world_size, **kwargs)
    return str(info.value).splitlines()


# Noether's counter examples (reference 4.3): start and end iterations.


def test_epoch_end_from_the_start():
    """Start E0, end epoch 10, 100 updates per epoch, batch 32: the end is E10_U1000_S32000."""
    plan = plan_training(trainer(max_epochs=10, effective_batch_size=32), dataset_length=3210)
    assert plan.updates_per_epoch == 100
    assert (str(plan.start), str(plan.end)) == ("E0_U0_S0", "E10_U1000_S32000")
    assert (plan.total_updates, plan.total_epochs, plan.total_samples) == (1000, 10, 32000)


def test_start_at_epoch_keeps_the_end_absolute():
    """Start at epoch 5 with an end at epoch 10: start E5_U500_S16000, end E10_U1000_S32000."""
    plan = plan_training(trainer(max_epochs=10, start_at_epoch=5, effective_batch_size=32), dataset_length=3200)
    assert (str(plan.start), str(plan.end)) == ("E5_U500_S16000", "E10_U1000_S32000")
    assert plan.total_updates == 1000


def test_sample_end_drops_the_partial_update():
    """End at 1000 samples with 7 updates per epoch of 32: E4_U31_S992."""
    plan = plan_training(trainer(max_samples=1000, effective_batch_size=32), dataset_length=250)
    assert plan.updates_per_epoch == 7
    assert str(plan.end) == "E4_U31_S992"
    assert (plan.total_updates, plan.total_epochs, plan.total_samples) == (31, 5, 992)


def test_update_end_after_start_at_epoch():
    """Start at epoch 2 (E2_U14_S448) with an end at update 20: E2_U20_S640."""
    plan = plan_training(trainer(max_updates=20, start_at_epoch=2, effective_batch_size=32), dataset_length=224)
    assert (str(plan.start), str(plan.end)) == ("E2_U14_S448", "E2_U20_S640")


def test_updates_per_epoch_drops_the_remainder():
    """The samples that do not fill an update are dropped each epoch."""
    plan = plan_training(trainer(max_epochs=2, effective_batch_size=10), dataset_length=39)
    assert (plan.updates_per_epoch, plan.total_updates, plan.total_samples) == (3, 6, 60)


# Batch sizes and accumulation (reference 4.4, adapted to DESIGN.md section 5).


@pytest.mark.parametrize(
    ("effective_batch_size", "max_batch_size", "world_size", "per_device", "micro_batch_sizes"),
    [
        pytest.param(8, 2, 1, 8, (2, 2, 2, 2), id="ebs8-mbs2-accumulates-4"),
        pytest.param(4, 8, 1, 4, (4,), id="ebs4-mbs8-no-accumulation"),
        pytest.param(7, 4, 1, 7, (4, 3), id="ebs7-mbs4-uneven-last"),
        pytest.param(128, 48, 2, 64, (24, 24, 16), id="global-cap-per-device"),
        pytest.param(64, 16, 4, 16, (4, 4, 4, 4), id="four-devices"),
        pytest.param(12, 12, 3, 4, (4,), id="cap-equals-batch"),
        pytest.param(8, None, 2, 4, (4,), id="no-cap"),
    ],
)
def test_micro_batch_sizes(effective_batch_size, max_batch_size, world_size, per_device, micro_batch_sizes):
    """``max_batch_size`` caps the micro-batch over all devices; the last micro-batch may be smaller."""
    config = trainer(effective_batch_size=effective_batch_size, max_batch_size=max_batch_size)
    plan = plan_training(config, dataset_length=1000, world_size=world_size)
    assert plan.batch_size_per_device == per_device
    assert plan.micro_batch_sizes == micro_batch_sizes
    assert plan.accumulation_steps == len(micro_batch_sizes)


def test_disable_gradient_accumulation_ignores_max_batch_size():
    """With ``disable_gradient_accumulation`` the whole per-device batch runs at once, even with a bad cap."""
    config = trainer(effective_batch_size=8, max_batch_size=3, disable_gradient_accumulation=True)
    plan = plan_training(config, dataset_length=100, world_size=2)
    assert plan.micro_batch_sizes == (4,)


def test_accumulation_works_with_max_updates():
    """Unlike Noether, accumulation is allowed with an update-based end."""
    plan = plan_training(trainer(max_updates=10, effective_batch_size=8, max_batch_size=2), dataset_length=100)
    assert (plan.micro_batch_sizes, plan.total_updates, plan.updates_per_epoch) == ((2, 2, 2, 2), 10, 12)


def test_split_micro_batches_rejects_sizes_below_one():
    """The pure splitter rejects an empty batch and a zero cap."""
    with pytest.raises(ValueError, match=r"batch_size_per_device must be >= 1 \(got 0\)"):
        split_micro_batches(0, 4)
    with pytest.raises(ValueError, match=r"max_micro_batch_size must be >= 1 \(got 0\)"):
        split_micro_batches(4, 0)


# max_* = 0: an evaluation run.


@pytest.mark.parametrize("end", [{"max_epochs": 0}, {"max_updates": 0}, {"max_samples": 0}])
def test_zero_end_is_an_eval_run(end):
    """``max_*: 0`` ends at update 0 and still computes the micro-batches."""
    plan = plan_training(trainer(**end, effective_batch_size=8, max_batch_size=4), dataset_length=40)
    assert (str(plan.start), str(plan.end)) == ("E0_U0_S0", "E0_U0_S0")
    assert (plan.total_updates, plan.total_epochs, plan.total_samples) == (0, 0, 0)
    assert plan.micro_batch_sizes == (4, 4)
    assert plan.schedule_position(0) == (0, 0)
    assert plan.schedule_position(0, "epoch") == (0, 0)


# Errors, rendered exactly.


def test_effective_batch_size_not_divisible_by_world_size():
    """A global batch that the devices cannot share evenly is an error at ``trainer.effective_batch_size``."""
    assert config_error_lines(trainer(effective_batch_size=5), dataset_length=100, world_size=2) == [
        "trainer.effective_batch_size: must be a multiple of the world size 2 (got 5)"
    ]


def test_max_batch_size_not_divisible_by_world_size():
    """A global micro-batch cap that the devices cannot share evenly is an error at ``trainer.max_batch_size``."""
    assert config_error_lines(trainer(effective_batch_size=8, max_batch_size=3), dataset_length=100, world_size=2) == [
        "trainer.max_batch_size: must be a multiple of the world size 2, as it caps the micro-batch over all "
        "devices (got 3)"
    ]


def test_dataset_shorter_than_one_update():
    """A train dataset with fewer samples than one update is an error naming both numbers."""
    assert config_error_lines(trainer(effective_batch_size=16), dataset_length=10) == [
        "trainer.effective_batch_size: must not exceed the length of the train dataset, 10 samples (got 16)"
    ]


def test_every_batch_problem_is_reported_at_once():
    """All batch-size problems come in one error, each with its path, under a custom path prefix."""
    config = trainer(effective_batch_size=33, max_batch_size=5)
    assert config_error_lines(config, dataset_length=20, world_size=2, path="stages[1].trainer") == [
        "stages[1].trainer.effective_batch_size: must be a multiple of the world size 2 (got 33)",
        "stages[1].trainer.max_batch_size: must be a multiple of the world size 2, as it caps the micro-batch over "
        "all devices (got 5)",
        "stages[1].trainer.effective_batch_size: must not exceed the length of the train dataset, 20 samples (got 33)",
    ]


def test_end_problems_are_reported_with_batch_problems():
    """A batch problem and an end problem are reported together."""
    config = trainer(effective_batch_size=9, max_samples=5, start_at_epoch=1)
    assert config_error_lines(config, dataset_length=100, world_size=2) == [
        "trainer.effective_batch_size: must be a multiple of the world size 2 (got 9)",
        "trainer.max_samples: must be 0 or at least one update of effective_batch_size 9 samples (got 5)",
        "trainer.start_at_epoch: must not start after the end of training at update 0 (got 1, which starts at "
        "update 11)",
    ]


def test_start_at_epoch_after_the_end():
    """Starting after the end of training is an error at ``trainer.start_at_epoch``."""
    assert config_error_lines(trainer(max_epochs=3, start_at_epoch=4), dataset_length=80) == [
        "trainer.start_at_epoch: must not start after the end of training at update 30 (got 4, which starts at "
        "update 40)"
    ]


def test_start_at_the_end_is_allowed():
    """Starting exactly at the end trains nothing but is not an error."""
    plan = plan_training(trainer(max_epochs=3, start_at_epoch=3), dataset_length=80)
    assert plan.start == plan.end == TI(3, 30, 240)


def test_bad_arguments_are_value_errors():
    """A world size below 1 or a negative dataset length is a programming error, not a config error."""
    with pytest.raises(ValueError, match=r"^world_size must be >= 1 \(got 0\)$"):
        plan_training(trainer(), dataset_length=100, world_size=0)
    with pytest.raises(ValueError, match=r"^dataset_length must be >= 0 \(got -1\)$"):
        plan_training(trainer(), dataset_length=-1)


# Positions, epoch ends and resume.


def test_schedule_position_by_update():
    """An update schedule sees the absolute update and the total updates."""
    plan = plan_training(trainer(max_updates=10, effective_batch_size=4), dataset_length=16)
    assert [plan.schedule_position(update) for update in (0, 5, 9)] == [(0, 10), (5, 10), (9, 10)]


def test_schedule_position_by_epoch_for_a_run_ending_mid_epoch():
    """With 4 updates per epoch and 10 updates the epoch schedule runs over 3 epochs, the last one partial."""
    plan = plan_training(trainer(max_updates=10, effective_batch_size=4), dataset_length=16)
    positions = [plan.schedule_position(update, "epoch") for update in range(10)]
    assert [step for step, _ in positions] == [0, 0, 0, 0, 1, 1, 1, 1, 2, 2]
    assert {total for _, total in positions} == {3}
    assert plan.total_epochs == 3


def test_schedule_position_rejects_bad_arguments():
    """A negative update or an unknown interval is a ``ValueError``."""
    plan = plan_training(trainer(max_updates=10, effective_batch_size=4), dataset_length=16)
    with pytest.raises(ValueError, match=r"^update must be >= 0 \(got -1\)$"):
        plan.schedule_position(-1)
    with pytest.raises(ValueError, match=r"^interval must be 'update' or 'epoch' \(got 'sample'\)$"):
        plan.schedule_position(0, "sample")


def test_is_epoch_end():
    """Only updates that complete a full epoch end one; the start and a final partial epoch do not."""
    plan = plan_training(trainer(max_updates=10, effective_batch_size=4), dataset_length=16)
    assert [update for update in range(11) if plan.is_epoch_end(update)] == [4, 8]


def test_iteration_at():
    """The iteration after ``u`` updates is ``E{u // upe}_U{u}_S{u * ebs}``."""
    plan = plan_training(trainer(max_updates=10, effective_batch_size=4), dataset_length=16)
    assert [str(plan.iteration_at(update)) for update in (0, 3, 4, 10)] == [
        "E0_U0_S0", "E0_U3_S12", "E1_U4_S16", "E2_U10_S40",
    ]  # fmt: skip


def test_starting_at_for_a_resume_mid_epoch():
    """A resume mid-epoch starts at that update and keeps the end."""
    plan = plan_training(trainer(max_epochs=3, effective_batch_size=4), dataset_length=16)
    resumed = plan.starting_at(6)
    assert (str(resumed.start), str(resumed.end)) == ("E1_U6_S24", "E3_U12_S48")
    assert attrs.evolve(resumed, start=plan.start) == plan
    assert str(plan.starting_at(12).start) == "E3_U12_S48"
    with pytest.raises(ValueError, match=r"^update must be between 0 and total_updates 12 \(got 13\)$"):
        plan.starting_at(13)


def test_a_hand_built_plan_must_be_consistent():
    """Constructing an inconsistent plan names every inconsistency."""
    with pytest.raises(ValueError) as info:
        TrainingPlan(
            world_size=2,
            dataset_length=100,
            effective_batch_size=16,
            batch_size_per_device=4,
            micro_batch_sizes=(3,),
            updates_per_epoch=7,
            start=TI(0, 0, 0),
            end=TI(1, 10, 160),
        )
    assert str(info.value) == (
        "inconsistent TrainingPlan: batch_size_per_device * world_size must equal effective_batch_size "
        "(got 4 * 2 != 16); micro_batch_sizes must sum to batch_size_per_device 4 (got (3,)); "
        "updates_per_epoch must be dataset_length // effective_batch_size = 6 (got 7)"
    )


def test_a_hand_built_plan_needs_consistent_iterations():
    """Start and end must be the plan's own iterations, in order."""
    fields = dict(
        world_size=1, dataset_length=16, effective_batch_size=4, batch_size_per_device=4,
        micro_batch_sizes=(4,), updates_per_epoch=4,
    )  # fmt: skip
    with pytest.raises(ValueError, match=r"start must be E0_U1_S4 \(got E1_U1_S4\); end must be fully specified"):
        TrainingPlan(**fields, start=TI(1, 1, 4), end=TI(update=8))
    with pytest.raises(ValueError, match=r"start must not be after end \(got start E2_U8_S32, end E1_U4_S16\)"):
        TrainingPlan(**fields, start=TI(2, 8, 32), end=TI(1, 4, 16))


# Properties.

worlds = st.integers(min_value=1, max_value=16)


@st.composite
def trainer_configs(draw) -> tuple[BaseTrainerConfig, int, int]:
    """A valid trainer config, a dataset length and a world size that it can be planned with."""
    world_size = draw(worlds)
    per_device = draw(st.integers(min_value=1, max_value=512))
    effective_batch_size = per_device * world_size
    cap = draw(st.none() | st.integers(min_value=1, max_value=600).map(lambda m: m * world_size))
    updates_per_epoch = draw(st.integers(min_value=1, max_value=50))
    dataset_length = effective_batch_size * updates_per_epoch + draw(st.integers(0, effective_batch_size - 1))
    end = draw(
        st.sampled_from(["max_epochs", "max_updates", "max_samples"]).flatmap(
            lambda name: st.integers(min_value=0, max_value=2000).map(lambda value: {name: value})
        )
    )
    if end.get("max_samples", 0) and end["max_samples"] < effective_batch_size:
        end["max_samples"] += effective_batch_size
    config = trainer(
        **end,
        effective_batch_size=effective_batch_size,
        max_batch_size=cap,
        disable_gradient_accumulation=draw(st.booleans()),
    )
    return config, dataset_length, world_size


@given(trainer_configs())
def test_micro_batches_cover_the_device_batch(args):
    """The micro-batches sum to the per-device batch and none exceeds the per-device cap."""
    config, dataset_length, world_size = args
    plan = plan_training(config, dataset_length, world_size)
    assert sum(plan.micro_batch_sizes) == plan.batch_size_per_device
    assert plan.batch_size_per_device * world_size == plan.effective_batch_size
    if config.max_batch_size is not None and not config.disable_gradient_accumulation:
        assert max(plan.micro_batch_sizes) <= config.max_batch_size // world_size
        assert sorted(plan.micro_batch_sizes, reverse=True) == list(plan.micro_batch_sizes)
    else:
        assert plan.micro_batch_sizes == (plan.batch_size_per_device,)


@given(trainer_configs(), st.data())
def test_iteration_at_round_trips_through_strings(args, data):
    """Every iteration of a run survives ``str`` and ``from_string``."""
    plan = plan_training(*args)
    update = data.draw(st.integers(min_value=0, max_value=plan.total_updates))
    iteration = plan.iteration_at(update)
    assert TrainingIteration.from_string(str(iteration)) == iteration
    assert plan.iteration_at(plan.total_updates) == plan.end


@given(trainer_configs(), st.sampled_from(["update", "epoch"]), st.data())
def test_schedule_step_stays_within_the_schedule(args, interval, data):
    """The schedule step of every update of the run is below the schedule's total."""
    plan = plan_training(*args)
    assume(plan.total_updates > 0)
    update = data.draw(st.integers(min_value=0, max_value=plan.total_updates - 1))
    step, total = plan.schedule_position(update, interval)
    assert 0 <= step < total


@given(trainer_configs())
def test_epoch_positions_are_monotone_and_end_in_the_last_epoch(args):
    """Epoch positions never decrease and the last update sits in the schedule's last epoch."""
    plan = plan_training(*args)
    assume(plan.total_updates > 0)
    updates = range(max(0, plan.total_updates - 300), plan.total_updates)
    steps = [plan.schedule_position(update, "epoch")[0] for update in updates]
    assert all(a <= b for a, b in pairwise(steps))
    step, total = plan.schedule_position(plan.total_updates - 1, "epoch")
    assert step == total - 1 == plan.total_epochs - 1
