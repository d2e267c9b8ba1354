"""Tests for ``engine.callbacks.track_outputs.TrackAdditionalOutputsCallback``: selection, reduction, log and save."""

from __future__ import annotations

import pytest
import torch

from callback_run import make_run
from engine.callbacks.track_outputs import TrackAdditionalOutputsCallback
from noether.core.schemas import TrackAdditionalOutputsCallbackConfig


def tracker(run, **changes) -> TrackAdditionalOutputsCallback:
    callback = TrackAdditionalOutputsCallback(TrackAdditionalOutputsCallbackConfig(
        **{"every_n_updates": 2, "keys": ("aux",), **changes}))
    callback.setup(run)
    return callback


def train(callback: TrackAdditionalOutputsCallback, run, outputs_per_update: list[list]) -> list[dict[str, float]]:
    """Feed each update's micro-batch outputs, run the update hooks, return what was logged per update."""
    logged = []
    for update, micro_batches in enumerate(outputs_per_update, start=1):
        before = run.plan.iteration_at(update - 1)
        for outputs in micro_batches:
            callback.track_after_accumulation_step(before, {}, {}, outputs)
        iteration = run.plan.iteration_at(update)
        callback.after_update(iteration)
        logged.append(dict(run.writer.current))
        run.writer.flush(iteration)
    return logged


def test_mean_over_the_interval_of_keys_and_patterns(tmp_path):
    """``mean`` averages every micro-batch of the interval; keys and patterns both select outputs."""
    run = make_run(tmp_path)
    callback = tracker(run, patterns=("norm",))
    outputs = [[{"aux": torch.tensor(1.0), "grad_norm": torch.tensor(10.0), "other": torch.tensor(5.0)},
                {"aux": torch.tensor(2.0), "grad_norm": torch.tensor(20.0)}],
               [{"aux": torch.tensor(6.0, requires_grad=True) * 1, "grad_norm": 30.0}],
               [{"aux": torch.tensor(4.0)}]]
    logged = train(callback, run, outputs)
    assert logged[0] == {} and logged[2] == {}
    assert logged[1] == {"aux/U2": 3.0, "grad_norm/U2": 20.0}
    assert callback._tracked == {"aux": [torch.tensor(4.0)]}


def test_last_keeps_the_final_micro_batch(tmp_path):
    """``last`` logs the value of the interval's last micro-batch."""
    run = make_run(tmp_path)
    callback = tracker(run, reduce="last")
    logged = train(callback, run, [[{"aux": torch.tensor(1.0)}], [{"aux": torch.tensor(2.0)}, {"aux": 7}]])
    assert logged[1] == {"aux/U2": 7.0}


def test_mean_of_non_scalar_outputs_is_over_every_element(tmp_path):
    """Per-sample outputs (micro-batches of different sizes) average over all their elements."""
    run = make_run(tmp_path)
    callback = tracker(run)
    logged = train(callback, run, [[{"aux": torch.tensor([1.0, 2.0, 3.0])}, {"aux": torch.tensor([6.0])}], []])
    assert logged[1] == {"aux/U2": 3.0}


def test_save_output_writes_the_reduced_value(tmp_path):
    """``save_output`` writes ``update_outputs/<key>_<interval>_<iteration>.th`` (``/`` in a key becomes ``.``)."""
    run = make_run(tmp_path)
    callback = tracker(run, keys=("aux/vector",), reduce="last", log_output=False, save_output=True)
    logged = train(callback, run, [[{"aux/vector": torch.tensor([1.0, 2.0])}], [{"aux/vector": torch.tensor([3, 4])}]])
    assert logged == [{}, {}]
    saved = torch.load(tmp_path / "update_outputs" / "aux.vector_U2_E0_U2_S8.th", weights_only=True)
    assert torch.equal(saved, torch.tensor([3.0, 4.0]))


def test_save_output_only_on_the_main_process(tmp_path):
    """Other processes log but write no files."""
    run = make_run(tmp_path, is_main_process=False)
    callback = tracker(run, save_output=True)
    assert train(callback, run, [[{"aux": torch.tensor(1.0)}], [{"aux": torch.tensor(3.0)}]])[1] == {"aux/U2": 2.0}
    assert not (tmp_path / "update_outputs").exists()


def test_outputs_that_are_not_a_dict(tmp_path):
    """Patterns find nothing in a tensor output; exact keys cannot be found and are an error."""
    run = make_run(tmp_path)
    assert train(tracker(run, keys=None, patterns=("aux",)), run, [[torch.zeros(3)], [torch.zeros(3)]]) == [{}, {}]
    with pytest.raises(ValueError, match=r"TrackAdditionalOutputsCallback\(U2\): keys: the model's outputs must be "
                                         r"a dict to track \['aux'\] \(got Tensor\)"):
        train(tracker(run), run, [[torch.zeros(3)]])


def test_missing_key_names_the_outputs(tmp_path):
    """An exact key missing from the outputs is a KeyError listing the outputs."""
    run = make_run(tmp_path)
    with pytest.raises(KeyError, match=r"keys: no output 'aux' in the model's outputs \(outputs: prediction\)"):
        train(tracker(run), run, [[{"prediction": torch.zeros(2)}]])


def test_logging_a_non_scalar_is_an_error_with_a_remedy(tmp_path):
    """``log_output`` of a ``last`` vector names the field and suggests saving instead."""
    run = make_run(tmp_path)
    callback = tracker(run, reduce="last")
    with pytest.raises(ValueError, match=r"log_output: output 'aux' is not a scalar \(got shape \(2,\)\); use "
                                         r"reduce: mean, or log_output: false with save_output: true"):
        train(callback, run, [[{"aux": torch.zeros(2)}], [{"aux": torch.zeros(2)}]])
