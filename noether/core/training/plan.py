"""The arithmetic of a training run: batch sizes, accumulation, updates per epoch, start, end, schedule positions.

``plan_training`` turns a trainer config, the length of the train dataset and the world size into a
``TrainingPlan``; every counting decision of the engine's loop reads a value of that plan. Differences from
Noether (DESIGN.md section 5): gradient accumulation is on by default when ``max_batch_size`` is smaller than
the per-device batch, works with every kind of end, and allows an uneven last micro-batch; a schedule with
``interval: epoch`` reaches its end value in the last epoch, also when the run ends mid-epoch.
"""

from __future__ import annotations


import attrs

from noether.core.config.errors import ConfigError, Issue
from noether.core.schemas.trainers import BaseTrainerConfig
from noether.core.training.iteration import TrainingIteration


def _ceil_div(numerator: int, denominator: int) -> int:
    """``ceil(numerator / denominator)`` in exact integer arithmetic.

    >>> _ceil_div(10, 4), _ceil_div(8, 4), _ceil_div(0, 4)
    (3, 2, 0)
    """
    return -(-numerator // denominator)


def split_micro_batches(batch_size_per_device: int, max_micro_batch_size: int | None) -> tuple[int, ...]:
    """Split one device's batch of an update into micro-batches of at most ``max_micro_batch_size`` samples.

    Formula: ``(m,) * (b // m)`` followed by ``b % m`` when that remainder is not 0; ``(b,)`` when ``b <= m``
    or no cap is given.

    Args:
        batch_size_per_device: The samples ``b`` one device processes per optimizer update, at least 1.
        max_micro_batch_size: The per-device cap ``m`` of one forward pass, at least 1; ``None``: no cap.

    Returns:
        The micro-batch sizes in the order they run; they sum to ``batch_size_per_device``.

    Raises:
        ValueError: If a size is below 1.

    >>> split_micro_batches(64, 24), split_micro_batches(8, 2), split_micro_batches(4, 8), split_micro_batches(4, None)
    ((24, 24, 16), (2, 2, 2, 2), (4,), (4,))
    """
    if batch_size_per_device < 1:
        raise ValueError(f"batch_size_per_device must be >= 1 (got {batch_size_per_device!r})")
    if max_micro_batch_size is None or batch_size_per_device <= max_micro_batch_size:
        return (batch_size_per_device,)
    if max_micro_batch_size < 1:
        raise ValueError(f"max_micro_batch_size must be >= 1 (got {max_micro_batch_size!r})")
    full, remainder = divmod(batch_size_per_device, max_micro_batch_size)
    return (max_micro_batch_size,) * full + ((remainder,) if remainder else ())


@attrs.frozen(kw_only=True)
class TrainingPlan:
    """Batch sizes, accumulation, epoch length, start and end of a run, and the schedule position of any update.

    Counts are absolute: ``start`` and ``end`` are positions of the whole run, also after ``start_at_epoch`` or a
    resume, and schedules see the absolute update. The plan checks its own consistency at construction.

    >>> plan = TrainingPlan(
    ...     world_size=2, dataset_length=100, effective_batch_size=16, batch_size_per_device=8,
    ...     micro_batch_sizes=(3, 3, 2), updates_per_epoch=6,
    ...     start=TrainingIteration(0, 0, 0), end=TrainingIteration(1, 10, 160),
    ... )
    >>> plan.accumulation_steps, plan.total_updates, plan.total_epochs, plan.total_samples
    (3, 10, 2, 160)
    >>> str(plan.iteration_at(7)), plan.schedule_position(7), plan.schedule_position(7, "epoch")
    ('E1_U7_S112', (7, 10), (1, 2))
    """

    world_size: int
    """Processes (devices) that train together, at least 1."""
    dataset_length: int
    """Samples in the train dataset, after its wrappers."""
    effective_batch_size: int
    """Samples per optimizer update over all devices."""
    batch_size_per_device: int
    """Samples per optimizer update on one device: ``effective_batch_size // world_size``."""
    micro_batch_sizes: tuple[int, ...]
    """Per-device micro-batches of one update, in order; they sum to ``batch_size_per_device``."""
    updates_per_epoch: int
    """Optimizer updates per epoch: ``dataset_length // effective_batch_size`` (the remainder is dropped)."""
    start: TrainingIteration
    """The fully specified iteration the run starts at (``E0_U0_S0`` unless ``start_at_epoch`` or a resume)."""
    end: TrainingIteration
    """The fully specified iteration the run ends at (absolute, not relative to ``start``)."""

    def __attrs_post_init__(self) -> None:
        problems = []
        if self.world_size < 1:
            problems.append(f"world_size must be >= 1 (got {self.world_size})")
        if self.batch_size_per_device * self.world_size != self.effective_batch_size:
            problems.append(
                f"batch_size_per_device * world_size must equal effective_batch_size "
                f"(got {self.batch_size_per_device} * {self.world_size} != {self.effective_batch_size})"
            )
        if not self.micro_batch_sizes or min(self.micro_batch_sizes) < 1:
            problems.append(f"micro_batch_sizes must be non-empty and each >= 1 (got {self.micro_batch_sizes})")
        elif sum(self.micro_batch_sizes) != self.batch_size_per_device:
            problems.append(
                f"micro_batch_sizes must sum to batch_size_per_device {self.batch_size_per_device} "
                f"(got {self.micro_batch_sizes})"
            )
        if self.effective_batch_size < 1 or self.updates_per_epoch < 1:
            problems.append(
                "effective_batch_size and updates_per_epoch must be >= 1 "
                f"(got {self.effective_batch_size} and {self.updates_per_epoch})"
            )
        elif self.dataset_length // self.effective_batch_size != self.updates_per_epoch:
            problems.append(
                f"updates_per_epoch must be dataset_length // effective_batch_size = "
                f"{self.dataset_length // self.effective_batch_size} (got {self.updates_per_epoch})"
            )
        else:
            for name in ("start", "end"):
                iteration = getattr(self, name)
                if not iteration.is_fully_specified or iteration.update < 0:
                    problems.append(f"{name} must be fully specified with update >= 0 (got {iteration})")
                elif iteration != self.iteration_at(iteration.update):
                    problems.append(f"{name} must be {self.iteration_at(iteration.update)} (got {iteration})")
            if not problems and self.start.update > self.end.update:  # type: ignore[operator]
                problems.append(f"start must not be after end (got start {self.start}, end {self.end})")
        if problems:
            raise ValueError("inconsistent TrainingPlan: " + "; ".join(problems))

    @property
    def accumulation_steps(self) -> int:
        """Micro-batches (forward and backward passes) per optimizer update on each device.

        >>> _example().accumulation_steps
        3
        """
        return len(self.micro_batch_sizes)

    @property
    def total_updates(self) -> int:
        """The update count at the end of the run (absolute).

        >>> _example().total_updates
        10
        """
        return self.end.update  # type: ignore[return-value]

    @property
    def total_epochs(self) -> int:
        """Epochs the run touches: ``ceil(total_updates / updates_per_epoch)``; the last may be partial.

        >>> _example().total_epochs
        3
        """
        return _ceil_div(self.total_updates, self.updates_per_epoch)

    @property
    def total_samples(self) -> int:
        """The sample count at the end of the run: ``total_updates * effective_batch_size``.

        >>> _example().total_samples
        160
        """
        return self.end.sample  # type: ignore[return-value]

    def iteration_at(self, update: int) -> TrainingIteration:
        """The iteration after ``update`` completed updates of this run.

        Formula: ``E{u // updates_per_epoch}_U{u}_S{u * effective_batch_size}``.

        Args:
            update: Completed optimizer updates since the beginning of training (absolute).

        Returns:
            The fully specified iteration.

        >>> str(_example().iteration_at(9))
        'E2_U9_S144'
        """
        return TrainingIteration(update // self.updates_per_epoch, update, update * self.effective_batch_size)

    def schedule_position(self, update: int, interval: str = "update") -> tuple[int, int]:
        """The ``(step, total_steps)`` a schedule sees at the update with index ``update``.

        Formula: ``"update"`` gives ``(u, total_updates)``; ``"epoch"`` gives
        ``(u // updates_per_epoch, ceil(total_updates / updates_per_epoch))``, so an epoch schedule is constant
        within an epoch and its last epoch (possibly partial) sees the last step. ``total_steps`` is 0 for a run
        with ``max_*: 0``, which evaluates no schedule.

        Args:
            update: The index of the update about to run (= completed updates, absolute), at least 0.
            interval: The schedule's ``interval``: ``"update"`` or ``"epoch"``.

        Returns:
            ``(step, total_steps)`` for ``schedule_value`` / ``make_schedule``.

        Raises:
            ValueError: If ``update < 0`` or ``interval`` is neither ``"update"`` nor ``"epoch"``.

        >>> plan = _example()
        >>> [plan.schedule_position(u, "epoch")[0] for u in range(10)], plan.schedule_position(9, "epoch")[1]
        ([0, 0, 0, 0, 1, 1, 1, 1, 2, 2], 3)
        """
        if update < 0:
            raise ValueError(f"update must be >= 0 (got {update!r})")
        if interval == "update":
            return update, self.end.update  # type: ignore[return-value]
        if interval == "epoch":
            return update // self.updates_per_epoch, _ceil_div(self.end.update, self.updates_per_epoch)  # type: ignore[arg-type]
        raise ValueError(f"interval must be 'update' or 'epoch' (got {interval!r})")

    def is_epoch_end(self, update: int) -> bool:
        """Whether completing ``update`` updates completes an epoch: ``update > 0 and update % updates_per_epoch == 0``.

        Args:
            update: Completed optimizer updates (absolute).

        Returns:
            True at the last update of every full epoch; a final partial epoch never ends.

        >>> [u for u in range(11) if _example().is_epoch_end(u)]
        [4, 8]
        """
        return update > 0 and update % self.updates_per_epoch == 0

    def starting_at(self, update: int) -> TrainingPlan:
        """The same plan, started at ``update`` completed updates (for a resume, also mid-epoch); the end is kept.

        Args:
            update: Completed optimizer updates to start from, between 0 and ``total_updates``.

        Returns:
            A new plan with ``start = iteration_at(update)``.

        Raises:
            ValueError: If ``update`` is outside ``[0, total_updates]``.

        >>> str(_example().starting_at(6).start)
        'E1_U6_S96'
        """
        if not 0 <= update <= self.total_updates:
            raise ValueError(f"update must be between 0 and total_updates {self.total_updates} (got {update!r})")
        return attrs.evolve(self, start=self.iteration_at(update))


def _example() -> TrainingPlan:
    """A small plan for the doctests: 4 updates of 16 samples per epoch, 10 updates, 3 micro-batches.

    >>> str(_example().end)
    'E2_U10_S160'
    """
    return TrainingPlan(
        world_size=1,
        dataset_length=70,
        effective_batch_size=16,
        batch_size_per_device=16,
        micro_batch_sizes=(6, 6, 4),
        updates_per_epoch=4,
        start=TrainingIteration(0, 0, 0),
        end=TrainingIteration(2, 10, 160),
    )


def plan_training(
    trainer_config: BaseTrainerConfig, dataset_length: int, world_size: int = 1, *, path: str = "trainer"
) -> TrainingPlan:
    """Plan a run: per-device batch, micro-batches, updates per epoch, start and end.

    Formulas: ``batch_size_per_device = effective_batch_size // world_size``; the micro-batches split it at
    ``max_batch_size // world_size`` (``max_batch_size`` caps the micro-batch over all devices, as in Noether)
    unless ``disable_gradient_accumulation`` or ``max_batch_size`` is unset;
    ``updates_per_epoch = dataset_length // effective_batch_size``; the end in updates is
    ``max_epochs * updates_per_epoch``, ``max_updates`` or ``max_samples // effective_batch_size``;
    ``start_at_epoch = e`` starts at update ``e * updates_per_epoch`` and the end stays absolute.
    ``max_*: 0`` gives an end at update 0 (the callbacks run once, nothing is trained).

    Args:
        trainer_config: The trainer config (exactly one ``max_*`` set, which the config itself checks).
        dataset_length: Samples in the train dataset, after its wrappers.
        world_size: Processes that train together, at least 1.
        path: The config path of ``trainer_config``, prefixed to every issue.

    Returns:
        The plan.

    Raises:
        ConfigError: With every problem at once: ``effective_batch_size`` or ``max_batch_size`` not a multiple
            of the world size, a train dataset shorter than one update, ``max_samples`` below one update, a
            ``start_at_epoch`` after the end.
        ValueError: If ``dataset_length < 0`` or ``world_size < 1``.

    >>> config = BaseTrainerConfig(kind="t", max_epochs=10, effective_batch_size=32, max_batch_size=12)
    >>> plan = plan_training(config, dataset_length=3210, world_size=2)
    >>> plan.batch_size_per_device, plan.micro_batch_sizes, plan.updates_per_epoch, str(plan.end)
    (16, (6, 6, 4), 100, 'E10_U1000_S32000')
    >>> plan_training(attrs.evolve(config, effective_batch_size=33), dataset_length=20, world_size=2)
    Traceback (most recent call last):
    ...
    noether.core.config.errors.ConfigError: trainer.effective_batch_size: must be a multiple of the world size 2 (got 33)
    trainer.effective_batch_size: must not exceed the length of the train dataset, 20 samples (got 33)
    """
    if world_size < 1:
        raise ValueError(f"world_size must be >= 1 (got {world_size!r})")
    if dataset_length < 0:
        raise ValueError(f"dataset_length must be >= 0 (got {dataset_length!r})")
    config = trainer_config
    issues: list[Issue] = []

    def issue(field: str, message: str) -> None:
        issues.append(Issue(f"{path}.{field}", message))

    effective_batch_size = config.effective_batch_size
    batch_size_per_device = effective_batch_size // world_size
    if effective_batch_size % world_size:
        issue("effective_batch_size", f"must be a multiple of the world size {world_size} (got {effective_batch_size})")
    max_micro_batch_size = None
    if not config.disable_gradient_accumulation and config.max_batch_size is not None:
        if config.max_batch_size % world_size:
            issue(
                "max_batch_size",
                f"must be a multiple of the world size {world_size}, as it caps the micro-batch over all devices "
                f"(got {config.max_batch_size})",
            )
        max_micro_batch_size = config.max_batch_size // world_size
    if dataset_length < effective_batch_size:
        issue(
            "effective_batch_size",
            f"must not exceed the length of the train dataset, {dataset_length} samples (got {effective_batch_size})",
        )
    if dataset_length < effective_batch_size:
        # Without one full update per epoch nothing below can be counted.
        raise ConfigError(issues)

    updates_per_epoch = dataset_length // effective_batch_size
    if config.max_epochs is not None:
        total_updates = config.max_epochs * updates_per_epoch
    elif config.max_updates is not None:
        total_updates = config.max_updates
    elif config.max_samples is not None:
        total_updates = config.max_samples // effective_batch_size
        if 0 < config.max_samples < effective_batch_size:
            issue(
                "max_samples",
                f"must be 0 or at least one update of effective_batch_size {effective_batch_size} samples "
                f"(got {config.max_samples})",
            )
    else:  # the config's own check forbids this; kept so a hand-built object fails with a path too
        issue("max_epochs", "exactly one of max_epochs, max_updates, max_samples must be set (got none)")
        total_updates = 0
    start_epoch = config.start_at_epoch or 0
    start_update = start_epoch * updates_per_epoch
    if start_update > total_updates:
        issue(
            "start_at_epoch",
            f"must not start after the end of training at update {total_updates} "
            f"(got {start_epoch}, which starts at update {start_update})",
        )
    if issues:
        raise ConfigError(issues)

    def iteration(update: int) -> TrainingIteration:
        return TrainingIteration(update // updates_per_epoch, update, update * effective_batch_size)

    return TrainingPlan(
        world_size=world_size,
        dataset_length=dataset_length,
        effective_batch_size=effective_batch_size,
        batch_size_per_device=batch_size_per_device,
        micro_batch_sizes=split_micro_batches(batch_size_per_device, max_micro_batch_size),
        updates_per_epoch=updates_per_epoch,
        start=iteration(start_update),
        end=iteration(total_updates),
    )
