"""Tests for the documentation site (``mkdocs.yml``, ``docs/``, ``README.md``): the API reference covers every
public name, every page is in the navigation, and every code snippet runs or validates (or says why it cannot).

Only the last two tests need mkdocs / griffe (the ``docs`` extra); they are skipped without them.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MKDOCS_YML = ROOT / "mkdocs.yml"

API_MODULES = (
    "noether.core.schemas",
    "noether.core.config",
    "noether.core.schedules",
    "noether.core.optimizer",
    "noether.core.training",
    "engine",
    "engine.callbacks",
    "engine.data",
)
"""Modules whose every name in ``__all__`` must be in the API reference."""

NOT_RUN = re.compile(r"^<!-- not-run: (?P<reason>\S.*?) -->$")
"""The marker, on the line before a fence, of a snippet that is deliberately neither run nor validated."""

MARKDOWN_FILES = sorted(DOCS.rglob("*.md")) + [ROOT / "README.md"]


@attrs.frozen
class Block:
    """One fenced code block of a Markdown file."""

    path: Path
    line: int
    """1-based line of the opening fence."""
    language: str
    text: str
    not_run: str | None
    """The reason given by a ``<!-- not-run: ... -->`` marker on the line before the fence, else ``None``."""

    @property
    def id(self) -> str:
        """``file:line`` relative to the repository, for test ids and messages."""
        return f"{self.path.relative_to(ROOT)}:{self.line}"


def code_blocks(path: Path) -> list[Block]:
    """Every fenced block (```` ```lang ```` at the start of a line) of a Markdown file, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks, index = [], 0
    while index < len(lines):
        opening = re.match(r"^```(\w*)\s*$", lines[index])
        if not opening:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        marker = NOT_RUN.match(lines[index - 1].strip()) if index > 0 else None
        text = "\n".join(lines[index + 1 : end]) + "\n"
        blocks.append(Block(path, index + 1, opening.group(1), text, marker.group("reason") if marker else None))
        index = end + 1
    return blocks


BLOCKS = [block for path in MARKDOWN_FILES for block in code_blocks(path)]
PYTHON_BLOCKS = [block for block in BLOCKS if block.language == "python"]
FULL_CONFIGS = [
    block
    for block in BLOCKS
    if block.language == "yaml" and re.search(r"^trainer:", block.text, re.M) and re.search(r"^model:", block.text, re.M)
]


def mkdocs_config() -> dict:
    """``mkdocs.yml`` as plain data (it uses no YAML tags)."""
    return YAML(typ="safe").load(MKDOCS_YML.read_text(encoding="utf-8"))


def nav_pages(nav: object) -> list[str]:
    """Every page path of a mkdocs ``nav`` tree, in order."""
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    return []


def directives() -> set[str]:
    """The identifiers of every mkdocstrings ``::: identifier`` block of the documentation."""
    return {
        match.group(1)
        for path in DOCS.rglob("*.md")
        for match in re.finditer(r"^::: ([\w.]+)\s*$", path.read_text(encoding="utf-8"), flags=re.M)
    }


def shadowed_by_submodule(module: str, name: str) -> bool:
    """Whether ``module.name`` is also a submodule: griffe then documents the submodule under that name, so the
    ``::: module`` block does not render the object and it needs an entry of its own."""
    return importlib.util.find_spec(f"{module}.{name}") is not None


def where_defined(module: str, name: str) -> str:
    """The dotted path of the object ``module.name`` where it is defined (its own module and qualified name)."""
    obj = getattr(importlib.import_module(module), name)
    defining = getattr(obj, "__module__", None)
    qualified = getattr(obj, "__qualname__", None)
    return f"{defining}.{qualified}" if defining and qualified else f"{module}.{name}"


# ------------------------------------------------------------------------------------------- API reference
@pytest.mark.parametrize("module", API_MODULES)
def test_api_reference_covers_all(module):
    """Every name in the module's ``__all__`` is rendered by a ``::: module`` block, or has a ``::: path`` entry
    of its own (required when a submodule of the same name hides it from the module's block)."""
    entries = directives()
    names = importlib.import_module(module).__all__
    missing = []
    for name in names:
        explicit = {f"{module}.{name}", where_defined(module, name)} & entries
        covered = explicit if shadowed_by_submodule(module, name) else explicit or module in entries
        if not covered:
            missing.append(name)
    assert names and missing == []


def test_api_pages_are_mkdocstrings_pages():
    """Every page under ``docs/api/`` documents at least one object, and every object it names exists."""
    pages = sorted((DOCS / "api").glob("*.md"))
    assert pages
    for page in pages:
        identifiers = re.findall(r"^::: ([\w.]+)\s*$", page.read_text(encoding="utf-8"), flags=re.M)
        assert identifiers, f"{page.name} has no ::: block"
        for identifier in identifiers:
            module, _, attribute = identifier.rpartition(".")
            try:
                importlib.import_module(identifier)
            except ModuleNotFoundError:
                assert hasattr(importlib.import_module(module), attribute), f"{page.name}: {identifier} does not exist"


# --------------------------------------------------------------------------------------------- navigation
def test_every_page_is_in_the_nav():
    """Every Markdown file under ``docs/`` is a page of the navigation, and every nav entry exists."""
    nav = nav_pages(mkdocs_config()["nav"])
    pages = sorted(str(path.relative_to(DOCS)) for path in DOCS.rglob("*.md"))
    assert sorted(set(pages) - set(nav)) == []
    assert [page for page in nav if not (DOCS / page).is_file()] == []
    assert len(nav) == len(set(nav)), "a page is in the nav twice"


def test_not_run_markers_are_rare():
    """Snippets are runnable where reasonable: at most a few are marked ``not-run``, each with a reason."""
    marked = [block.id for block in BLOCKS if block.not_run is not None]
    assert len(marked) <= 3, marked


# ------------------------------------------------------------------------------------------------ snippets
@pytest.fixture
def snippet_dir(tmp_path, monkeypatch):
    """A fresh working directory with what the snippets refer to: the example project and its optimizer group."""
    (tmp_path / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    shutil.copytree(ROOT / "examples" / "poisson" / "optimizer", tmp_path / "optimizer")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(ROOT))
    return tmp_path


@pytest.mark.parametrize("block", PYTHON_BLOCKS, ids=lambda block: block.id)
def test_python_snippet_runs(block, snippet_dir):
    """A ```python block runs in a fresh namespace (or is marked ``not-run`` with a reason)."""
    if block.not_run is not None:
        pytest.skip(f"marked not-run: {block.not_run}")
    code = compile(block.text, block.id, "exec")
    exec(code, {"__name__": f"snippet_{block.line}"})  # noqa: S102 - the documentation's own code


def component_kinds(data: dict) -> list[str]:
    """The kinds of the user components of a composed config: root schema, model, trainer and datasets."""
    kinds = [data.get("config_schema_kind"), data.get("model", {}).get("kind"), data.get("trainer", {}).get("kind")]
    kinds += [dataset.get("kind") for dataset in (data.get("datasets") or {}).values()]
    return [kind for kind in kinds if kind]


def importable(kind: str) -> bool:
    """Whether a dotted ``module.Class`` path can be imported."""
    module, _, name = kind.rpartition(".")
    try:
        return hasattr(importlib.import_module(module), name)
    except ImportError:
        return False


@pytest.mark.parametrize("block", FULL_CONFIGS, ids=lambda block: block.id)
def test_full_config_snippet_validates(block, snippet_dir):
    """A ```yaml block with ``trainer:`` and ``model:`` loads without problems: through ``engine.load_config``
    when its components can be imported, else through ``noether.core.config.load_config`` (which never imports
    a component); a block that cannot is marked ``not-run``."""
    if block.not_run is not None:
        pytest.skip(f"marked not-run: {block.not_run}")
    from noether.core.config import compose, load_config

    path = snippet_dir / "train.yaml"
    path.write_text(block.text, encoding="utf-8")
    if all(importable(kind) for kind in component_kinds(compose(path))):
        import engine

        config = engine.load_config(path)
    else:
        config = load_config(path)
    assert config.trainer is not None and config.model is not None


def test_the_readme_config_and_code_train_together(tmp_path, monkeypatch):
    """The README's YAML saved as ``train.yaml`` and its Python as ``my_project.py`` in one directory train there
    and fit the line y = 3x + 1 (160 updates, about a second)."""
    readme = code_blocks(ROOT / "README.md")
    config = next(block for block in readme if block.language == "yaml" and "my_project.MyModel" in block.text)
    code = next(block for block in readme if block.language == "python" and "class MyTrainer" in block.text)
    (tmp_path / "train.yaml").write_text(config.text, encoding="utf-8")
    (tmp_path / "my_project.py").write_text(code.text, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    import engine

    result = engine.run("train.yaml", ["tracker=disabled"])
    assert str(result.iteration) == "E20_U160_S5120"
    layer = torch_load_weights(result.run_dir)
    assert abs(layer["layer.weight"].item() - 3) < 0.1 and abs(layer["layer.bias"].item() - 1) < 0.1


def torch_load_weights(run_dir: Path) -> dict:
    """The state dict of the run's last checkpoint of model ``net``."""
    from engine.checkpoint import find_checkpoint, load_part

    files = find_checkpoint(run_dir / "checkpoints", "net", "latest")
    return load_part(files["net_cp=latest_model.th"])["state_dict"]


def test_snippets_were_found():
    """The block scanner still finds the pages' snippets (guards the regular expressions above)."""
    assert len(PYTHON_BLOCKS) >= 8 and len(FULL_CONFIGS) >= 3


# ------------------------------------------------------------------------ with the docs extra installed
def test_griffe_sees_every_field_docstring():
    """The API reference shows a docstring for every field of every config class: griffe (what mkdocstrings
    reads) finds an attribute docstring for each attrs field, also for fields declared with ``attrs.field``."""
    griffe = pytest.importorskip("griffe")
    import noether.core.schemas as schemas

    package = griffe.load("noether.core.schemas", search_paths=[str(ROOT)])
    undocumented = []
    for name in schemas.__all__:
        cls = getattr(schemas, name)
        if not (isinstance(cls, type) and attrs.has(cls)):
            continue
        documented = package[name]
        for field in attrs.fields(cls):
            member = documented.all_members.get(field.name)
            if member is None or member.docstring is None or not member.docstring.value.strip():
                undocumented.append(f"{name}.{field.name}")
    assert undocumented == []


def test_site_builds_strict(tmp_path):
    """``mkdocs build --strict`` succeeds without a warning, and the built API reference has an anchor for every
    public name of the documented modules."""
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings_handlers.python")
    site = tmp_path / "site"
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert [line for line in output.splitlines() if "WARNING" in line] == []
    html = "".join(path.read_text(encoding="utf-8") for path in (site / "api").rglob("*.html"))
    anchors = set(re.findall(r'id="([\w.]+)"', html))
    missing = [
        f"{module}.{name}"
        for module in API_MODULES
        for name in importlib.import_module(module).__all__
        if not {f"{module}.{name}", where_defined(module, name)} & anchors
    ]
    assert missing == []
