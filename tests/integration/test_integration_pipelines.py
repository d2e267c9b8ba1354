"""Pipelines in whole runs in subprocesses: a run whose pipeline samples random points in two DataLoader workers
(and whose model uses dropout), killed with SIGKILL mid-epoch and resumed, ends bit-for-bit like the
uninterrupted run; two DDP processes with padded batches train like one process."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(REPO / "tests" / "engine"))
from pipeline_components import MODULE, pipeline_yaml  # noqa: E402

NOISY = f"{{kind: {MODULE}.NoisyPipeline, num_points: 4}}"
CHECKPOINT_EVERY_UPDATE = "{name: CheckpointCallback, every_n_updates: 1, save_weights: false}"


PAD = ("{kind: engine.data.pipeline.MultiStagePipeline, collators: [{kind: engine.data.pipeline.PadCollator, "
       "items: [x, y], mask_key: mask}]}")


def train(tmp_path: pathlib.Path, run_id: str, *overrides: str, callbacks: str = "[]",
          environment: dict[str, str] | None = None, processes: int = 1, **fields) -> subprocess.CompletedProcess:
    config = tmp_path / f"{run_id}.yaml"
    fields = {"pipeline": NOISY, "num_workers": 2, "dropout": 0.2, "max_batch_size": 4, **fields}
    config.write_text(pipeline_yaml(tmp_path / "out", callbacks=callbacks, **fields))
    launcher = ["--nproc-per-node", str(processes)] if processes > 1 else []
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONFAULTHANDLER": "1", **(environment or {}),
           "PYTHONPATH": os.pathsep.join([str(HERE), str(REPO / "tests" / "engine"), str(REPO)])}
    return subprocess.run([sys.executable, "-m", "engine.cli", *launcher, str(config), f"run_id={run_id}", *overrides],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)


def weights(tmp_path: pathlib.Path, run_id: str) -> dict[str, torch.Tensor]:
    return torch.load(tmp_path / "out" / run_id / "checkpoints" / "mlp_cp=latest_model.th", weights_only=True)["state_dict"]


def test_sigkill_mid_epoch_then_resume_with_random_point_sampling_in_two_workers(tmp_path):
    full = train(tmp_path, "full", callbacks=f"[{CHECKPOINT_EVERY_UPDATE}]")
    assert full.returncode == 0, full.stderr
    killer = "{kind: ddp_components.KillingCallback, every_n_updates: 1}"
    killed = train(tmp_path, "killed", callbacks=f"[{CHECKPOINT_EVERY_UPDATE}, {killer}]",
                   environment={"KILL_AT_UPDATE": "5"})
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    resumed = train(tmp_path, "resumed", "resume_run_id=killed", callbacks=f"[{CHECKPOINT_EVERY_UPDATE}]")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming killed at E1_U4_S32" in resumed.stdout  # mid-epoch: 3 updates per epoch
    full_weights, resumed_weights = weights(tmp_path, "full"), weights(tmp_path, "resumed")
    assert all(torch.equal(full_weights[key], resumed_weights[key]) for key in full_weights)


def test_two_ddp_processes_with_padded_batches_train_like_one_process(tmp_path):
    """Each rank pads its half of every update to its own longest cloud; the per-point loss, summed over ranks
    and divided by the points of the whole update, gives the single-process weights (float64, 1e-12)."""
    single = train(tmp_path, "single", pipeline=PAD, num_workers=0, dropout=0.0, max_batch_size=None)
    assert single.returncode == 0, single.stderr
    ddp = train(tmp_path, "ddp", pipeline=PAD, num_workers=0, dropout=0.0, max_batch_size=None, processes=2)
    assert ddp.returncode == 0, ddp.stderr
    one, two = weights(tmp_path, "single"), weights(tmp_path, "ddp")
    assert max((one[key] - two[key]).abs().max().item() for key in one) < 1e-12
