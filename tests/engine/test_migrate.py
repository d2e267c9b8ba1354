"""``noether-migrate``: pydantic schemas become attrs classes, Noether runtime imports become engine imports, what
cannot be converted is listed with its line, files with problems and bad projects are never written."""

from __future__ import annotations

import importlib
import pathlib
import sys
import textwrap

import pytest

from engine.migrate import MigrationError, main, migrate_project

SCHEMAS = '''\
"""Schemas."""

from typing import Annotated, Literal, Union

from pydantic import BaseModel, Field

from noether.core.schemas import ConfigSchema
from noether.core.schemas.callbacks import CallBackBaseConfig
from noether.core.schemas.models import ModelBaseConfig


class PipeConfig(BaseModel):
    kind: str
    num_points: int = Field(16, ge=1, description="Points per sample.")


class NetConfig(ModelBaseConfig):
    hidden: int = Field(8, ge=1, le=64, description="Hidden width.")
    dropout: float | None = Field(None, ge=0.0)
    layers: list[int] = []
    tags: list[str] = Field(default_factory=list, description="Free tags.")
    """Tags written by hand."""


class PlotConfig(CallBackBaseConfig):
    name: Literal["Plot"] = "Plot"


class DumpConfig(CallBackBaseConfig):
    name: Literal["Dump"] = "Dump"


AnyCallback = Annotated[Union[PlotConfig, DumpConfig], Field(discriminator="name")]


class Schema(ConfigSchema):
    model: NetConfig = Field(...)
'''

SCHEMAS_CONVERTED = '''\
"""Schemas."""

import attrs
from typing import Literal, Union

from noether.core.schemas import ConfigSchema
from noether.core.schemas.callbacks import CallBackBaseConfig
from noether.core.schemas.models import ModelBaseConfig


@attrs.frozen(kw_only=True)
class PipeConfig:
    kind: str
    num_points: int = attrs.field(default=16, validator=attrs.validators.ge(1))
    """Points per sample."""


@attrs.frozen(kw_only=True)
class NetConfig(ModelBaseConfig):
    hidden: int = attrs.field(default=8, validator=[attrs.validators.ge(1), attrs.validators.le(64)])
    """Hidden width."""
    dropout: float | None = attrs.field(default=None, validator=attrs.validators.optional(attrs.validators.ge(0.0)))
    layers: list[int] = attrs.field(factory=list)
    tags: list[str] = attrs.field(factory=list)
    """Tags written by hand."""


@attrs.frozen(kw_only=True)
class PlotConfig(CallBackBaseConfig):
    name: Literal["Plot"] = "Plot"


@attrs.frozen(kw_only=True)
class DumpConfig(CallBackBaseConfig):
    name: Literal["Dump"] = "Dump"


AnyCallback = Union[PlotConfig, DumpConfig]


@attrs.frozen(kw_only=True)
class Schema(ConfigSchema):
    model: NetConfig
'''

RUNTIME = '''\
import torch

from noether.core.callbacks.periodic import PeriodicDataIteratorCallback
from noether.core.callbacks import CallbackBase, CheckpointCallback
from noether.training.trainers import BaseTrainer
from noether.training.trainers.types import TrainerResult
from noether.data import Dataset, with_normalizers


class Ramp(Dataset):
    @with_normalizers
    def getitem_x(self, index):
        return torch.zeros(1)
'''

RUNTIME_DIFF = '''\
--- a/proj/runtime.py
+++ b/proj/runtime.py
@@ -1,13 +1,12 @@
 import torch

-from noether.core.callbacks.periodic import PeriodicDataIteratorCallback
-from noether.core.callbacks import CallbackBase, CheckpointCallback
-from noether.training.trainers import BaseTrainer
-from noether.training.trainers.types import TrainerResult
-from noether.data import Dataset, with_normalizers
+from engine.callbacks import PeriodicDataIteratorCallback
+from engine.callbacks import Callback as CallbackBase, CheckpointCallback
+from engine import BaseTrainer
+from engine import TrainerResult
+from engine import Dataset


 class Ramp(Dataset):
-    @with_normalizers
     def getitem_x(self, index):
         return torch.zeros(1)
'''

UNCONVERTIBLE = '''\
from pydantic import Field, field_validator, model_validator

from noether.core.schemas.trainers import BaseTrainerConfig
from noether.core.utils.common import snake_type_name


class TrainerConfig(BaseTrainerConfig):
    warmup: int = Field(1, alias="w")
    scale: float = Field(0.1, gt=0)

    @field_validator("scale")
    @classmethod
    def check_scale(cls, value):
        return value

    @model_validator(mode="after")
    def check_all(self):
        return self
'''


