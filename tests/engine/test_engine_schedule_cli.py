"""``noether-schedule``: the learning-rate and weight-decay preview of a run, from its config alone."""

from __future__ import annotations

import csv
import importlib.util
import pathlib

import pytest

from engine.cli import schedule_main

REPO = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = str(REPO / "examples" / "poisson" / "train.yaml")


@pytest.fixture(autouse=True)
def repository_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's components import from the repository root, as when run from a checkout."""
    monkeypatch.chdir(REPO)


def test_table_for_the_example(capsys: pytest.CaptureFixture) -> None:
    """The table shows the first, warmup-end, middle and last updates per group, with the config's warmup
    (10% of 320 updates) and decay to end_value."""
    assert schedule_main([EXAMPLE, "--dataset-length", "2048"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "320 updates, 32 per epoch, 64 samples per update (micro-batches [32, 32])"
    assert lines[3:7] == [
        "surrogate        default                      first              0      0   3.1250e-05    1.0000e-02",
        "surrogate        default                      warmup end        31      0   1.0000e-03    1.0000e-02",
        "surrogate        default                      middle           160      5   5.8563e-04    1.0000e-02",
        "surrogate        default                      last             319      9   1.0000e-05    1.0000e-02",
    ]
    assert lines[7].startswith("surrogate        weight_decay=0               first")
    assert lines[7].endswith("0.0000e+00")


def test_csv_holds_every_update(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture) -> None:
    """The CSV has one row per update with the exact values, and overrides change the run."""
    path = tmp_path / "curves.csv"
    assert schedule_main([EXAMPLE, "--dataset-length", "640", "trainer.max_epochs=2", "--csv", str(path)]) == 0
    rows = list(csv.DictReader(path.open()))
    assert len(rows) == 20
    assert rows[0]["update"] == "0" and rows[-1]["epoch"] == "1"
    assert float(rows[-1]["surrogate/default/lr"]) == pytest.approx(1.0e-05, rel=1e-12)
    assert {row["surrogate/weight_decay=0/weight_decay"] for row in rows} == {"0.0"}
    assert f"wrote {path}" in capsys.readouterr().out


@pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None, reason="needs the plot extra")
def test_plot_is_written(tmp_path: pathlib.Path) -> None:
    """--plot writes a PNG."""
    path = tmp_path / "curves.png"
    assert schedule_main([EXAMPLE, "--dataset-length", "640", "--plot", str(path)]) == 0
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: pathlib.Path,
                                                     capsys: pytest.CaptureFixture) -> None:
    """Without matplotlib, --plot is one clear line and exit status 2; nothing is written."""
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "matplotlib" else real(name, *a))
    assert schedule_main([EXAMPLE, "--plot", str(tmp_path / "x.png")]) == 2
    assert capsys.readouterr().err == (
        "noether-schedule: --plot needs matplotlib; install it with: pip install 'noether-engine[plot]'\n")
    assert list(tmp_path.iterdir()) == []


def test_dataset_length_from_the_engine(capsys: pytest.CaptureFixture) -> None:
    """Without --dataset-length the train dataset is built and asked for its length."""
    assert schedule_main([EXAMPLE, "datasets.train.num_samples=128", "trainer.max_epochs=1"]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "2 updates, 2 per epoch, 64 samples per update (micro-batches [32, 32])"


def test_a_schedule_that_cannot_be_evaluated_is_a_config_error(capsys: pytest.CaptureFixture) -> None:
    """A warmup longer than the run is reported before training, with its path."""
    assert schedule_main([EXAMPLE, "--dataset-length", "640", "trainer.max_epochs=1",
                          "optimizer.schedule_config.warmup_percent=null",
                          "+optimizer.schedule_config.warmup_steps=50"]) == 2
    error = capsys.readouterr().err.splitlines()
    assert error[0] == f"{EXAMPLE}: 1 problem"
    assert error[1].startswith("model.optimizer_config.schedule_config.warmup_steps: ")
