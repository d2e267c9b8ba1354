"""The one error type of a pipeline stage: what went wrong, in which stage, for which item and sample."""

from __future__ import annotations

from typing import Any

__all__ = ["PipelineError"]

_WORKER_MARK = "\nOriginal Traceback (most recent call last):"


class PipelineError(ValueError):
    """A stage could not process a micro-batch.

    Stages raise it with what they know (``item``, ``sample``: the position in the micro-batch); the pipeline
    adds the stage, the loader the dataset key and the dataset index of the sample, so that the message a user
    sees reads ``datasets.train.pipeline.collators[0] (PadCollator): sample 3 (dataset index 17), item 'x': ...``.

    Raised in a DataLoader worker, it reaches the main process re-created from a message that holds the
    worker's traceback; that traceback is kept in :attr:`worker_traceback` and the message is the original one.

    Args:
        message: What is wrong, e.g. ``missing (the sample has 'x', 'y')``.
        stage: The stage's config path below the pipeline and its class, e.g. ``collators[0] (PadCollator)``.
        item: The key of the sample or batch the problem is about.
        sample: The sample's position in the micro-batch.
    """

    def __init__(self, message: str, *, stage: str | None = None, item: str | None = None,
                 sample: int | None = None) -> None:
        self.worker_traceback: str | None = None
        """The traceback of the DataLoader worker the error was raised in (``None``: raised in this process)."""
        if _WORKER_MARK in message:  # re-created by torch's DataLoader from a worker's exception
            self.worker_traceback = message
            message = message.rsplit(f"{type(self).__name__}: ", 1)[-1].strip()
        self.detail = message
        """What is wrong, without the stage, item and sample."""
        self.stage = stage
        """The stage that failed, e.g. ``collators[0] (PadCollator)``."""
        self.item = item
        """The key the problem is about."""
        self.sample = sample
        """The sample's position in the micro-batch."""
        self.where = ""
        """Where the pipeline runs, e.g. ``datasets.train.pipeline`` (set by the loader)."""
        self.sample_index: Any = None
        """The dataset index of the sample (set by the loader)."""
        super().__init__(self._compose())

    def _compose(self) -> str:
        head = ".".join(part for part in (self.where, self.stage) if part)
        at = []
        if self.sample is not None:
            at.append(f"sample {self.sample}" + (f" (dataset index {self.sample_index})"
                                                 if self.sample_index is not None else ""))
        if self.item is not None:
            at.append(f"item {self.item!r}")
        return ": ".join(part for part in (head, ", ".join(at), self.detail) if part)

    def located(self, *, stage: str | None = None, where: str | None = None,
                sample_indices: Any = None) -> PipelineError:
        """Add what the caller knows (the stage, where the pipeline runs, the micro-batch's dataset indices)."""
        if stage is not None and self.stage is None:
            self.stage = stage
        if where is not None and not self.where:
            self.where = where
        if sample_indices is not None and self.sample is not None and self.sample_index is None:
            if 0 <= self.sample < len(sample_indices):
                self.sample_index = sample_indices[self.sample]
        self.args = (self._compose(),)
        return self

    def __reduce__(self) -> Any:  # keeps the parts when pickled (e.g. from a spawned worker)
        return (_rebuild, (self.detail, self.stage, self.item, self.sample, self.where, self.sample_index))


def _rebuild(detail: str, stage: str | None, item: str | None, sample: int | None, where: str,
             sample_index: Any) -> PipelineError:
    error = PipelineError(detail, stage=stage, item=item, sample=sample)
    error.where, error.sample_index = where, sample_index
    error.args = (error._compose(),)
    return error
