"""``noether-check CONFIG [overrides...]``: validate a config without training.

It reads the config as ``noether-train`` does: the modules the kinds of the model, datasets, trainer and user
callbacks name are imported, so the fields their ``config_schema`` classes declare are checked and a kind that
cannot be imported is reported. ``--no-import`` checks against the schemas alone, importing nothing of the
project (and so no torch).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from noether.core.config.errors import ConfigError
from noether.core.config.kinds import declared_config_class
from noether.core.config.load import load_config, to_yaml


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
    except ConfigError as exc:
        count = len(exc.issues)
        print(f"{args.config}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
        for issue in exc.issues:
            print(str(issue), file=sys.stderr)
        return 2
    sys.stdout.write(to_yaml(config))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
