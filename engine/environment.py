"""The run's surroundings that root config fields decide: debug mode, cuDNN flags, the code archive.

Each of ``debug``, ``cudnn_benchmark``, ``cudnn_deterministic`` and ``store_code_in_output`` has its effect here,
called from ``engine.run`` in one line each, so that no root field is accepted and then ignored.
"""

from __future__ import annotations

import io
import logging
import os
import pathlib
import sys
import tarfile
import warnings
from collections.abc import Iterable, Iterator

import attrs
import torch

from noether.core.schemas import ConfigSchema

DEBUG_DIRECTORY = "debug"
"""Subdirectory of ``output_path`` that debug runs write to (as Noether's ``debug/``)."""
CODE_ARCHIVE = "code.tar.gz"
"""File name of the code archive in the run directory."""
CODE_ARCHIVE_MAX_BYTES = 20 * 2**20
"""Most bytes of source the archive takes (uncompressed); the rest is left out with a warning."""
_SKIPPED_DIRECTORIES = {"__pycache__", "node_modules", "site-packages", "build", "dist"}


def for_debug(config: ConfigSchema) -> ConfigSchema:
    """The config a run really uses: with ``debug``, no tracker and outputs under ``<output_path>/debug``.

    Args:
        config: The validated config.

    Returns:
        ``config`` itself without ``debug``; else a copy with ``tracker=None`` and ``output_path`` moved one level
        down (once: a config already under ``debug/`` stays there).
    """
    if not config.debug:
        return config
    output_path = pathlib.Path(config.output_path)
    if output_path.name != DEBUG_DIRECTORY:
        output_path = output_path / DEBUG_DIRECTORY
    return attrs.evolve(config, tracker=None, output_path=output_path)


def configure_logging(debug: bool) -> None:
    """Debug mode logs verbosely: the ``engine`` and ``noether`` loggers at DEBUG level, to stderr."""
    if not debug:
        return
    for name in ("engine", "noether"):
        logger = logging.getLogger(name)
        logger.setLevel(logging.DEBUG)
        if not logger.handlers:
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
            logger.addHandler(handler)
    logging.getLogger("engine").debug("debug mode: verbose logging, no tracker, outputs under '%s/'", DEBUG_DIRECTORY)


def set_cudnn_flags(config: ConfigSchema, device: torch.device) -> None:
    """Set torch's cuDNN flags from ``cudnn_benchmark`` and ``cudnn_deterministic`` (on CUDA devices only).

    Deterministic mode wins over benchmark mode: benchmark picks algorithms by timing, which is not reproducible,
    so ``cudnn_deterministic: true`` turns benchmarking off (Noether asserts the two are not both on; the default
    ``cudnn_benchmark: true`` would make every deterministic config fail there).
    """
    if device.type != "cuda":
        return
    torch.backends.cudnn.deterministic = config.cudnn_deterministic
    torch.backends.cudnn.benchmark = config.cudnn_benchmark and not config.cudnn_deterministic


def _is_virtualenv(directory: pathlib.Path) -> bool:
    return (directory / "pyvenv.cfg").is_file() or (directory / "conda-meta").is_dir()


def project_sources(root: pathlib.Path, exclude: Iterable[pathlib.Path] = ()) -> Iterator[pathlib.Path]:
    """The project's Python sources under ``root``: top-level ``*.py`` files and every ``*.py`` file of the
    importable packages there (directories with an ``__init__.py``), in sorted order.

    Hidden directories, ``__pycache__``, virtual environments and the directories in ``exclude`` (the run
    outputs) are skipped.

    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     root = pathlib.Path(tmp)
    ...     for name in ["train.py", "proj/__init__.py", "proj/model.py", "notes/a.py", ".venv/x.py"]:
    ...         (root / name).parent.mkdir(parents=True, exist_ok=True); _ = (root / name).write_text("")
    ...     [str(p.relative_to(root)) for p in project_sources(root)]
    ['proj/__init__.py', 'proj/model.py', 'train.py']
    """
    root = root.resolve()
    excluded = {pathlib.Path(path).resolve() for path in exclude}

    def skipped(directory: pathlib.Path) -> bool:
        return (directory.name.startswith(".") or directory.name in _SKIPPED_DIRECTORIES
                or directory.resolve() in excluded or _is_virtualenv(directory))

    def walk(package: pathlib.Path) -> Iterator[pathlib.Path]:
        for entry in sorted(package.iterdir()):
            if entry.is_dir() and not entry.is_symlink():
                if not skipped(entry):
                    yield from walk(entry)
            elif entry.suffix == ".py" and entry.is_file():
                yield entry

    for entry in sorted(root.iterdir()):
        if entry.is_dir() and not entry.is_symlink() and (entry / "__init__.py").is_file() and not skipped(entry):
            yield from walk(entry)
        elif entry.is_file() and entry.suffix == ".py":
            yield entry


def store_code(run_dir: pathlib.Path, root: pathlib.Path | None = None, *, exclude: Iterable[pathlib.Path] = (),
               max_bytes: int = CODE_ARCHIVE_MAX_BYTES) -> pathlib.Path:
    """Write ``<run_dir>/code.tar.gz`` with the project's Python sources (``project_sources`` of ``root``).

    Args:
        run_dir: The run directory (its own files are never archived).
        root: The project directory; ``None``: the working directory.
        exclude: More directories to leave out (the output path).
        max_bytes: Most bytes of source to take; files past it are left out and a warning names how many.

    Returns:
        The archive's path. Member names are relative to ``root``.
    """
    root = pathlib.Path(root or os.getcwd()).resolve()
    target = run_dir / CODE_ARCHIVE
    taken, left_out = 0, []
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for source in project_sources(root, exclude=[run_dir, *exclude]):
            size = source.stat().st_size
            if taken + size > max_bytes:
                left_out.append(source)
                continue
            taken += size
            archive.add(source, arcname=str(source.relative_to(root)), recursive=False)
    target.write_bytes(buffer.getvalue())
    if left_out:
        warnings.warn(f"store_code_in_output: {target} holds {taken} bytes of source, the limit; {len(left_out)} "
                      f"file(s) left out, first {left_out[0].relative_to(root)} (set store_code_in_output: false to "
                      "skip the archive)", stacklevel=2)
    return target


__all__ = ["CODE_ARCHIVE", "CODE_ARCHIVE_MAX_BYTES", "DEBUG_DIRECTORY", "configure_logging", "for_debug",
           "project_sources", "set_cudnn_flags", "store_code"]
