"""Starting processes wrongly is one clear line, before anything trains."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from engine.cli import train_main

REPO = pathlib.Path(__file__).resolve().parents[2]


def test_incomplete_torchrun_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path,
                                         capsys: pytest.CaptureFixture) -> None:
    """WORLD_SIZE without MASTER_ADDR / MASTER_PORT names the missing variables and exits 2; no run directory."""
    monkeypatch.chdir(REPO)
    for name, value in {"WORLD_SIZE": "2", "RANK": "0", "LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    for name in ("MASTER_ADDR", "MASTER_PORT"):
        monkeypatch.delenv(name, raising=False)
    assert train_main(["examples/poisson/train.yaml", f"output_path={tmp_path}", "accelerator=cpu"]) == 2
    assert capsys.readouterr().err == (
        "noether-train: distributed launch without MASTER_ADDR, MASTER_PORT: start the run with torchrun "
        "(or noether-train --nproc-per-node N), which sets them\n")
    assert list(tmp_path.iterdir()) == []


TEARDOWN_PROBE = '''
class _Teardown:
    def __del__(self):
        print("module teardown", flush=True)


_kept = _Teardown()
'''


@pytest.mark.parametrize(("environment", "teardown"), [({}, "module teardown\n"),
                                                       ({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1"}, "")])
def test_a_torchrun_worker_ends_without_interpreter_teardown(tmp_path: pathlib.Path, environment: dict[str, str],
                                                             teardown: str) -> None:
    """``python -m engine.cli`` in a torchrun worker ends through exit_worker, with its exit status: the module
    teardown, where gloo's threads can abort the process, never runs; a single process ends normally."""
    (tmp_path / "sitecustomize.py").write_text(TEARDOWN_PROBE)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(REPO)]), **environment}
    for name in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        if name not in environment:
            env.pop(name, None)
    missing = tmp_path / "missing.yaml"
    result = subprocess.run([sys.executable, "-m", "engine.cli", str(missing)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout) == (2, teardown)
    assert result.stderr == f"{missing}: 1 problem\n<root>: config file not found  [{missing}]\n"


def test_exit_worker_runs_the_atexit_handlers_and_flushes() -> None:
    """exit_worker keeps what a normal exit does for the program (atexit handlers, buffered output, the status)."""
    code = ("import atexit\nfrom engine.distributed import exit_worker\n" + TEARDOWN_PROBE
            + "atexit.register(print, 'atexit ran')\nprint('buffered', end='')\nexit_worker(7)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert (result.returncode, result.stdout, result.stderr) == (7, "bufferedatexit ran\n", "")
