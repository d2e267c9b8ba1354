"""A point of training counted in epochs, optimizer updates and samples: ``TrainingIteration``.

Checkpoint tags (``E1_U4_S16``), the start and end of a run and resume points are iterations. Any subset of
the three counts may be set: an end of training given as ``max_epochs: 10`` is ``TrainingIteration(epoch=10)``
until ``to_fully_specified`` fills in the other two.
"""

from __future__ import annotations

import operator
import re
from typing import Any

import attrs

_FIELDS = ("epoch", "update", "sample")
_LABELS = {"epoch": "Epoch", "update": "Update", "sample": "Sample"}
_PATTERN = r"E([0-9]+)_U([0-9]+)_S([0-9]+)"
_EXACT = re.compile(_PATTERN)
# Anywhere in a text, e.g. a checkpoint file name; a digit before the E would make the epoch ambiguous.
_ANYWHERE = re.compile(r"(?<![0-9])" + _PATTERN)


def _as_count(value: Any) -> int | None:
    """Keep ``None``; turn any integer (numpy's included) into an ``int``; reject bools and floats.

    >>> _as_count(3), _as_count(None)
    (3, None)
    """
    if value is None or type(value) is int:
        return value
    if isinstance(value, bool):
        raise TypeError(f"a count must be an int or None (got {value!r})")
    try:
        return operator.index(value)
    except TypeError as exc:
        raise TypeError(f"a count must be an int or None (got {value!r})") from exc


