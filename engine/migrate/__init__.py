"""``noether-migrate PROJECT_DIR [--write]``: take a Noether project over in one command.

A codemod built on libcst. For every ``*.py`` file of the project it

- rewrites imports of Noether's runtime classes to the engine's (``noether.training.trainers.BaseTrainer`` ->
  ``engine.BaseTrainer``, table in :mod:`engine.migrate.names`); config schemas keep their
  ``noether.core.schemas`` imports, which exist here under the same names;
- turns pydantic subclasses of schema classes (and of ``pydantic.BaseModel``) into ``@attrs.frozen(kw_only=True)``
  classes with the same fields and defaults, each ``Field(description=...)`` as an attribute docstring and
  ``ge`` / ``gt`` / ``le`` / ``lt`` / ``min_length`` / ``max_length`` / ``pattern`` as ``attrs.validators``;
- turns discriminated unions (``Annotated[A | B, Field(discriminator="name")]``) into plain unions, which the
  engine dispatches on the members' ``Literal`` tags.

YAML files are left untouched. Without ``--write`` it prints a unified diff; with it, it rewrites every file it
converted completely. Whatever it cannot convert (``@field_validator`` / ``@model_validator`` bodies, unknown
Noether imports, ``Field`` options without an attrs counterpart) is listed as ``file:line: what; what to do``,
and that file is left unchanged: a half-converted file is never written. Running it again changes nothing.
"""

from __future__ import annotations

import argparse
import ast
import difflib
import os
import pathlib
import sys
from collections.abc import Sequence

import attrs
import libcst as cst

from engine.migrate.transform import FileResult, Problem, config_classes, migrate_source, module_name, scan

__all__ = ["MigrationError", "MigrationReport", "main", "migrate_project"]

SKIPPED_DIRECTORIES = {"__pycache__", "venv", "env", "build", "dist", "node_modules", "site-packages", "outputs"}
"""Directories never searched for sources (besides hidden ones such as ``.venv`` and ``.git``)."""


class MigrationError(ValueError):
    """The project cannot be migrated at all (not a Python project, a file that does not parse): nothing was
    written. ``lines`` holds one line per problem."""

    def __init__(self, lines: Sequence[str]) -> None:
        super().__init__("\n".join(lines))
        self.lines = tuple(lines)


@attrs.frozen
class MigrationReport:
    """What ``migrate_project`` found and did."""

    files: tuple[FileResult, ...]
    """Every source file of the project, in path order."""
    written: tuple[str, ...]
    """The files rewritten (only with ``write=True``)."""

    @property
    def changed(self) -> tuple[FileResult, ...]:
        """Files the codemod converted completely and that differ from their source."""
        return tuple(f for f in self.files if not f.problems and f.converted != f.original)

    @property
    def problems(self) -> tuple[Problem, ...]:
        """What was not converted, in file and line order."""
        return tuple(p for f in self.files for p in f.problems)

    def diff(self) -> str:
        """The unified diff of every completely converted file (``a/<path>`` -> ``b/<path>``)."""
        return "".join(
            "".join(difflib.unified_diff(f.original.splitlines(keepends=True), f.converted.splitlines(keepends=True),
                                         fromfile=f"a/{f.path}", tofile=f"b/{f.path}"))
            for f in self.changed)


def source_files(root: pathlib.Path) -> list[pathlib.Path]:
    """The project's ``*.py`` files, sorted, without hidden, cache, virtual-environment and build directories."""
    found = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if not d.startswith(".") and d not in SKIPPED_DIRECTORIES)
        found += [pathlib.Path(directory) / name for name in files if name.endswith(".py")]
    return sorted(found, key=lambda p: p.relative_to(root).as_posix())


def migrate_project(root: str | os.PathLike, *, write: bool = False) -> MigrationReport:
    """Run the codemod over every source file under ``root``.

    Args:
        root: The project directory (the directory its packages are imported from).
        write: Rewrite the files that were converted completely; files with problems stay unchanged.

    Returns:
        The report: per file its converted source and its problems; which files were written.

    Raises:
        MigrationError: ``root`` is not a directory with Python files, or a file cannot be read or parsed (one
            line each); nothing is written then.
    """
    root = pathlib.Path(root)
    if not root.is_dir():
        raise MigrationError([f"{root}: not a directory; give the directory of a Noether project"])
    paths = source_files(root)
    if not paths:
        raise MigrationError([f"{root}: not a Python project (no .py files found)"])
    parsed, errors = [], []
    for path in paths:
        relative = path.relative_to(root).as_posix()
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            errors.append(f"{relative}: cannot parse: not UTF-8 text (byte {exc.start}); nothing was written")
            continue
        except OSError as exc:
            errors.append(f"{relative}: cannot read: {exc.strerror}; nothing was written")
            continue
        try:  # Python's own parser first: its messages say what is wrong ("'(' was never closed")
            ast.parse(source, filename=relative)
        except SyntaxError as exc:
            errors.append(f"{relative}:{exc.lineno}:{exc.offset}: syntax error: {exc.msg}; nothing was written")
            continue
        try:
            tree = cst.parse_module(source)
        except Exception as exc:  # noqa: BLE001 - valid Python that libcst cannot represent
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            errors.append(f"{relative}: cannot parse for conversion: {first}; nothing was written")
            continue
        parsed.append((relative, source, tree, scan(tree, module_name(relative), path.name == "__init__.py")))
    if errors:
        raise MigrationError(errors)
    configs = config_classes([scanned for *_, scanned in parsed])
    results = tuple(migrate_source(relative, tree, source, scanned, configs) for relative, source, tree, scanned in parsed)
    report = MigrationReport(results, ())
    written = []
    if write:
        for result in report.changed:
            (root / result.path).write_text(result.converted, encoding="utf-8")
            written.append(result.path)
    return attrs.evolve(report, written=tuple(written))


def main(argv: Sequence[str] | None = None) -> int:
    """The ``noether-migrate`` console script.

    Exit status: 0 when everything is converted (or nothing needed converting), 1 when some constructs are left
    for you (listed on stderr), 2 when the project could not be read (nothing written).
    """
    parser = argparse.ArgumentParser(
        prog="noether-migrate",
        description="Convert a Noether project's pydantic schemas and runtime imports to this engine "
                    "(YAML files stay as they are). Prints a unified diff unless --write.")
    parser.add_argument("project_dir", help="the project directory (where its packages are imported from)")
    parser.add_argument("--write", action="store_true", help="rewrite the files that convert completely")
    args = parser.parse_args(argv)
    try:
        report = migrate_project(args.project_dir, write=args.write)
    except MigrationError as exc:
        for line in exc.lines:
            print(f"noether-migrate: {line}", file=sys.stderr)
        return 2
    if not args.write:
        sys.stdout.write(report.diff())
    for problem in report.problems:
        print(problem, file=sys.stderr)
    left = sorted({p.path for p in report.problems})
    done = len(report.written) if args.write else len(report.changed)
    verb = "converted" if args.write else "to convert"
    summary = f"noether-migrate: {done} file{'s' * (done != 1)} {verb}"
    if left:
        summary += (f"; {len(left)} file{'s' * (len(left) != 1)} left unchanged with {len(report.problems)} "
                    f"construct{'s' * (len(report.problems) != 1)} to convert by hand (listed above)")
    if not args.write and done:
        summary += "; run again with --write to apply"
    print(summary, file=sys.stderr)
    return 1 if left else 0
