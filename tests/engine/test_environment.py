"""Root fields with a run-time effect: ``debug``, ``cudnn_benchmark`` / ``cudnn_deterministic`` and
``store_code_in_output`` (engine.environment)."""

from __future__ import annotations

import pathlib
import tarfile

import attrs
import pytest
import torch

import engine
from engine import environment
from engine_components import token_config
from noether.core.schemas import TensorboardTrackerSchema


def make_project(root: pathlib.Path) -> None:
    """A project directory: a package, a script, outputs, a virtual environment, a hidden directory, a plain folder."""
    files = {
        "train.py": "print('train')\n",
        "proj/__init__.py": "",
        "proj/models/__init__.py": "",
        "proj/models/upt.py": "class UPT: ...\n",
        "proj/models/__pycache__/upt.cpython-311.pyc": "",
        "proj/configs/train.yaml": "a: 1\n",
        "outputs/run/copy.py": "",
        "venv/pyvenv.cfg": "home = /usr\n",
        "venv/lib/site.py": "",
        "proj/.hidden/x.py": "",
        "scripts/tool.py": "",  # not a package: not importable from the project directory
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    (root / "outputs" / "__init__.py").write_text("", encoding="utf-8")
    (root / "venv" / "__init__.py").write_text("", encoding="utf-8")


def test_project_sources_are_the_importable_python_files(tmp_path):
    """Top-level modules and package sources; no outputs, no virtual environment, no caches or hidden folders."""
    make_project(tmp_path)
    sources = environment.project_sources(tmp_path, exclude=[tmp_path / "outputs"])
    assert [str(p.relative_to(tmp_path)) for p in sources] == [
        "proj/__init__.py", "proj/models/__init__.py", "proj/models/upt.py", "train.py"]


def test_store_code_writes_the_archive(tmp_path):
    """``code.tar.gz`` holds the sources under their project-relative names."""
    make_project(tmp_path)
    run_dir = tmp_path / "outputs" / "run"
    archive = environment.store_code(run_dir, tmp_path, exclude=[tmp_path / "outputs"])
    assert archive == run_dir / "code.tar.gz"
    with tarfile.open(archive) as members:
        assert members.getnames() == ["proj/__init__.py", "proj/models/__init__.py", "proj/models/upt.py", "train.py"]
        assert members.extractfile("proj/models/upt.py").read() == b"class UPT: ...\n"


def test_store_code_is_size_capped_with_a_warning(tmp_path):
    """Past the byte limit the remaining files are left out, and a warning says how many and how to turn it off."""
    make_project(tmp_path)
    with pytest.warns(UserWarning, match=r"holds 15 bytes of source, the limit; 1 file\(s\) left out, first train.py"):
        archive = environment.store_code(tmp_path / "outputs" / "run", tmp_path, exclude=[tmp_path / "outputs"], max_bytes=20)
    with tarfile.open(archive) as members:
        assert members.getnames() == ["proj/__init__.py", "proj/models/__init__.py", "proj/models/upt.py"]


def test_debug_turns_off_the_tracker_and_moves_the_output(tmp_path):
    """Debug mode: no tracker (also no TensorBoard) and outputs under ``<output_path>/debug``, once."""
    config = attrs.evolve(token_config(tmp_path), debug=True, tracker=TensorboardTrackerSchema())
    debug = environment.for_debug(config)
    assert (debug.tracker, debug.output_path) == (None, tmp_path / "debug")
    assert environment.for_debug(debug).output_path == tmp_path / "debug"
    assert environment.for_debug(token_config(tmp_path)) == token_config(tmp_path)


@pytest.mark.parametrize(("benchmark", "deterministic", "expected"),
                         [(True, False, (True, False)), (False, True, (False, True)), (True, True, (False, True))])
def test_cudnn_flags_follow_the_config_on_cuda(tmp_path, benchmark, deterministic, expected):
    """On a CUDA device the flags are set (deterministic wins over benchmark); on the CPU they are left alone."""
    before = (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic)
    config = attrs.evolve(token_config(tmp_path), cudnn_benchmark=benchmark, cudnn_deterministic=deterministic)
    try:
        environment.set_cudnn_flags(config, torch.device("cpu"))
        assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == before
        environment.set_cudnn_flags(config, torch.device("cuda"))
        assert (torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic) == expected
    finally:
        torch.backends.cudnn.benchmark, torch.backends.cudnn.deterministic = before


def test_a_debug_run_stores_its_code_under_the_debug_directory(tmp_path, monkeypatch):
    """A run with ``debug`` and ``store_code_in_output`` writes into ``<output_path>/debug/<run_id>``, archives the
    working directory's packages, and records the config it really used."""
    make_project(tmp_path / "project")
    monkeypatch.chdir(tmp_path / "project")
    config = attrs.evolve(token_config(tmp_path / "out", max_updates=1), debug=True, store_code_in_output=True)
    result = engine.run(config)
    assert result.run_dir == tmp_path / "out" / "debug" / "test-run"
    with tarfile.open(result.run_dir / "code.tar.gz") as members:
        assert "proj/models/upt.py" in members.getnames()
    written = engine.load_config(result.run_dir / "config.yaml")
    assert (written.debug, written.tracker, written.output_path) == (True, None, tmp_path / "out" / "debug")
