"""Non-finite losses (DESIGN.md sections 4.2 and 5): with ``skip_nan_loss`` an update with a NaN or Inf
micro-batch loss is skipped as a whole, up to ``skip_nan_loss_max_count`` updates in a row; without it the
run stops with a clear message."""

from __future__ import annotations

import pytest

import engine
from engine_components import RECORDINGS, max_difference, recorder, token_config
from noether.core.schemas import OptimizerConfig

SGD = OptimizerConfig(kind="torch.optim.SGD", lr=0.1)
"""Plain SGD: a zero gradient leaves the weights exactly as they are."""


@pytest.mark.parametrize("bad", ["nan_steps", "inf_steps"])
def test_a_non_finite_update_is_skipped_and_training_continues(tmp_path, bad):
    """A NaN (or Inf) loss in the middle micro-batch of the second update leaves the weights of that update
    unchanged, and the next updates train on their own samples."""
    # micro-batches 4, 4, 4: training step 4 is the second micro-batch of the second update (index 1)
    record_id = f"skip-{bad}"
    result = engine.run(token_config(tmp_path / "skip", optimizer=SGD, max_batch_size=4, skip_nan_loss=True,
                                     callbacks=(recorder(record_id),), **{bad: (4,)}))
    assert str(result.iteration) == "E2_U4_S48"
    after = RECORDINGS[record_id].after_interval
    assert [label for label, _ in after] == ["E0_U1_S12", "E1_U2_S24", "E1_U3_S36", "E2_U4_S48"]
    assert max_difference(after[0][1], after[1][1]) == 0.0
    assert max_difference(after[1][1], after[2][1]) > 1e-4
    # the same run with a zero gradient in every micro-batch of the second update: bit-identical weights, so the
    # skipped update neither leaked its first micro-batch's gradient nor shifted the later updates' samples
    engine.run(token_config(tmp_path / "zero", optimizer=SGD, max_batch_size=4, callbacks=(recorder("zero"),),
                            zero_steps=(3, 4, 5)))
    assert max_difference(RECORDINGS[record_id].final, RECORDINGS["zero"].final) == 0.0


def test_non_finite_updates_are_counted_in_a_row(tmp_path):
    """With at most 2 skipped updates in a row, 2 + 2 non-finite updates separated by a good one are allowed."""
    result = engine.run(token_config(tmp_path, skip_nan_loss=True, skip_nan_loss_max_count=2, max_updates=6,
                                     nan_steps=(0, 1, 4), inf_steps=(3,)))
    assert str(result.iteration) == "E3_U6_S72"


def test_too_many_non_finite_updates_in_a_row_stop_training(tmp_path):
    """A third NaN-or-Inf update in a row, with ``skip_nan_loss_max_count: 2``, raises a RuntimeError."""
    config = token_config(tmp_path, skip_nan_loss=True, skip_nan_loss_max_count=2, max_updates=6,
                          nan_steps=(1, 3), inf_steps=(2,))
    with pytest.raises(RuntimeError) as caught:
        engine.run(config)
    assert str(caught.value) == "3 updates in a row had a NaN or Inf loss (trainer.skip_nan_loss_max_count is 2)"


@pytest.mark.parametrize(("bad", "value"), [("nan_steps", "nan"), ("inf_steps", "inf")])
def test_without_skip_nan_loss_a_non_finite_loss_stops_training(tmp_path, bad, value):
    """Without ``skip_nan_loss`` the online-loss logging of the first update with a NaN (Inf) loss raises."""
    with pytest.raises(RuntimeError) as caught:
        engine.run(token_config(tmp_path, **{bad: (2,)}))
    assert str(caught.value) == (
        f"the training loss 'total' is {value} at E1_U3_S36; set trainer.skip_nan_loss: true to skip such "
        "updates, or lower the learning rate"
    )
