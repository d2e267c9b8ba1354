"""Run ``noether-train`` in subprocesses (one process, or several under torchrun) on the engine's toy
(``engine.demos``) with the callbacks of ``ddp_components``, and read back what the runs left."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import torch

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parents[1]

CONFIG = """
output_path: {output}
seed: 3
tracker: disabled
datasets:
  train: {{kind: engine.demos.Regression, num_samples: 64}}
model:
  kind: engine.demos.Mlp
  name: mlp
  optimizer_config: {{kind: torch.optim.AdamW, lr: 0.01, weight_decay: 0.01}}
trainer:
  kind: engine.demos.MseTrainer
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
           "PYTHONFAULTHANDLER": "1",  # a crash in C++ (SIGABRT, SIGSEGV) shows every thread's Python stack
           **(environment or {})}
    return subprocess.run([sys.executable, "-m", "engine.cli", *launcher, str(config), f"run_id={run_id}", *overrides],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=240)


def weights(tmp_path: pathlib.Path, run_id: str, tag: str = "latest") -> dict[str, torch.Tensor]:
    """The final weights of a run."""
    return torch.load(tmp_path / "out" / run_id / "checkpoints" / f"mlp_cp={tag}_model.th", weights_only=True)["state_dict"]


def max_difference(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> float:
    """Largest absolute difference between two state dicts with the same keys."""
    return max((first[key] - second[key]).abs().max().item() for key in first)
