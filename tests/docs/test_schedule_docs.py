"""Tests for ``docs/schedules.md`` against ``docs/make_schedule_plots.py``: every snippet on the page is one of
the script's examples, every example is a valid schedule, every schedule kind is documented, and every quoted
formula is the one in the code's docstrings. No matplotlib needed."""

from __future__ import annotations

import ast
import importlib.util
import inspect
import math
import re
import typing
from pathlib import Path

import pytest

import noether.core.schedules.shapes as shapes
import noether.core.training.plan as plan
from noether.core.config import resolve, structure
from noether.core.schedules import make_schedule
from noether.core.schemas import OptimizerConfig
from noether.core.schemas.schedules import AnyScheduleConfig

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "schedules.md"
SCRIPT = ROOT / "docs" / "make_schedule_plots.py"


def _load_script():
    """Import the plot script as a module (``docs/`` is not a package)."""
    spec = importlib.util.spec_from_file_location("make_schedule_plots", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()
page = PAGE.read_text(encoding="utf-8")
by_slug = pytest.mark.parametrize(
    ("slug", "yaml_text"),
    [(slug, yaml_text) for slug, _, yaml_text in script.EXAMPLES],
    ids=[slug for slug, _, _ in script.EXAMPLES],
)


def yaml_blocks(markdown: str) -> list[str]:
    """The contents of the page's ```yaml fenced blocks, in order."""
    return re.findall(r"^```yaml\n(.*?)^```$", markdown, flags=re.MULTILINE | re.DOTALL)


def normalized(text: str) -> str:
    """Text with every run of whitespace made one space, so wrapped docstrings compare with one-line quotes."""
    return " ".join(text.split())


def test_every_yaml_block_is_an_example():
    """Each YAML snippet of the page is verbatim one of the script's examples (or its optimizer example), and
    each example is on the page exactly once."""
    expected = sorted([yaml_text for _, _, yaml_text in script.EXAMPLES] + [script.OPTIMIZER_EXAMPLE])
    assert sorted(yaml_blocks(page)) == expected


def test_slugs_are_unique():
    """No two examples write the same image."""
    slugs = [slug for slug, _, _ in script.EXAMPLES]
    assert len(slugs) == len(set(slugs))


@by_slug
def test_example_evaluates(slug, yaml_text):
    """The example structures into a schedule config and evaluates to finite values at steps 0, 50 and 99."""
    config = script.example_config(yaml_text)
    schedule = make_schedule(config, script.total_steps_for(slug))
    assert all(math.isfinite(schedule(step)) for step in (0, 50, 99))
    values = script.curve(config, script.total_steps_for(slug))
    assert len(values) == script.total_steps_for(slug) and all(math.isfinite(value) for value in values)


@by_slug
def test_example_plot_is_linked(slug, yaml_text):
    """The page shows the example's plot, and the plot has been generated and is small."""
    assert re.search(rf"!\[[^\]]*\]\(img/schedules/{re.escape(slug)}\.png\)", page)
    image = script.IMAGE_DIR / f"{slug}.png"
    assert image.is_file(), f"run: python docs/make_schedule_plots.py (missing {image})"
    assert image.stat().st_size < 40_000


def test_every_kind_has_an_example():
    """Each member of ``AnyScheduleConfig`` is the config of at least one example (a new kind needs docs)."""
    documented = {type(script.example_config(yaml_text)) for _, _, yaml_text in script.EXAMPLES}
    missing = [cls.__name__ for cls in typing.get_args(AnyScheduleConfig) if cls not in documented]
    assert missing == []


def test_optimizer_example_resolves():
    """The page's optimizer snippet is a valid optimizer config whose schedules take lr and weight_decay."""
    data = script.load_yaml(script.OPTIMIZER_EXAMPLE)
    optimizer = resolve(structure(data["model"]["optimizer_config"], OptimizerConfig))
    assert optimizer.schedule_config.max_value == optimizer.lr
    assert optimizer.weight_decay_schedule.max_value == optimizer.weight_decay


def _docstring(name: str) -> str:
    """The docstring of a shape function, or of a dotted attribute of the training-plan module."""
    for module in (shapes, plan):
        obj = module
        try:
            for part in name.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return inspect.getdoc(obj) or ""
    raise AssertionError(f"the page quotes the formula of {name!r}, which does not exist")


FORMULA_LINES = re.findall(r"^Formula \(`([\w.]+)`\): (.*)$", page, flags=re.MULTILINE)


def test_page_quotes_formulas():
    """The page has formula lines to check (the pattern below still matches the page's format)."""
    assert len(FORMULA_LINES) >= 15


@pytest.mark.parametrize(("name", "line"), FORMULA_LINES, ids=[name for name, _ in FORMULA_LINES])
def test_formula_is_quoted_exactly(name, line):
    """Every code span of a ``Formula (`name`):`` line appears verbatim in ``name``'s docstring."""
    doc = normalized(_docstring(name))
    spans = re.findall(r"`([^`]+)`", line)
    assert spans
    assert [span for span in spans if normalized(span) not in doc] == []


def test_script_imports_without_plotting():
    """The script imports matplotlib only inside functions, so importing it has no side effects."""
    tree = ast.parse(SCRIPT.read_text(encoding="utf-8"))
    top_level = [node for node in tree.body if isinstance(node, ast.Import | ast.ImportFrom)]
    names = [alias.name for node in top_level for alias in node.names] + [
        node.module for node in top_level if isinstance(node, ast.ImportFrom)
    ]
    assert not any(name and name.startswith("matplotlib") for name in names)
