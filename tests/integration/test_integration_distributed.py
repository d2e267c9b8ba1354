"""Two gloo processes started with torchrun train exactly like one process with the same effective batch size."""

from __future__ import annotations

import pathlib
import subprocess

import pytest

from subprocess_runs import max_difference, train, weights

@pytest.fixture(scope="module")
def single_process(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    """A one-process reference run."""
    tmp_path = tmp_path_factory.mktemp("single")
    result = train(tmp_path, "single", 1)
    assert result.returncode == 0, result.stderr
    return tmp_path


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory: pytest.TempPathFactory) -> tuple[pathlib.Path, subprocess.CompletedProcess]:
    """The same run with two gloo processes under torchrun."""
    tmp_path = tmp_path_factory.mktemp("two")
    result = train(tmp_path, "two", 2)
    assert result.returncode == 0, result.stderr
    return tmp_path, result


def test_two_processes_equal_one(single_process: pathlib.Path, two_processes: tuple) -> None:
    """Two gloo ranks with 8 samples each reach the weights of one process with 16, to 1e-6."""
    assert max_difference(weights(two_processes[0], "two"), weights(single_process, "single")) < 1e-6


def test_accumulation_under_ddp_equals_no_accumulation(single_process: pathlib.Path, tmp_path: pathlib.Path) -> None:
    """Two ranks that each split their 8 samples into micro-batches of 3, 3 and 2 (no_sync on the first two)
    reach the weights of the one-process run without accumulation."""
    result = train(tmp_path, "accumulated", 2, "trainer.max_batch_size=6")
    assert result.returncode == 0, result.stderr
    assert "micro-batches [3, 3, 2]" in result.stdout
    assert max_difference(weights(tmp_path, "accumulated"), weights(single_process, "single")) < 1e-6


def test_only_rank_zero_writes_files(single_process: pathlib.Path, two_processes: tuple) -> None:
    """A two-process run leaves the same files as a one-process run, and rank 1 prints nothing."""
    tmp_path, result = two_processes
    files = sorted(path.relative_to(tmp_path / "out" / "two") for path in (tmp_path / "out" / "two").rglob("*"))
    reference = sorted(path.relative_to(single_process / "out" / "single") for path in (single_process / "out" / "single").rglob("*"))
    assert files == reference
    assert result.stdout.count("done at E2_U8_S128") == 1
    assert result.stdout.count("run_id: two\n") == 1


def test_sigterm_to_one_rank_stops_both_after_the_same_update(tmp_path: pathlib.Path, two_processes: tuple) -> None:
    """SIGTERM to rank 1 after update 3 stops both ranks after update 3 with one resumable checkpoint (exit 143),
    and resuming it reaches the uninterrupted run's weights exactly."""
    callbacks = "[{kind: ddp_components.TerminatingCallback, every_n_updates: 1}]"
    result = train(tmp_path, "stopped", 2, callbacks=callbacks, environment={"TERMINATE_AT_UPDATE": "3"})
    assert result.returncode != 0  # torchrun reports the workers' 143
    assert result.stdout.count("stopped by SIGTERM at E0_U3_S48") == 1
    checkpoints = tmp_path / "out" / "stopped" / "checkpoints"
    assert sorted(path.name for path in checkpoints.glob("*manifest.json")) == ["mlp_cp=latest_manifest.json"]
    resumed = train(tmp_path, "resumed", 2, "resume_run_id=stopped")
    assert resumed.returncode == 0, resumed.stderr
    assert max_difference(weights(tmp_path, "resumed"), weights(two_processes[0], "two")) == 0.0
