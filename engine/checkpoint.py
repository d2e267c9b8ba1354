"""Checkpoints that a crash cannot corrupt.

Noether's file names (``{model}[_{info}]_cp={tag}_{model|optim|trainer}.th``) are kept. Each file is
written to a temporary name (its CRC-32 computed while it is written) and renamed over its final name; a
manifest ``{model}[_{info}]_cp={tag}_manifest.json`` with the CRC-32 of every file of the tag is written the
same way, last. A checkpoint is *verified* when its manifest exists and every checksum matches, so a crash or
``kill -9`` at any instant leaves either the old or the new checkpoint verifiable, never a torn mix, and
``latest`` resolves to the newest verified checkpoint.

Files are not ``fsync``ed: a process crash never loses what the OS already holds, and after an OS crash or a
power cut a file the OS had not yet written fails verification, so the newest checkpoint that did reach the
disk is used. Three fsyncs per save would cost more than the save itself for small models (on this machine
1-7 ms each against 1.7 ms for a 0.4 MB ``torch.save``: ``benchmarks/bench_checkpoint.py``).
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import pathlib
import pickle
import zlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch.utils.serialization import config as serialization_config

from noether.core.training import TrainingIteration

MANIFEST_SUFFIX = "_manifest.json"


def file_stem(model_name: str, tag: str, model_info: str | None = None) -> str:
    """The common prefix of a checkpoint's files: ``{model}[_{info}]_cp={tag}``.

    >>> file_stem("surrogate", "E1_U4_S16")
    'surrogate_cp=E1_U4_S16'
    >>> file_stem("surrogate", "latest", "ema=0.999")
    'surrogate_ema=0.999_cp=latest'
    """
    return f"{model_name}{'_' + model_info if model_info else ''}_cp={tag}"


def _move_into_place(temporary: pathlib.Path, path: pathlib.Path) -> None:
    """Rename a finished temporary file to its final name, removing the old file first.

    Renaming over an existing file makes ext4 (``auto_da_alloc``) write the new file's data out before the
    rename returns: about 24 ms for 40 MB here, half the cost of the save. Removing the old file first skips
    that; a crash between the two steps leaves the name missing, which verification treats like any torn
    checkpoint (the previous verified one is used).
    """
    path.unlink(missing_ok=True)
    os.rename(temporary, path)


def _write_atomically(path: pathlib.Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(payload)
    _move_into_place(temporary, path)


CHECKSUM = "crc32"
"""The manifest's checksum: CRC-32 detects torn and corrupted files (not tampering) and is computed while the
file is written, so a verified save costs about what a bare ``torch.save`` does (``bench_checkpoint.py``)."""


def file_checksum(path: pathlib.Path) -> str:
    """The CRC-32 of a file as 8 hex digits, read in 1 MiB chunks.

    >>> import tempfile
    >>> with tempfile.NamedTemporaryFile() as file:
    ...     _ = file.write(b"checkpoint"); file.flush(); file_checksum(pathlib.Path(file.name))
    '0f00f7be'
    """
    crc = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            crc = zlib.crc32(chunk, crc)
    return f"{crc:08x}"


class _ChecksummingFile:
    """A write-only file that keeps the CRC-32 of what was written (``torch.save`` writes into it)."""

    def __init__(self, file: Any) -> None:
        self.file, self.crc = file, 0

    def write(self, data: bytes) -> int:
        self.crc = zlib.crc32(data, self.crc)
        return self.file.write(data)

    def flush(self) -> None:
        self.file.flush()

    @property
    def checksum(self) -> str:
        return f"{self.crc:08x}"


def _save_and_checksum(content: Any, path: pathlib.Path) -> str:
    """``torch.save`` into ``path``, returning the file's CRC-32. torch's own per-record CRC is switched off
    for this save: the manifest's checksum covers the whole file, and skipping it makes ``torch.save`` ~20%
    faster; such files load with ``torch.load`` as usual."""
    settings = serialization_config.save
    previous, settings.compute_crc32 = settings.compute_crc32, False
    try:
        with open(path, "wb") as file:
            writer = _ChecksummingFile(file)
            torch.save(content, writer)
    finally:
        settings.compute_crc32 = previous
    return writer.checksum


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, read-only or vanished directory); nothing of it was kept, and
    the checkpoints written before it are intact."""


