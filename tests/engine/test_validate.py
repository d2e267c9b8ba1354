"""Validate first: ``noether-check`` reports everything a run would reject before its first update, at once, and a
run rejects the same before it writes anything."""

from __future__ import annotations

import pathlib

import attrs
import pytest

import engine
from engine.callbacks import Callback, OfflineLossCallback, OnlineLossCallback
from engine.validate import logged_keys, watched_metric_issues
from engine_components import token_config
from evaluate_components import datasets
from noether.core.config import ConfigError
from noether.core.config.cli import main as check_main
from noether.core.schemas.callbacks import (
    BestCheckpointCallbackConfig,
    BestMetricCallbackConfig,
    OfflineLossCallbackConfig,
)
from noether.core.training import Interval

REPO = pathlib.Path(__file__).resolve().parents[2]
POINTCLOUD = "examples/pointcloud/train.yaml"


def test_noether_check_reports_every_run_time_problem_at_once(capsys, monkeypatch):
    """Forward properties, an optimizer argument, a dataset key, a watched key nothing logs, an EMA metric and a
    schedule too short for the run: one exact line each, in one pass, and no config printed."""
    monkeypatch.chdir(REPO)
    overrides = ["model.forward_properties=[position,mask,normals]",
                 "+model.optimizer_config.optimizer_kwargs.momentum=0.9",
                 "trainer.callbacks[0].dataset_key=test",
                 "trainer.callbacks[2].metric_key=loss/vall/total",
                 "model.optimizer_config.schedule_config={kind: noether.core.schedules.CustomSchedule, values: [0.1]}"]
    assert check_main([POINTCLOUD, *overrides]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.splitlines() == [
        f"{POINTCLOUD}: 5 problems",
        "model.optimizer_config.momentum: is not an argument of torch.optim.AdamW (got 0.9); torch.optim.AdamW "
        "accepts amsgrad, betas, capturable, differentiable, eps, foreach, fused, lr, maximize, weight_decay  "
        f"[{POINTCLOUD}:45:3]",
        f"trainer.callbacks[0].dataset_key: no dataset 'test' (datasets: train, val)  [override 3 '{overrides[2]}']",
        "model.forward_properties: train_step calls PointNet.forward(position, mask) with these batch items by name, "
        f"but it does not take normals (got ['position', 'mask', 'normals'])  [override 1 '{overrides[0]}']",
        "model.optimizer_config.schedule_config.values: must have a value for each of the run's 192 updates "
        f"(got 1 values)  [override 5 '{overrides[4]}']",
        "trainer.callbacks[2].metric_key: no callback logs 'loss/vall/total' (logged: loss/online/*/U4, loss/test/*, "
        f"lossdiff/test/*, optim/lr/*, optim/wd/*, train_time/*/mean/E1)  [override 4 '{overrides[3]}']",
    ]


def test_noether_check_passes_the_example(capsys, monkeypatch):
    """The point-cloud example as written passes every check and prints its resolved config."""
    monkeypatch.chdir(REPO)
    assert check_main([POINTCLOUD]) == 0
    assert capsys.readouterr().out.startswith("name: pointcloud\n")


def test_an_ema_metric_without_its_evaluation_is_reported(capsys, monkeypatch):
    """A best checkpoint by ``ema=0.99/loss/val/total`` needs an offline loss with ``model_info: ema=0.99``."""
    monkeypatch.chdir(REPO)
    override = "trainer.callbacks[2].metric_key=ema=0.99/loss/val/total"
    assert check_main([POINTCLOUD, override]) == 2
    assert capsys.readouterr().err.splitlines()[1] == (
        "trainer.callbacks[2].metric_key: no callback logs 'ema=0.99/loss/val/total' (logged: loss/online/*/U4, "
        f"loss/val/*, lossdiff/val/*, optim/lr/*, optim/wd/*, train_time/*/mean/E1)  [override 1 '{override}']")
    evaluated = "+trainer.callbacks[3]={name: OfflineLossCallback, dataset_key: val, every_n_epochs: 1, model_info: ema=0.99}"
    assert check_main([POINTCLOUD, override, evaluated]) == 2
    assert capsys.readouterr().err.splitlines()[1] == (
        "trainer.callbacks[2].metric_key: 'ema=0.99/loss/val/total' is logged only after this callback runs (by "
        "OfflineLossCallback(E1)); a callback that logs it must come earlier in trainer.callbacks  "
        f"[override 1 '{override}']")
    assert check_main([POINTCLOUD, override, "+trainer.callbacks[0].model_info=ema=0.99"]) == 0


def test_a_run_rejects_a_watched_key_before_writing_anything(tmp_path):
    """``engine.run`` with a best checkpoint on a key nothing logs: a config error, no run directory."""
    callbacks = (OfflineLossCallbackConfig(dataset_key="val", every_n_updates=1),
                 BestCheckpointCallbackConfig(metric_key="loss/valid/total", every_n_updates=1),
                 BestMetricCallbackConfig(source_metric_key="loss/val/total", target_metric_keys=("loss/tset/total",),
                                          every_n_updates=1))
    config = token_config(tmp_path, datasets=datasets(), callbacks=callbacks)
    with pytest.raises(ConfigError) as caught:
        engine.run(config)
    logged = ("loss/online/*/U1, loss/tset/total/at_best/loss/val/total, loss/val/*, lossdiff/val/*, optim/lr/*, "
              "optim/wd/*, train_time/*/mean/U4")
    assert str(caught.value).splitlines() == [
        f"trainer.callbacks[1].metric_key: no callback logs 'loss/valid/total' (logged: {logged})",
        f"trainer.callbacks[2].target_metric_keys[0]: no callback logs 'loss/tset/total' (logged: {logged})",
    ]
    assert not (tmp_path / "test-run").exists()


class Accuracy(Callback):
    """A user callback that declares the keys it logs."""

    def logged_keys(self) -> tuple[str, ...]:
        """``accuracy/<split>``."""
        return ("accuracy/*",)


class Silent(Callback):
    """A user callback that declares nothing (it may log anything)."""


def best(metric_key: str):
    """A best-checkpoint callback object watching ``metric_key``."""
    from engine.callbacks import BestCheckpointCallback

    return BestCheckpointCallback(BestCheckpointCallbackConfig(metric_key=metric_key, every_n_epochs=1))


def test_declared_keys_decide_and_an_undeclared_callback_disables_the_check():
    """A user callback's ``logged_keys`` counts like a built-in's; one that declares nothing may log the key."""
    online = OnlineLossCallback(interval=Interval(every_n_updates=5))
    offline = OfflineLossCallback(OfflineLossCallbackConfig(dataset_key="val", every_n_epochs=1, model_info="ema=0.9"))
    assert logged_keys(offline) == ("ema=0.9/loss/val/*", "ema=0.9/lossdiff/val/*")
    assert logged_keys(Silent()) is None
    assert watched_metric_issues([Accuracy(), best("accuracy/val"), online], [0, 1]) == []
    [issue] = watched_metric_issues([offline, best("accuracy/val"), online], [0, 1])
    assert str(issue) == ("trainer.callbacks[1].metric_key: no callback logs 'accuracy/val' (logged: "
                          "ema=0.9/loss/val/*, ema=0.9/lossdiff/val/*, loss/online/*/U5)")
    assert watched_metric_issues([offline, best("accuracy/val"), Silent()], [0, 1]) == []
    assert attrs.has(OfflineLossCallbackConfig)


def test_a_watched_key_logged_later_or_at_another_interval_is_reported():
    """The watcher reads the value of the same update: a logger after it, or at an interval it is not a multiple
    of, is reported; a logger before it at a divisor of its interval is fine."""
    from engine.callbacks import BestCheckpointCallback

    def best_every(**interval):
        return BestCheckpointCallback(BestCheckpointCallbackConfig(metric_key="loss/val/total", **interval))

    def offline(**interval):
        return OfflineLossCallback(OfflineLossCallbackConfig(dataset_key="val", **interval))

    assert watched_metric_issues([offline(every_n_updates=2), best_every(every_n_updates=4)], [0, 1]) == []
    [late] = watched_metric_issues([best_every(every_n_epochs=1), offline(every_n_epochs=1)], [0, 1])
    assert str(late) == ("trainer.callbacks[0].metric_key: 'loss/val/total' is logged only after this callback runs "
                         "(by OfflineLossCallback(E1)); a callback that logs it must come earlier in trainer.callbacks")
    [other] = watched_metric_issues([offline(every_n_updates=4), best_every(every_n_updates=6)], [0, 1])
    assert str(other) == ("trainer.callbacks[1].metric_key: 'loss/val/total' is logged at U4, but this callback runs "
                          "at U6 and reads the value of the same update; give it the interval of the callback that "
                          "logs it (or a multiple)")