@attrs.frozen
class TrainingIteration:
    """A point of training: an epoch, an update and a sample count, any of which may be unset.

    ``str()`` is ``E{epoch}_U{update}_S{sample}`` (Noether's checkpoint tag), or ``Epoch: 5`` / ``Update: 5`` /
    ``Sample: 5`` when exactly one count is set. ``+`` and ``-`` work element-wise on iterations with the same
    counts set. Equality compares all three counts; there is no ordering, use ``reached``.

    >>> end = TrainingIteration(update=25).to_fully_specified(updates_per_epoch=10, effective_batch_size=4)
    >>> str(end), end.as_dict()
    ('E2_U25_S100', {'epoch': 2, 'update': 25, 'sample': 100})
    >>> TrainingIteration.from_string("E2_U25_S100") == end
    True
    >>> str(TrainingIteration(epoch=5))
    'Epoch: 5'
    """

    epoch: int | None = attrs.field(default=None, converter=_as_count)
    """Completed epochs, or ``None`` when not counted."""
    update: int | None = attrs.field(default=None, converter=_as_count)
    """Completed optimizer updates, or ``None`` when not counted."""
    sample: int | None = attrs.field(default=None, converter=_as_count)
    """Training samples consumed over all devices, or ``None`` when not counted."""

    def __str__(self) -> str:
        specified = self.specified_fields
        if len(specified) == 1:
            return f"{_LABELS[specified[0]]}: {getattr(self, specified[0])}"
        return f"E{self.epoch}_U{self.update}_S{self.sample}"

    @property
    def specified_fields(self) -> tuple[str, ...]:
        """The names of the counts that are set, in the order epoch, update, sample.

        >>> TrainingIteration(epoch=1, sample=16).specified_fields
        ('epoch', 'sample')
        """
        return tuple(name for name in _FIELDS if getattr(self, name) is not None)

    @property
    def is_fully_specified(self) -> bool:
        """Whether all three counts are set.

        >>> TrainingIteration(1, 4, 16).is_fully_specified, TrainingIteration(epoch=1).is_fully_specified
        (True, False)
        """
        return self.epoch is not None and self.update is not None and self.sample is not None

    @property
    def is_minimally_specified(self) -> bool:
        """Whether exactly one count is set (an end of training such as ``max_epochs``).

        >>> TrainingIteration(epoch=1).is_minimally_specified, TrainingIteration(1, 4, 16).is_minimally_specified
        (True, False)
        """
        return len(self.specified_fields) == 1

    def _elementwise(self, other: TrainingIteration, sign: int) -> TrainingIteration:
        if self.specified_fields != other.specified_fields:
            raise ValueError(
                "both iterations must have the same counts set "
                f"(got {'/'.join(self.specified_fields) or 'none'} and {'/'.join(other.specified_fields) or 'none'})"
            )
        return TrainingIteration(
            *(
                None if getattr(self, name) is None else getattr(self, name) + sign * getattr(other, name)
                for name in _FIELDS
            )
        )

    def __add__(self, other: object) -> TrainingIteration:
        if not isinstance(other, TrainingIteration):
            return NotImplemented
        return self._elementwise(other, 1)

    def __sub__(self, other: object) -> TrainingIteration:
        if not isinstance(other, TrainingIteration):
            return NotImplemented
        return self._elementwise(other, -1)

    def reached(self, end: TrainingIteration) -> bool:
        """Whether this iteration is at or past ``end`` in every count that ``end`` sets.

        Args:
            end: The iteration to compare with; its unset counts are ignored.

        Returns:
            True iff every count set in ``end`` is set here and at least as large.

        Raises:
            ValueError: If ``end`` sets a count that this iteration does not.

        >>> TrainingIteration(2, 8, 32).reached(TrainingIteration(update=8))
        True
        >>> TrainingIteration(2, 8, 32).reached(TrainingIteration(epoch=3))
        False
        """
        for name in end.specified_fields:
            mine = getattr(self, name)
            if mine is None:
                raise ValueError(f"cannot compare: {name} is not set here but is in the target (got {self}, target {end})")
            if mine < getattr(end, name):
                return False
        return True

    def to_fully_specified(self, updates_per_epoch: int, effective_batch_size: int) -> TrainingIteration:
        """Fill in the two unset counts of a minimally specified iteration from its update count.

        Formula: ``u`` = ``update``, or ``epoch * updates_per_epoch``, or ``sample // effective_batch_size``
        (partial updates are dropped); the result is ``(u // updates_per_epoch, u, u * effective_batch_size)``.
        A fully specified iteration is returned unchanged.

        Args:
            updates_per_epoch: Optimizer updates per epoch, at least 1.
            effective_batch_size: Samples per optimizer update over all devices, at least 1.

        Returns:
            A fully specified iteration.

        Raises:
            ValueError: If the iteration sets two counts or none, or a count argument is below 1.

        >>> str(TrainingIteration(update=25).to_fully_specified(10, 4))
        'E2_U25_S100'
        >>> str(TrainingIteration(sample=18).to_fully_specified(4, 4))
        'E1_U4_S16'
        """
        if updates_per_epoch < 1 or effective_batch_size < 1:
            raise ValueError(
                "updates_per_epoch and effective_batch_size must be >= 1 "
                f"(got {updates_per_epoch!r} and {effective_batch_size!r})"
            )
        if self.is_fully_specified:
            return self
        if not self.is_minimally_specified:
            raise ValueError(f"exactly one of epoch, update, sample must be set to fill in the others (got {self})")
        if self.update is not None:
            updates = self.update
        elif self.epoch is not None:
            updates = self.epoch * updates_per_epoch
        else:
            updates = self.sample // effective_batch_size  # type: ignore[operator]
        return TrainingIteration(updates // updates_per_epoch, updates, updates * effective_batch_size)

    def as_dict(self) -> dict[str, int]:
        """The counts that are set, by name.

        >>> TrainingIteration(epoch=1, update=4).as_dict()
        {'epoch': 1, 'update': 4}
        """
        return {name: getattr(self, name) for name in _FIELDS if getattr(self, name) is not None}

    @classmethod
    def from_string(cls, text: str) -> TrainingIteration:
        """Parse a checkpoint tag ``E{epoch}_U{update}_S{sample}``; the whole text must be the tag.

        Args:
            text: The tag, e.g. ``E5_U342_S123155``.

        Returns:
            The fully specified iteration.

        Raises:
            ValueError: If ``text`` is not exactly such a tag.

        >>> TrainingIteration.from_string("E5_U342_S123155")
        TrainingIteration(epoch=5, update=342, sample=123155)
        """
        match = _EXACT.fullmatch(text)
        if match is None:
            raise ValueError(f"not a training iteration of the form E<epoch>_U<update>_S<sample>, e.g. E1_U4_S16 (got {text!r})")
        return cls(*(int(group) for group in match.groups()))

    @classmethod
    def find_in(cls, text: str) -> TrainingIteration | None:
        """Find the first ``E{epoch}_U{update}_S{sample}`` tag anywhere in a text, such as a checkpoint file name.

        Args:
            text: Any text, e.g. ``m_cp=E1_U4_S16_model.th``.

        Returns:
            The iteration of the first tag, or ``None`` if the text contains none.

        >>> TrainingIteration.find_in("m_cp=E1_U4_S16_model.th")
        TrainingIteration(epoch=1, update=4, sample=16)
        >>> TrainingIteration.find_in("m_cp=latest_model.th") is None
        True
        """
        match = _ANYWHERE.search(text)
        return None if match is None else cls(*(int(group) for group in match.groups()))