def write_project(root: pathlib.Path, files: dict[str, str]) -> pathlib.Path:
    """The files under ``root`` (with ``__init__.py`` in ``proj``)."""
    for name, text in {"proj/__init__.py": "", **files}.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def test_schema_classes_become_attrs_classes(tmp_path):
    """Fields, defaults, descriptions (as docstrings), constraints (as validators) and discriminated unions."""
    write_project(tmp_path, {"proj/schemas.py": SCHEMAS})
    report = migrate_project(tmp_path)
    assert [f.path for f in report.changed] == ["proj/schemas.py"]
    assert report.changed[0].converted == SCHEMAS_CONVERTED
    assert report.problems == ()
    assert (tmp_path / "proj" / "schemas.py").read_text(encoding="utf-8") == SCHEMAS  # no --write: unchanged


def test_the_converted_schemas_validate_and_dispatch(tmp_path, monkeypatch):
    """The written classes are valid attrs configs: defaults, validators and the plain union by name work."""
    from noether.core.config import structure

    write_project(tmp_path, {"proj/schemas.py": SCHEMAS})
    migrate_project(tmp_path, write=True)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name == "proj" or name.startswith("proj.")]:
        monkeypatch.delitem(sys.modules, name)
    namespace = vars(importlib.import_module("proj.schemas"))
    net = namespace["NetConfig"](kind="proj.Net", name="net")
    assert (net.hidden, net.dropout, net.layers, net.tags) == (8, None, [], [])
    with pytest.raises(ValueError, match=r"^'hidden' must be <= 64: 65$"):
        namespace["NetConfig"](kind="proj.Net", name="net", hidden=65)
    dumped = structure({"name": "Dump", "kind": "proj.Dump", "every_n_epochs": 1}, namespace["AnyCallback"])
    assert type(dumped).__name__ == "DumpConfig"


