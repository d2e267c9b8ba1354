"""Two gloo processes started with torchrun train exactly like one process with the same effective batch size."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest
import torch

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]

CONFIG = """
output_path: {output}
seed: 3
tracker: disabled
datasets:
  train: {{kind: ddp_components.Regression, num_samples: 64}}
model:
  kind: ddp_components.Mlp
  name: mlp
  optimizer_config: {{kind: torch.optim.AdamW, lr: 0.01, weight_decay: 0.01}}
trainer:
  kind: ddp_components.MseTrainer
  max_epochs: 2
  effective_batch_size: 16
  forward_properties: [x]
  target_properties: [y]
  log_every_n_updates: 4
  callbacks: {callbacks}
"""


def train(tmp_path: pathlib.Path, run_id: str, processes: int, *overrides: str, callbacks: str = "[]",
          environment: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run noether-train with 1 process or under torchrun with ``processes`` processes (bounded in time)."""
    config = tmp_path / "train.yaml"
    config.write_text(CONFIG.format(output=tmp_path / "out", callbacks=callbacks))
    launcher = ["--nproc-per-node", str(processes)] if processes > 1 else []
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO)]), "OMP_NUM_THREADS": "1",
           **(environment or {})}
    return subprocess.run([sys.executable, "-m", "engine.cli", *launcher, str(config), f"run_id={run_id}", *overrides],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)


def weights(tmp_path: pathlib.Path, run_id: str, tag: str = "latest") -> dict[str, torch.Tensor]:
    """The final weights of a run."""
    return torch.load(tmp_path / "out" / run_id / "checkpoints" / f"mlp_cp={tag}_model.th", weights_only=True)["state_dict"]


def max_difference(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between two state dicts with the same keys."""
    return max((first[key] - second[key]).abs().max().item() for key in first)


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
