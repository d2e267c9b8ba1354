"""What a run does when the world fails: a run directory that cannot be created or is already in use, and a
dataset that raises while a sample is loaded.

``docs/reliability.md`` lists what is guaranteed (and what is not) and the tests that show it.
"""

from __future__ import annotations

import errno
import fcntl
import os
import pathlib
from collections.abc import Sequence
from typing import Any

LOCK_NAME = ".lock"
"""The lock file in a run directory: held (``fcntl.flock``) by the process that writes the run."""


class RunDirectoryError(RuntimeError):
    """The run directory cannot be created or written (read-only file system, no permission, disk full)."""


class RunDirectoryInUseError(RunDirectoryError):
    """Another process holds the run directory's lock: it is writing a run with the same run id and output path."""


class DatasetSampleError(RuntimeError):
    """Loading one sample of a dataset failed; the message names the dataset's key and the sample's index."""


class RunLock:
    """The exclusive lock of one run directory, held until ``release`` (or until the process ends, whatever way:
    the kernel drops an ``flock`` with the last descriptor, so a killed run never leaves a stale lock)."""

    def __init__(self, path: pathlib.Path, descriptor: int) -> None:
        self.path = path
        """The lock file."""
        self._descriptor: int | None = descriptor

    def __del__(self) -> None:  # a run that failed before its end still lets go of the directory
        self.release()

    def release(self) -> None:
        """Unlock and close the lock file (the file stays: removing it would race with a process locking it)."""
        if self._descriptor is not None:
            os.close(self._descriptor)
            self._descriptor = None


def lock_run_directory(run_dir: pathlib.Path) -> RunLock:
    """Create ``run_dir`` if needed and take its lock before anything is written into it.

    Args:
        run_dir: ``<output_path>/<run_id>[/<stage_name>]``.

    Returns:
        The held lock.

    Raises:
        RunDirectoryInUseError: another process holds the lock (same run id and output path); nothing was written.
        RunDirectoryError: the directory cannot be created, or the lock file cannot be written (read-only file
            system, permissions, disk full).

    >>> import tempfile
    >>> directory = pathlib.Path(tempfile.mkdtemp()) / "run"
    >>> first = lock_run_directory(directory)
    >>> lock_run_directory(directory)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    engine.faults.RunDirectoryInUseError: run directory .../run is in use by another process (pid ...): a run with the same run_id and output_path is writing it; choose another run_id (or output_path), or wait until that run ends
    >>> first.release(); lock_run_directory(directory).release()
    """
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(run_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise RunDirectoryError(f"cannot create the run directory {run_dir}: {_reason(exc)}") from exc
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        holder = os.pread(descriptor, 64, 0).decode(errors="replace").strip() or "unknown"
        os.close(descriptor)
        if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise RunDirectoryInUseError(
                f"run directory {run_dir} is in use by another process (pid {holder}): a run with the same run_id and "
                "output_path is writing it; choose another run_id (or output_path), or wait until that run ends"
            ) from None
        raise RunDirectoryError(f"cannot lock the run directory {run_dir}: {_reason(exc)}") from exc
    try:
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
    except OSError as exc:
        os.close(descriptor)
        raise RunDirectoryError(f"cannot write into the run directory {run_dir}: {_reason(exc)}") from exc
    return RunLock(run_dir / LOCK_NAME, descriptor)


def _reason(exc: OSError) -> str:
    """``No space left on device (ENOSPC)``: the system's words and the errno's name."""
    name = errno.errorcode.get(exc.errno or 0)
    return f"{exc.strerror or exc}" + (f" ({name})" if name else "")


class SampleErrors:
    """A view of a dataset whose loading errors name the dataset's key and the sample's index.

    The loader reads through it exactly as it would read the dataset (``__getitems__`` when the dataset has one;
    every other attribute is the dataset's), so batches and their order do not change. Only when a fetch raises
    are the batch's samples loaded one by one, to find the index that fails.

    Args:
        dataset: The dataset.
        key: Its key in ``datasets`` (``train``).
    """

    def __init__(self, dataset: Any, key: str) -> None:
        self.dataset = dataset
        """The dataset read."""
        self.key = key
        """The dataset's key in ``datasets``."""

    def __len__(self) -> int:
        return len(self.dataset)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__") or "dataset" not in self.__dict__:  # pickling looks up dunders before __init__
            raise AttributeError(name)
        return getattr(self.dataset, name)

    def __getitem__(self, index: int) -> Any:
        try:
            return self.dataset[index]
        except Exception as exc:  # noqa: BLE001 - any error of user code, with where it happened
            raise DatasetSampleError(sample_message(self.key, index, exc)) from exc

    def __getitems__(self, indices: Sequence[int]) -> Any:
        fetch = getattr(self.dataset, "__getitems__", None)
        if fetch is None:
            return [self[index] for index in indices]
        try:
            return fetch(indices)
        except Exception as exc:  # noqa: BLE001
            for index in indices:
                self[index]  # raises for the sample that fails alone
            raise DatasetSampleError(f"datasets.{self.key}: loading samples {list(indices)} failed: "
                                     f"{type(exc).__name__}: {exc}") from exc


def sample_message(key: str, index: int, exc: BaseException) -> str:
    """``datasets.train: loading sample 5 failed: OSError: corrupt file``.

    >>> sample_message("train", 5, OSError("corrupt file"))
    'datasets.train: loading sample 5 failed: OSError: corrupt file'
    """
    return f"datasets.{key}: loading sample {index} failed: {type(exc).__name__}: {exc}"


def from_worker(exc: BaseException) -> BaseException:
    """A ``DatasetSampleError`` that a DataLoader worker raised, with torch's re-raise wrapper (``Caught ... in
    DataLoader worker process 1`` and the worker's traceback) reduced to the error's own line; any other
    exception unchanged."""
    text = str(exc)
    if not (isinstance(exc, DatasetSampleError) and text.startswith("Caught ")):
        return exc
    marker = f"{DatasetSampleError.__module__}.{DatasetSampleError.__qualname__}: "
    own = text.rsplit(marker, 1)[-1].strip() if marker in text else text.splitlines()[-1]
    worker = text.splitlines()[0].removeprefix(f"Caught {DatasetSampleError.__name__} ").rstrip(".")
    return DatasetSampleError(f"{own} ({worker})")