def save_checkpoint(
    directory: pathlib.Path,
    stem: str,
    files: Mapping[str, Any],
    iteration: TrainingIteration,
) -> pathlib.Path:
    """Write every file atomically, then the manifest ``{stem}_manifest.json`` that makes them one checkpoint.

    Every byte (the files and the manifest) is written to temporary names first; only then are they renamed into
    place, so a full disk or any other ``OSError`` while writing leaves no temporary file and no change to the
    checkpoints already there.

    Args:
        directory: the run's ``checkpoints`` directory (created if missing).
        stem: ``file_stem(root_model_name, tag, model_info)``; names the manifest.
        files: file name -> object for ``torch.save`` (plain dicts of tensors and Python values).
        iteration: the training iteration the checkpoint holds (recorded in the manifest; orders ``latest``).

    Returns:
        The manifest's path.

    Raises:
        CheckpointWriteError: the files could not be written (``errno`` is the original one).
    """
    manifest = directory / f"{stem}{MANIFEST_SUFFIX}"
    temporaries = {name: directory / f".{name}.tmp" for name in files}
    manifest_temporary = directory / f".{manifest.name}.tmp"
    try:
        directory.mkdir(parents=True, exist_ok=True)
        checksums = {name: _save_and_checksum(content, temporaries[name]) for name, content in files.items()}
        record = {"iteration": str(iteration), "checksum": CHECKSUM, "files": checksums}
        manifest_temporary.write_bytes((json.dumps(record, indent=2) + "\n").encode())
    except BaseException as exc:
        for temporary in (*temporaries.values(), manifest_temporary):
            with contextlib.suppress(OSError):
                temporary.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise _write_error(directory, stem, exc) from exc
        raise
    try:
        for name, temporary in temporaries.items():
            _move_into_place(temporary, directory / name)
        _move_into_place(manifest_temporary, manifest)
    except OSError as exc:  # renames need no space; a vanished directory ends up here
        raise _write_error(directory, stem, exc) from exc
    return manifest


def _write_error(directory: pathlib.Path, stem: str, exc: OSError) -> CheckpointWriteError:
    reason = f"{exc.strerror or exc}" + (f" ({errno.errorcode[exc.errno]})" if exc.errno in errno.errorcode else "")
    if not directory.parent.is_dir():
        reason += f"; the run directory {directory.parent} no longer exists (removed or unmounted during the run)"
    return CheckpointWriteError(exc.errno or 0, f"cannot write checkpoint {stem!r} in {directory}: {reason}; nothing "
                                "of it was kept and the checkpoints written before are intact")


