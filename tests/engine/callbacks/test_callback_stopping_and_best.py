"""Early stoppers and the best-checkpoint callback on the sequences of the reference (section 5.7, 5.9)."""

from __future__ import annotations

import pytest

from callback_run import make_run
from engine.callbacks import EarlyStop
from engine.callbacks.best_checkpoint import BestCheckpointCallback
from engine.callbacks.early_stopping import FixedEarlyStopper, MetricEarlyStopper
from noether.core.schemas import BestCheckpointCallbackConfig, FixedEarlyStopperConfig, MetricEarlyStopperConfig


def log_and_invoke(callback, run, update: int, value: float) -> bool:
    """Log ``loss/val/total = value`` for ``update``, run the callback's update hook; True if it asked to stop."""
    iteration = run.plan.iteration_at(update)
    run.writer.add_scalar("loss/val/total", value, iteration)
    try:
        callback.after_update(iteration)
        return False
    except EarlyStop:
        return True
    finally:
        run.writer.flush(iteration)


def test_metric_early_stopper_sequence(tmp_path):
    """Lower is better, tolerance 2: 0.5 -> no stop, 0.4 -> no stop, 0.45 -> no stop (1), 0.5 -> stop (2)."""
    run = make_run(tmp_path)
    stopper = MetricEarlyStopper(MetricEarlyStopperConfig(every_n_updates=1, metric_key="loss/val/total", tolerance=2))
    stopper.setup(run)
    assert [log_and_invoke(stopper, run, u, v) for u, v in enumerate([0.5, 0.4, 0.45, 0.5], start=1)] == [
        False, False, False, True]
    assert stopper.state_dict() == {"best": 0.4, "counter": 2}


def test_metric_early_stopper_state_survives_a_resume(tmp_path):
    """A stopper restored from its state keeps its patience: one more bad value stops it."""
    run = make_run(tmp_path)
    config = MetricEarlyStopperConfig(every_n_updates=1, metric_key="loss/val/total", tolerance=2)
    first, second = MetricEarlyStopper(config), MetricEarlyStopper(config)
    first.setup(run)
    second.setup(run)
    log_and_invoke(first, run, 1, 0.4)
    log_and_invoke(first, run, 2, 0.45)
    second.load_state_dict(first.state_dict())
    assert log_and_invoke(second, run, 3, 0.5)


@pytest.mark.parametrize(("field", "value", "stops_after"), [("stop_at_update", 3, 3), ("stop_at_epoch", 1, 4),
                                                             ("stop_at_sample", 20, 5)])
def test_fixed_early_stopper(tmp_path, field: str, value: int, stops_after: int):
    """The fixed stopper stops at the first update whose iteration reached the configured point (4 samples per
    update, 4 updates per epoch)."""
    run = make_run(tmp_path)
    stopper = FixedEarlyStopper(FixedEarlyStopperConfig(**{field: value}))
    stopper.setup(run)
    stopped = [update for update in range(1, 9) if log_and_invoke(stopper, run, update, 1.0)]
    assert stopped[0] == stops_after


def test_best_checkpoint_with_tolerances(tmp_path):
    """Improvements save ``best_model.loss.val.total``; after more than ``t`` non-improvements in a row the
    current model is saved once as ``...tolerance=t`` and the value is recorded."""
    run = make_run(tmp_path)
    callback = BestCheckpointCallback(BestCheckpointCallbackConfig(every_n_updates=1, metric_key="loss/val/total",
                                                                   tolerances=(1, 2)))
    callback.setup(run)
    for update, value in enumerate([0.5, 0.4, 0.45, 0.46, 0.47], start=1):
        log_and_invoke(callback, run, update, value)
    manifests = sorted(path.name for path in (tmp_path / "checkpoints").glob("*manifest.json"))
    assert manifests == ["model_cp=best_model.loss.val.total.tolerance=1_manifest.json",
                         "model_cp=best_model.loss.val.total.tolerance=2_manifest.json",
                         "model_cp=best_model.loss.val.total_manifest.json"]
    assert callback.state_dict() == {"best_metric_value": 0.4, "tolerance_counter": 3,
                                     "metric_at_exceeded_tolerance": {1: 0.46, 2: 0.47}}


def test_best_checkpoint_needs_the_metric_in_this_update(tmp_path):
    """A metric not logged in this update is an error naming what was logged."""
    run = make_run(tmp_path)
    callback = BestCheckpointCallback(BestCheckpointCallbackConfig(every_n_updates=1, metric_key="loss/test/total"))
    callback.setup(run)
    with pytest.raises(KeyError, match="metric 'loss/test/total' was not logged in this update \\(logged: loss/val/total\\)"):
        log_and_invoke(callback, run, 1, 0.5)
