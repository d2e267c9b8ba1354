"""A project written as a Noether user writes one (``tests/engine/data/noether_style``): sections narrowed by
``config_schema_kind`` only, user callbacks in a name-dispatched union, Noether's dataset aliases;
``noether-check`` and ``noether-train`` accept it, and its mistakes are reported."""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys

import pytest

from engine.cli import train_main
from noether.core.config.cli import main as check_main

PROJECT = pathlib.Path(__file__).parent / "data" / "noether_style"


@pytest.fixture
def project(tmp_path, monkeypatch):
    """The project copied to a fresh directory, which is the working directory and on ``sys.path``."""
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    monkeypatch.chdir(root)
    monkeypatch.syspath_prepend(str(root))
    for name in [name for name in sys.modules if name == "nsproj" or name.startswith("nsproj.")]:
        monkeypatch.delitem(sys.modules, name)
    return root


def test_noether_check_accepts_the_project(project, capsys):
    """The narrowed sections keep the project's fields; callbacks are the union members picked by name."""
    assert check_main(["configs/train.yaml"]) == 0
    out = capsys.readouterr().out
    assert "config_schema_kind: nsproj.schemas.ProjectSchema" in out
    assert "  hidden: 3" in out
    assert "  prefix: '::'" in out
    assert "  start: 5" in out


def test_noether_train_runs_the_project(project, capsys):
    """`noether-train` trains it; the user callbacks run with their own config classes."""
    assert train_main(["configs/train.yaml"]) == 0
    out = capsys.readouterr().out
    assert ":: PrintLossCallbackConfig at E0_U1_S8" in out
    assert "count 5 CountCallbackConfig at E1_U2_S16" in out
    assert not (project / "outputs" / "debug").exists()
    runs = list((project / "outputs").iterdir())
    assert len(runs) == 1 and (runs[0] / "code.tar.gz").is_file()


def test_no_import_imports_nothing(project, capsys):
    """`--no-import` does not import config_schema_kind (nor any kind) and checks what the base classes know."""
    (project / "nsproj" / "__init__.py").write_text("raise RuntimeError('imported')\n", encoding="utf-8")
    code = ("import sys; from noether.core.config.cli import main; rc = main(['--no-import', 'configs/train.yaml', "
            "'trainer.max_updates=-1']); print(sorted(m for m in sys.modules if m.startswith(('nsproj', 'torch', 'engine'))))")
    result = subprocess.run([sys.executable, "-c", code], cwd=project, capture_output=True, text=True, check=False)
    assert result.stdout.strip().splitlines()[-1] == "[]"
    assert result.stderr.splitlines() == [
        "configs/train.yaml: 1 problem",
        "trainer.max_updates: must be >= 0 (got -1)  [override 1 'trainer.max_updates=-1']",
    ]


def test_a_schema_that_cannot_be_imported_keeps_every_other_problem(project, capsys):
    """config_schema_kind naming a missing class is one line; the problems of what the base classes know follow."""
    assert check_main(["configs/train.yaml", "config_schema_kind=nsproj.schemas.Missing", "trainer.max_updates=-1",
                       "+optimizer.weight_decay=-1"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "configs/train.yaml: 3 problems",
        "config_schema_kind: module 'nsproj.schemas' has no class 'Missing'  [override 1 'config_schema_kind=nsproj.schemas.Missing']",
        "model.optimizer_config.weight_decay: must be >= 0.0 (got -1.0)  [override 3 '+optimizer.weight_decay=-1']",
        "trainer.max_updates: must be >= 0 (got -1)  [override 2 'trainer.max_updates=-1']",
    ]


def test_a_schema_subclass_without_attrs_is_one_clear_error(project, capsys):
    """A subclass of ConfigSchema that is not decorated would silently drop its fields: one error saying what to do."""
    assert check_main(["configs/train.yaml", "config_schema_kind=nsproj.schemas.NotDecoratedSchema"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "configs/train.yaml: 1 problem",
        "config_schema_kind: nsproj.schemas.NotDecoratedSchema subclasses ConfigSchema but is not an attrs class "
        "itself, so its fields would be ignored: decorate it with @attrs.frozen(kw_only=True)  "
        "[override 1 'config_schema_kind=nsproj.schemas.NotDecoratedSchema']",
    ]


def test_a_wrong_callback_name_in_the_union_lists_the_names(project, capsys):
    """The project's union dispatches on `name`: an unknown one lists the union's names, at its line."""
    path = project / "configs" / "callbacks" / "default.yaml"
    path.write_text(path.read_text(encoding="utf-8").replace("name: CountCallback", "name: CountCalback"), encoding="utf-8")
    assert check_main(["configs/train.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "configs/train.yaml: 1 problem",
        "trainer.callbacks[1].name: unknown name 'CountCalback' (expected one of: PrintLossCallback, CountCallback, "
        "CheckpointCallback); did you mean 'CountCallback'?  [configs/callbacks/default.yaml:5:3]",
    ]
