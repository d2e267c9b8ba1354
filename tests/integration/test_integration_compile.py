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