def test_runtime_imports_become_engine_imports(tmp_path, capsys):
    """Without --write the command prints the unified diff; names that differ are imported `as` Noether's."""
    write_project(tmp_path, {"proj/runtime.py": RUNTIME})
    assert main([str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert captured.out.replace(" \n", "\n") == RUNTIME_DIFF.replace(" \n", "\n")
    assert captured.err == "noether-migrate: 1 file to convert; run again with --write to apply\n"


def test_write_then_run_again_changes_nothing(tmp_path, capsys):
    """--write rewrites the files; a second run finds nothing to do (idempotent)."""
    write_project(tmp_path, {"proj/schemas.py": SCHEMAS, "proj/runtime.py": RUNTIME, "configs/train.yaml": "a: 1\n"})
    assert main([str(tmp_path), "--write"]) == 0
    assert capsys.readouterr().err == "noether-migrate: 2 files converted\n"
    assert (tmp_path / "proj" / "schemas.py").read_text(encoding="utf-8") == SCHEMAS_CONVERTED
    assert (tmp_path / "configs" / "train.yaml").read_text(encoding="utf-8") == "a: 1\n"
    assert main([str(tmp_path)]) == 0
    captured = capsys.readouterr()
    assert (captured.out, captured.err) == ("", "noether-migrate: 0 files to convert\n")
    report = migrate_project(tmp_path)
    assert all(f.converted == f.original for f in report.files)


def test_each_unconvertible_construct_is_listed_and_the_file_is_left_unchanged(tmp_path, capsys):
    """Validators, aliases and unknown Noether imports: one line each; the file is not written, the others are."""
    write_project(tmp_path, {"proj/bad.py": UNCONVERTIBLE, "proj/runtime.py": RUNTIME})
    assert main([str(tmp_path), "--write"]) == 1
    assert capsys.readouterr().err.splitlines() == [
        "proj/bad.py:4: unknown Noether import 'snake_type_name' from noether.core.utils.common: the engine has no "
        "counterpart; replace it with your own code or an engine class (see docs/migrating.md)",
        "proj/bad.py:8: TrainerConfig.warmup: an alias (YAML keys are the field names here) is not converted; "
        "supported are default, default_factory, description, ge, gt, le, lt, min_length, max_length, pattern",
        "proj/bad.py:11: @field_validator 'check_scale' in TrainerConfig: custom validation is not converted; move "
        "its check into __attrs_post_init__ (raise ValueError) and delete the method",
        "proj/bad.py:16: @model_validator 'check_all' in TrainerConfig: custom validation is not converted; move "
        "its check into __attrs_post_init__ (raise ValueError) and delete the method",
        "noether-migrate: 1 file converted; 1 file left unchanged with 4 constructs to convert by hand (listed above)",
    ]
    assert (tmp_path / "proj" / "bad.py").read_text(encoding="utf-8") == UNCONVERTIBLE
    assert "from engine import BaseTrainer" in (tmp_path / "proj" / "runtime.py").read_text(encoding="utf-8")


def test_a_model_config_that_changes_behaviour_is_reported(tmp_path):
    """`extra="forbid"` is what the engine does anyway (dropped); `extra="allow"` cannot be converted."""
    source = textwrap.dedent('''\
        from pydantic import ConfigDict

        from noether.core.schemas.models import ModelBaseConfig


        class A(ModelBaseConfig):
            model_config = ConfigDict(extra="forbid")
            x: int = 1


        class B(ModelBaseConfig):
            model_config = ConfigDict(extra="allow")
        ''')
    write_project(tmp_path, {"proj/m.py": source})
    assert [str(p) for p in migrate_project(tmp_path).problems] == [
        "proj/m.py:12: model_config setting extra=\"allow\" in B is not converted (the engine forbids unknown keys in "
        "every config); remove it and adapt the class by hand",
    ]


def test_schema_classes_are_found_through_other_project_modules(tmp_path):
    """A subclass of a project class re-exported by a package __init__ is a schema class too."""
    write_project(tmp_path, {
        "proj/base/__init__.py": "from proj.base.configs import BaseNet\n",
        "proj/base/configs.py": "from noether.core.schemas.models import ModelBaseConfig\n\n\n"
                                "class BaseNet(ModelBaseConfig):\n    width: int = 2\n",
        "proj/net.py": "from proj.base import BaseNet\n\n\nclass Wide(BaseNet):\n    width: int = 8\n",
    })
    converted = {f.path: f.converted for f in migrate_project(tmp_path).changed}
    assert converted["proj/net.py"] == ("import attrs\nfrom proj.base import BaseNet\n\n\n"
                                        "@attrs.frozen(kw_only=True)\nclass Wide(BaseNet):\n    width: int = 8\n")
    assert sorted(converted) == ["proj/base/configs.py", "proj/net.py"]


def test_bad_input_is_one_line_each_and_nothing_is_written(tmp_path, capsys):
    """A syntax error and a file that is not UTF-8: one line each, and the convertible file is not written."""
    write_project(tmp_path, {"proj/schemas.py": SCHEMAS, "proj/broken.py": "x = 1\ndef f(:\n    pass\n"})
    (tmp_path / "proj" / "latin1.py").write_bytes(b"# caf\xe9\n")
    assert main([str(tmp_path), "--write"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "noether-migrate: proj/broken.py:2:7: syntax error: invalid syntax; nothing was written",
        "noether-migrate: proj/latin1.py: cannot parse: not UTF-8 text (byte 5); nothing was written",
    ]
    assert (tmp_path / "proj" / "schemas.py").read_text(encoding="utf-8") == SCHEMAS


@pytest.mark.parametrize("make, message", [
    (lambda root: root / "missing", "{root}/missing: not a directory; give the directory of a Noether project"),
    (lambda root: (root / "configs").mkdir() or root / "configs",
     "{root}/configs: not a Python project (no .py files found)"),
])
def test_a_directory_that_is_not_a_python_project_is_one_line(tmp_path, capsys, make, message):
    """A missing directory, or one without Python files (only YAML, or a virtual environment), is refused."""
    target = make(tmp_path)
    assert main([str(target)]) == 2
    assert capsys.readouterr().err == f"noether-migrate: {message.format(root=tmp_path)}\n"


def test_hidden_and_virtual_environment_directories_are_skipped(tmp_path):
    """Sources under .venv / venv / __pycache__ are not the project's."""
    write_project(tmp_path, {".venv/lib/x.py": SCHEMAS, "venv/y.py": SCHEMAS, "proj/runtime.py": RUNTIME})
    assert [f.path for f in migrate_project(tmp_path).files] == ["proj/__init__.py", "proj/runtime.py"]


def test_migration_error_lists_lines():
    """MigrationError carries one line per problem (the CLI prints each)."""
    error = MigrationError(["a.py: x", "b.py: y"])
    assert (error.lines, str(error)) == (("a.py: x", "b.py: y"), "a.py: x\nb.py: y")
