"""Loading configs: YAML composition and overrides, structuring into config classes, and exact errors.

``load_config`` is the entry point; ``compose`` gives the plain composed dict, ``structure`` /
``unstructure`` / ``to_yaml`` convert between data and config objects, and every problem is reported
once as a ``ConfigError`` whose ``issues`` name path and file:line:col.
"""

from noether.core.config.errors import ConfigError, Issue
from noether.core.config.load import load_config, to_yaml
from noether.core.config.converter import structure, unstructure
from noether.core.config.resolve import resolve
from noether.core.config.yaml import compose

__all__ = ["ConfigError", "Issue", "compose", "load_config", "resolve", "structure", "to_yaml", "unstructure"]
