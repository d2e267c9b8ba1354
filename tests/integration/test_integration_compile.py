"""``use_torch_compile: true`` trains the compiled model to the weights of the eager one."""

from __future__ import annotations

import pathlib

from subprocess_runs import max_difference, train, weights


def test_compiled_run_matches_eager(tmp_path: pathlib.Path) -> None:
    """A compiled run (inductor on CPU) ends within float32 rounding of the eager run."""
    eager = train(tmp_path, "eager", 1)
    assert eager.returncode == 0, eager.stderr
    compiled = train(tmp_path, "compiled", 1, "trainer.use_torch_compile=true")
    assert compiled.returncode == 0, compiled.stderr
    assert max_difference(weights(tmp_path, "compiled"), weights(tmp_path, "eager")) < 1e-5


def test_compiled_run_with_accumulation_and_skip_nan_loss_matches_eager(tmp_path: pathlib.Path) -> None:
    """Compiled and eager runs with micro-batches of 6, 6 and 4 and ``skip_nan_loss`` (the flag and the masked
    step run outside the compiled model) end within float32 rounding of each other."""
    overrides = ("trainer.max_batch_size=6", "trainer.skip_nan_loss=true")
    eager = train(tmp_path, "eager", 1, *overrides)
    assert eager.returncode == 0, eager.stderr
    compiled = train(tmp_path, "compiled", 1, "trainer.use_torch_compile=true", *overrides)
    assert compiled.returncode == 0, compiled.stderr
    assert "micro-batches [6, 6, 4]" in compiled.stdout
    assert max_difference(weights(tmp_path, "compiled"), weights(tmp_path, "eager")) < 1e-5
