"""``noether-check CONFIG [overrides...]``: validate a config without training.

It reads the config as ``noether-train`` does: the modules the kinds of the model, datasets, trainer and user
callbacks name are imported, so the fields their ``config_schema`` classes declare are checked and a kind that
cannot be imported is reported. ``--no-import`` checks against the schemas alone, importing nothing of the
project (and so no torch).

Without ``--no-import`` the checks registered under the ``noether.checks`` entry point group run next: the
engine's (``engine.validate:check_config``) builds the datasets, model and trainer and reports everything a run
would reject before its first update (forward properties, optimizer arguments, callback dataset keys, watched
metric keys that nothing logs, schedules that do not fit), all at once, located in the files.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Sequence
from typing import Any

from noether.core.config.errors import ConfigError, Issue
from noether.core.config.kinds import declared_config_class
from noether.core.config.load import in_document_order, load_config, to_yaml
from noether.core.config.yaml import compose_with_origins


def main(argv: Sequence[str] | None = None) -> int:
    """Print the resolved config as YAML (exit 0), or every problem as ``path: message  [file:line:col]`` (exit 2)."""
    parser = argparse.ArgumentParser(
        prog="noether-check",
        description="Compose, override and validate a config; print it resolved, or list every problem with its location.",
        epilog="example: noether-check examples/poisson/train.yaml trainer.max_epochs=5 optimizer=sgd",
    )
    parser.add_argument("config", help="the YAML config file")
    parser.add_argument("overrides", nargs="*", help="key=value, +key=value, ~key, or a group choice such as optimizer=sgd")
    parser.add_argument("--no-import", action="store_true",
                        help="check against the schemas alone: import none of the modules the kinds name (the fields "
                             "a component's config_schema declares are then unknown keys)")
    args = parser.parse_intermixed_args(argv)
    # Like `python -m`, let config_schema_kind name modules of the project the command runs in.
    if "" not in sys.path and "." not in sys.path:
        sys.path.insert(0, "")
    try:
        config = load_config(args.config, args.overrides,
                             config_class_for=None if args.no_import else declared_config_class,
                             import_schema=not args.no_import)
        if not args.no_import:
            run_registered_checks(config, args.config, args.overrides)
    except ConfigError as exc:
        count = len(exc.issues)
        print(f"{args.config}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        return 2
    sys.stdout.write(to_yaml(config))
    return 0


CHECKS_GROUP = "noether.checks"
"""Entry point group of the checks ``noether-check`` runs after loading: ``check(config) -> list[Issue]``."""


def run_registered_checks(config: Any, path: str, overrides: Sequence[str]) -> None:
    """Run every check of the ``noether.checks`` entry point group on ``config`` (the engine registers one).

    Raises:
        ConfigError: every issue the checks found, each located where its path was written.
    """
    from importlib.metadata import entry_points

    issues = [issue for entry in entry_points(group=CHECKS_GROUP) for issue in entry.load()(config)]
    if issues:
        composed, _ = compose_with_origins(path, overrides)
        raise ConfigError(in_document_order([
            issue if issue.location else Issue(issue.path, issue.message, composed.locate(path_steps(issue.path), True))
            for issue in issues]))


def path_steps(path: str) -> tuple[str | int, ...]:
    """``trainer.callbacks[2].metric_key`` -> ``("trainer", "callbacks", 2, "metric_key")``.

    >>> path_steps("trainer.callbacks[2].metric_key")
    ('trainer', 'callbacks', 2, 'metric_key')
    """
    return tuple(int(index) if index else key for key, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
