"""Starting processes wrongly is one clear line, before anything trains."""

from __future__ import annotations

import pathlib

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