def checkpoint_problem(manifest: pathlib.Path) -> str | None:
    """Why the checkpoint of ``manifest`` does not verify (naming the file), or ``None`` when it does."""
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
        checksums = dict(record["files"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"{manifest} is unreadable ({exc})"
    for name, checksum in checksums.items():
        path = manifest.parent / name
        try:
            if file_checksum(path) != checksum:
                return f"{path} does not match its checksum in {manifest.name} (corrupted, or a save did not finish)"
        except OSError as exc:
            return f"{path} listed in {manifest.name} cannot be read ({exc.strerror})"
    return None


def verified_files(manifest: pathlib.Path) -> dict[str, pathlib.Path] | None:
    """File name -> path of a checkpoint whose manifest and every checksum are intact, else ``None``."""
    if checkpoint_problem(manifest) is not None:
        return None
    return {name: manifest.parent / name for name in json.loads(manifest.read_text(encoding="utf-8"))["files"]}


_TAG_FIELDS = {"E": "epoch", "U": "update", "S": "sample"}


def iteration_of_tag(tag: str) -> TrainingIteration | None:
    """The iteration a tag names: ``E3`` / ``U120`` / ``S4096`` (one count) or ``E1_U4_S16``; ``None`` for
    named tags such as ``latest`` or ``best_model.loss.val.total``.

    >>> str(iteration_of_tag("U120")), str(iteration_of_tag("E1_U4_S16")), iteration_of_tag("last")
    ('Update: 120', 'E1_U4_S16', None)
    >>> iteration_of_tag("E²") is None  # only ASCII digits count (``"²".isdigit()`` is true, ``int("²")`` fails)
    True
    """
    if len(tag) > 1 and tag[0] in _TAG_FIELDS and tag[1:].isascii() and tag[1:].isdigit():
        return TrainingIteration(**{_TAG_FIELDS[tag[0]]: int(tag[1:])})
    try:
        return TrainingIteration.from_string(tag)
    except ValueError:
        return None


def manifest_record(manifest: pathlib.Path) -> tuple[TrainingIteration, dict[str, str]] | None:
    """The iteration and the files a manifest lists (file name -> checksum; nothing verified), ``None`` if it is
    unreadable."""
    try:
        record = json.loads(manifest.read_text(encoding="utf-8"))
        return TrainingIteration.from_string(record["iteration"]), dict(record["files"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


LAST_RESORT_SUFFIXES = (".error", ".early_exit")
"""Tags of checkpoints saved when a run failed (the state of a failed update) or stopped early: ``latest``
resolves to one of them only when no other checkpoint is left."""


def candidate_tags(
    iterations: Mapping[str, TrainingIteration | None],
    tag: str | TrainingIteration,
    prefer: Callable[[str], bool] = lambda candidate: True,
) -> list[str]:
    """The stored checkpoints ``tag`` names, in the order to try them: the first that verifies is the one.

    This is the one rule every reader of checkpoints follows (resume, initializers, ``find_checkpoint``).

    Args:
        iterations: tag -> the iteration its manifest records (``None`` when unknown: a directory written by
            Noether, without manifests, where only a periodic tag's name tells its iteration).
        tag: ``latest``; an exact tag (``last``, ``best_model.loss.val.total``, ``E1_U4_S16``); ``E3`` / ``U120``
            / ``S4096`` or a one-count ``TrainingIteration`` (the earliest checkpoint with that count); or a
            full ``TrainingIteration``.
        prefer: for ``latest``, checkpoints for which it is true come first (resume prefers those that hold the
            optimizer state).

    ``latest`` orders every checkpoint newest first: ``.error`` / ``.early_exit`` ones last, then by ``prefer``,
    then by update; among equals the literal ``latest`` first (a Noether ``latest`` without manifest counts as
    the newest), then periodic tags. Matching a count puts periodic tags before named ones at the same update.
    The order never depends on the order of ``iterations``.

    >>> stored = {"E1_U2_S8": TrainingIteration(1, 2, 8), "E2_U4_S16": TrainingIteration(2, 4, 16),
    ...           "last": TrainingIteration(2, 4, 16), "E2_U5_S20.error": TrainingIteration(2, 5, 20)}
    >>> candidate_tags(stored, "latest")
    ['E2_U4_S16', 'last', 'E1_U2_S8', 'E2_U5_S20.error']
    >>> candidate_tags(stored, "E2"), candidate_tags(stored, TrainingIteration(update=4)), candidate_tags(stored, "best")
    (['E2_U4_S16', 'last', 'E2_U5_S20.error'], ['E2_U4_S16', 'last'], [])
    """
    known = {candidate: iteration if iteration is not None else iteration_of_tag(candidate)
             for candidate, iteration in iterations.items()}
    if tag == "latest":
        def newest(candidate: str) -> tuple:
            iteration = known[candidate]
            update = iteration.update if iteration is not None and iteration.update is not None else (
                float("inf") if candidate == "latest" else -1)
            return (not candidate.endswith(LAST_RESORT_SUFFIXES), prefer(candidate), update, candidate == "latest",
                    iteration_of_tag(candidate) is not None)

        return sorted(sorted(known), key=newest, reverse=True)  # equals in name order (a stable sort)
    if isinstance(tag, str):
        if tag in known:
            return [tag]
        wanted = iteration_of_tag(tag)
        if wanted is None:
            return []
    else:
        wanted = tag
    fields = wanted.specified_fields
    matches = [candidate for candidate, iteration in known.items() if iteration is not None
               and all(getattr(iteration, field) == getattr(wanted, field) for field in fields)]
    return sorted(sorted(matches), key=lambda candidate: (known[candidate].update or 0,
                                                  iteration_of_tag(candidate) is None))


def find_checkpoint(directory: pathlib.Path, model_name: str, tag: str, model_info: str | None = None) -> dict[str, pathlib.Path]:
    """Resolve ``tag`` (see ``candidate_tags``) to the verified files of one checkpoint (file name -> path); a
    torn candidate falls back to the next one.

    Raises:
        FileNotFoundError: no verified checkpoint matches; the message lists the tags that exist.
    """
    prefix = file_stem(model_name, "", model_info)
    records = {manifest.name[len(prefix):-len(MANIFEST_SUFFIX)]: manifest_record(manifest)
               for manifest in (sorted(directory.glob(f"{prefix}*{MANIFEST_SUFFIX}")) if directory.is_dir() else [])}
    readable = {candidate: record[0] for candidate, record in records.items() if record is not None}
    for candidate in candidate_tags(readable, tag):
        files = verified_files(directory / f"{prefix}{candidate}{MANIFEST_SUFFIX}")
        if files is not None:
            return files
    raise FileNotFoundError(
        f"no verified checkpoint {tag!r} of model {model_name!r} in {directory}"
        + (f"; available: {', '.join(sorted(records))}" if records else "; the directory has no checkpoints")
    )


def load_part(path: pathlib.Path) -> Any:
    """Load one checkpoint file with ``torch.load(weights_only=True)`` onto the CPU.

    Raises:
        pickle.UnpicklingError: the file holds pickled objects other than tensors and plain data (code that would
            run while loading is refused without running it); the message names the file.
    """
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise pickle.UnpicklingError(f"refused to load {path}: it holds pickled objects other than tensors and plain "
                                     f"data, which could run code (torch.load weights_only=True): {first}") from None


class _DeferredSaves:
    """The context manager behind ``CheckpointWriter.deferred`` (one reusable object: the loop enters it every
    update, and a generator-based context manager would cost more than the rest of the bookkeeping)."""

    def __init__(self, writer: CheckpointWriter) -> None:
        self.writer = writer

    def __enter__(self) -> None:
        self.writer._pending = []

    def __exit__(self, exc_type: object, *exc_info: object) -> None:
        pending, self.writer._pending = self.writer._pending, None
        if exc_type is None:
            for args, kwargs in pending:
                self.writer.save(*args, **kwargs)


class CheckpointWriter:
    """Write a run's checkpoints under Noether's names: weights per model, optimizer per trained model, the
    trainer state once per tag (named after the root model), all covered by one manifest."""

    def __init__(
        self,
        directory: pathlib.Path,
        *,
        run_id: str,
        model: torch.nn.Module,
        optimizers: Mapping[str, Any],
        trainer_state: Callable[[], dict[str, Any]],
        is_main_process: bool = True,
    ) -> None:
        from engine.models import named_models

        self.directory = directory
        self._run_dir_existed = directory.parent.is_dir()  # if it vanishes later, saving is an error, not a re-creation
        self.run_id = run_id
        self.root_name = getattr(model, "name", None) or "model"
        self.models = named_models(model)
        self.optimizers = optimizers
        self.trainer_state = trainer_state
        self.is_main_process = is_main_process
        self._pending: list[tuple[tuple, dict]] | None = None
        self.deferred = _DeferredSaves(self)
        """``with writer.deferred:`` holds every ``save`` until the block ends, then writes them in order.

        The loop runs an update's callbacks inside this block: a checkpoint requested by one callback then holds
        the state after *every* callback handled the update (later callbacks' states, random numbers they drew),
        which is where a resumed run continues. If the block raises, the held saves are dropped."""

    def save(
        self,
        tag: str,
        iteration: TrainingIteration,
        *,
        weights: bool = True,
        optim: bool = False,
        trainer: bool = False,
        model_names: Sequence[str] | None = None,
        model_info: str | None = None,
        state_dicts: Mapping[str, Mapping[str, torch.Tensor]] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> pathlib.Path | None:
        """Save one checkpoint tagged ``tag`` and return its manifest (``None`` off rank 0).

        Args:
            tag: ``E1_U4_S16``, ``latest``, ``last``, ``best_model.loss.val.total``, ...
            iteration: the iteration the state belongs to (stored in every file and the manifest).
            weights: write ``{model}[_{info}]_cp={tag}_model.th`` for every selected model.
            optim: write ``{model}_cp={tag}_optim.th`` for every selected model with an optimizer.
            trainer: write ``{root}_cp={tag}_trainer.th`` (everything an exact resume needs).
            model_names: save only these models (``None`` or empty: all).
            model_info: inserted into weight file names, e.g. ``ema=0.999``.
            state_dicts: model name -> weights to save instead of the model's own (EMA shadows).
            extra: more keys for the weight files (e.g. ``{"ema": 0.999}``).
        """
        if self._pending is not None:
            self._pending.append(((tag, iteration), dict(weights=weights, optim=optim, trainer=trainer,
                                  model_names=model_names, model_info=model_info, state_dicts=state_dicts, extra=extra)))
            return None
        trainer_state = self.trainer_state() if trainer else None  # computed on every rank (may all-reduce)
        if not self.is_main_process:
            return None
        files: dict[str, Any] = {}
        for name, model in self.models.items():
            if model_names and name not in model_names:
                continue
            if weights:
                state = state_dicts[name] if state_dicts and name in state_dicts else model.state_dict()
                files[f"{file_stem(name, tag, model_info)}_model.th"] = {
                    "state_dict": {key: value.detach().cpu() for key, value in state.items()},
                    "checkpoint_tag": tag,
                    "training_iteration": iteration.as_dict(),
                    "run_id": self.run_id,
                    "model_config": model_config_of(model),
                    **(extra or {}),
                }
            if optim and name in self.optimizers:
                files[f"{file_stem(name, tag)}_optim.th"] = self.optimizers[name].state_dict()
        if trainer_state is not None:
            files[f"{file_stem(self.root_name, tag)}_trainer.th"] = trainer_state
        if not files:
            return None
        if self._run_dir_existed and not self.directory.parent.is_dir():
            raise _write_error(self.directory, file_stem(self.root_name, tag, model_info),
                               FileNotFoundError(errno.ENOENT, "No such file or directory"))
        return save_checkpoint(self.directory, file_stem(self.root_name, tag, model_info), files, iteration)


def model_config_of(model: torch.nn.Module) -> dict[str, Any] | None:
    """The model's config as plain data (stored with its weights so a checkpoint says what it holds)."""
    from noether.core.config import unstructure

    config = getattr(model, "config", None)
    return unstructure(config) if config is not None else None
