"""Mixed precision through ``engine.run``: autocast on CPU and CUDA, the float16 gradient scaler on CUDA, and a
clear config error for a precision the device cannot run."""

from __future__ import annotations

import math
import warnings

import pytest
import torch

import engine
from engine.checkpoint import load_part
from engine_components import RECORDINGS, max_difference, recorder, token_config
from noether.core.config import ConfigError
from noether.core.schemas import CheckpointCallbackConfig

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


def run_in_precision(tmp_path, precision: str, record_id: str, accelerator: str = "cpu") -> engine.RunResult:
    """Train the float32 token MLP for 4 updates in ``precision``, recording the output dtypes; a CUDA run also
    saves a ``latest`` checkpoint (with the trainer state) after its last update."""
    callbacks = [recorder(record_id)]
    if accelerator == "gpu":
        callbacks.append(CheckpointCallbackConfig(every_n_updates=4, save_weights=False, save_latest_weights=True))
    return engine.run(token_config(tmp_path, dtype="float32", precision=precision, max_batch_size=4,
                                   accelerator=accelerator, callbacks=tuple(callbacks)))


@pytest.mark.parametrize(("precision", "dtype"), [("bfloat16", torch.bfloat16), ("bf16", torch.bfloat16),
                                                  ("float16", torch.float16)])
def test_cpu_autocast_runs_with_a_finite_loss(tmp_path, precision, dtype):
    """On the CPU, bfloat16 and float16 run the forward pass under autocast and train with a finite loss."""
    result = run_in_precision(tmp_path, precision, f"cpu-{precision}")
    recording = RECORDINGS[f"cpu-{precision}"]
    assert recording.output_dtypes == {dtype}
    assert math.isfinite(result.metrics["loss/online/total/U1"])
    assert all(parameter.dtype == torch.float32 for parameter in recording.final.values())
    assert max_difference(recording.initial, recording.final) > 1e-3
    assert str(result.iteration) == "E2_U4_S48"


def test_float32_runs_without_autocast(tmp_path):
    """``precision: float32`` leaves the forward pass in float32."""
    run_in_precision(tmp_path, "float32", "cpu-float32")
    assert RECORDINGS["cpu-float32"].output_dtypes == {torch.float32}


def test_a_precision_the_device_cannot_run_is_a_config_error(tmp_path, monkeypatch):
    """When torch refuses to autocast (it warns and disables autocast), the run stops before anything is written,
    with the config path and torch's reason."""

    real_autocast = torch.autocast

    def refusing_autocast(device_type, dtype=None, enabled=True, **kwargs):
        if enabled:
            warnings.warn("In CPU autocast, but the target dtype is not supported. Disabling autocast.", stacklevel=2)
        return real_autocast(device_type, dtype=dtype, enabled=False, **kwargs)

    monkeypatch.setattr(torch, "autocast", refusing_autocast)
    with pytest.raises(ConfigError) as caught:
        engine.run(token_config(tmp_path, dtype="float32", precision="float16"))
    assert str(caught.value) == (
        "trainer.precision: the cpu device cannot run float16 (got 'float16'): In CPU autocast, but the target "
        "dtype is not supported. Disabling autocast."
    )
    assert not tmp_path.joinpath("test-run").exists()


@pytest.mark.gpu
@needs_cuda
def test_cuda_float16_trains_with_a_grad_scaler(tmp_path):
    """float16 on CUDA autocasts to float16, scales the loss with a GradScaler (saved in the trainer state) and
    trains with a finite loss."""
    result = run_in_precision(tmp_path, "float16", "cuda-float16", accelerator="gpu")
    assert RECORDINGS["cuda-float16"].output_dtypes == {torch.float16}
    assert math.isfinite(result.metrics["loss/online/total/U1"])
    trainer_state = load_part(result.run_dir / "checkpoints" / "mlp_cp=latest_trainer.th")
    assert trainer_state["grad_scaler"]["scale"] > 0


@pytest.mark.gpu
@needs_cuda
def test_cuda_bfloat16_trains_without_a_grad_scaler(tmp_path):
    """bfloat16 on CUDA autocasts to bfloat16 without a GradScaler and trains with a finite loss."""
    result = run_in_precision(tmp_path, "bfloat16", "cuda-bfloat16", accelerator="gpu")
    assert RECORDINGS["cuda-bfloat16"].output_dtypes == {torch.bfloat16}
    assert math.isfinite(result.metrics["loss/online/total/U1"])
    trainer_state = load_part(result.run_dir / "checkpoints" / "mlp_cp=latest_trainer.th")
    assert trainer_state["grad_scaler"] == {}
