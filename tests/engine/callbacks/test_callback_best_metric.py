"""Tests for ``engine.callbacks.best_metric.BestMetricCallback``: values at the best source metric, kept continuous."""

from __future__ import annotations

import types

import pytest

from callback_run import make_run
from engine.callbacks.best_metric import BestMetricCallback
from noether.core.schemas import BestMetricCallbackConfig


def best_metric(**changes) -> BestMetricCallback:
    fields = {"every_n_updates": 1, "source_metric_key": "loss/val/total", "target_metric_keys": ("loss/test/total",),
              **changes}
    return BestMetricCallback(BestMetricCallbackConfig(**fields))


def invoke(callback: BestMetricCallback, run, update: int, metrics: dict[str, float]) -> dict[str, float]:
    """Log ``metrics`` for ``update`` as earlier callbacks would, invoke the callback, return what it logged."""
    iteration = run.plan.iteration_at(update)
    for key, value in metrics.items():
        run.writer.add_scalar(key, value, iteration)
    callback.after_update(iteration)
    logged = {key: value for key, value in run.writer.current.items() if "/at_best/" in key}
    run.writer.flush(iteration)
    return logged


def test_targets_follow_the_best_source_value(tmp_path):
    """The target is logged at each improvement (lower loss) and re-logged unchanged otherwise."""
    run = make_run(tmp_path)
    callback = best_metric()
    callback.setup(run)
    key = "loss/test/total/at_best/loss/val/total"
    sequence = [(0.5, 1.0), (0.4, 2.0), (0.45, 3.0), (0.4, 4.0), (0.3, 5.0)]
    logged = [invoke(callback, run, update, {"loss/val/total": val, "loss/test/total": test})
              for update, (val, test) in enumerate(sequence, start=1)]
    assert logged == [{key: 1.0}, {key: 2.0}, {key: 2.0}, {key: 2.0}, {key: 5.0}]
    assert callback.best == 0.3


def test_higher_is_better_for_accuracy(tmp_path):
    """An accuracy source improves upwards."""
    run = make_run(tmp_path)
    callback = best_metric(source_metric_key="accuracy/val", target_metric_keys=("accuracy/test",))
    callback.setup(run)
    key = "accuracy/test/at_best/accuracy/val"
    values = [invoke(callback, run, u, {"accuracy/val": val, "accuracy/test": test})[key]
              for u, (val, test) in enumerate([(0.6, 0.1), (0.5, 0.2), (0.7, 0.3)], start=1)]
    assert values == [0.1, 0.1, 0.3]


def test_optional_targets_are_taken_when_present(tmp_path):
    """Optional keys are remembered only when logged at the improvement; mandatory ones always."""
    run = make_run(tmp_path)
    callback = best_metric(optional_target_metric_keys=("loss/ema/total",))
    callback.setup(run)
    first = invoke(callback, run, 1, {"loss/val/total": 0.5, "loss/test/total": 1.0})
    second = invoke(callback, run, 2, {"loss/val/total": 0.4, "loss/test/total": 2.0, "loss/ema/total": 3.0})
    third = invoke(callback, run, 3, {"loss/val/total": 0.9, "loss/test/total": 4.0})
    assert first == {"loss/test/total/at_best/loss/val/total": 1.0}
    assert second == third == {"loss/test/total/at_best/loss/val/total": 2.0,
                               "loss/ema/total/at_best/loss/val/total": 3.0}


def test_only_optional_targets(tmp_path):
    """Without mandatory targets, an absent optional key is simply not logged."""
    run = make_run(tmp_path)
    callback = best_metric(target_metric_keys=None, optional_target_metric_keys=("loss/test/total",))
    callback.setup(run)
    assert invoke(callback, run, 1, {"loss/val/total": 0.5}) == {}
    assert invoke(callback, run, 2, {"loss/val/total": 0.4, "loss/test/total": 7.0}) == {
        "loss/test/total/at_best/loss/val/total": 7.0}


def test_missing_metrics_are_reported_together(tmp_path):
    """A missing source or mandatory target names the field, the key and what was logged."""
    run = make_run(tmp_path)
    callback = best_metric(target_metric_keys=("loss/test/total", "loss/ood/total"))
    callback.setup(run)
    with pytest.raises(ValueError) as error:
        invoke(callback, run, 1, {"loss/test/total": 1.0})
    assert str(error.value) == (
        "BestMetricCallback(U1): not logged in this update: source_metric_key 'loss/val/total', target_metric_keys "
        "'loss/ood/total' (logged: loss/test/total); the callbacks that log them must come earlier in "
        "trainer.callbacks and run at the same interval")


def test_state_dict_round_trip_keeps_the_best(tmp_path):
    """A restored callback keeps comparing against the best so far and re-logs its remembered targets."""
    run = make_run(tmp_path)
    callback = best_metric()
    callback.setup(run)
    invoke(callback, run, 1, {"loss/val/total": 0.5, "loss/test/total": 1.0})
    state = callback.state_dict()
    assert state == {"best_metric_value": 0.5, "metrics_at_best": {"loss/test/total": 1.0}}
    resumed = best_metric()
    resumed.setup(run)
    resumed.load_state_dict(state)
    assert invoke(resumed, run, 2, {"loss/val/total": 0.6, "loss/test/total": 9.0}) == {
        "loss/test/total/at_best/loss/val/total": 1.0}


def test_no_targets_is_an_error():
    """The callback itself rejects a config without target keys (the config class does too)."""
    config = types.SimpleNamespace(every_n_updates=1, source_metric_key="loss/val/total", target_metric_keys=None,
                                   optional_target_metric_keys=())
    with pytest.raises(ValueError, match=r"BestMetricCallback\(U1\): target_metric_keys: set target_metric_keys or "
                                         r"optional_target_metric_keys \(got neither\)"):
        BestMetricCallback(config)
