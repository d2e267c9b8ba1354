"""Tests for ``engine.callbacks.ema.EmaCallback``: the update rule, resumable shadows and the files it writes."""

from __future__ import annotations

import io

import pytest
import torch

from callback_run import make_run
from engine.callbacks.ema import EmaCallback
from engine.checkpoint import find_checkpoint, load_part
from engine.models import CompositeModel, Model
from noether.core.schemas import EmaCallbackConfig, ModelBaseConfig


class Scalar(torch.nn.Module):
    """One parameter holding a single value, to check the EMA arithmetic exactly."""

    def __init__(self, value: float, dtype: torch.dtype) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.tensor([value], dtype=dtype))


class Leaf(Model):
    """A named engine model with a layer and a batch-norm buffer."""

    def __init__(self, name: str) -> None:
        super().__init__(ModelBaseConfig(kind="tests.Leaf", name=name))
        self.linear = torch.nn.Linear(3, 2)
        self.norm = torch.nn.BatchNorm1d(2)


def ema(**changes) -> EmaCallback:
    return EmaCallback(EmaCallbackConfig(**{"every_n_updates": 2, "target_factors": (0.9,), **changes}))


def started(callback: EmaCallback, run) -> EmaCallback:
    callback.setup(run)
    callback.before_training(run.plan.iteration_at(0))
    return callback


def step(callback: EmaCallback, run, model: torch.nn.Module, update: int, generator: torch.Generator) -> None:
    """Change every parameter as an optimizer would (in place), then run the per-update hooks of ``update``."""
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.add_(torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype))
        iteration = run.plan.iteration_at(update)
        callback.track_after_update_step(iteration, {})
        callback.after_update(iteration)


def shadows(callback: EmaCallback) -> dict:
    return {(record["model_path"], record["target_factor"]): record["parameters"]
            for record in callback.state_dict()["shadows"]}


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize(("factor", "start", "end", "expected"), [(0.5, 2.0, 4.0, 3.0), (0.9, 2.0, 10.0, 2.8),
                                                                  (0.75, 4.0, 8.0, 5.0)])
def test_one_update_gives_the_reference_values(tmp_path, dtype, factor, start, end, expected):
    """Reference 5.8: f=0.5 2->4 gives 3.0, f=0.9 2->10 gives 2.8, f=0.75 4->8 gives 5.0, exactly."""
    model = Scalar(start, dtype)
    run = make_run(tmp_path, model)
    callback = started(ema(target_factors=(factor,)), run)
    with torch.no_grad():
        model.weight.fill_(end)
    callback.track_after_update_step(run.plan.iteration_at(1), {})
    assert shadows(callback)[(None, factor)]["weight"].item() == torch.tensor(expected, dtype=dtype).item()
    assert model.weight.item() == end


def test_every_factor_follows_the_formula_over_many_updates(tmp_path):
    """After each update every shadow equals f * shadow + (1 - f) * weight, computed by hand in float64."""
    model = torch.nn.Linear(4, 3).double()
    run = make_run(tmp_path, model)
    factors = (0.5, 0.9, 0.999, 1.0)
    callback = started(ema(target_factors=factors), run)
    expected = {factor: {name: p.detach().clone() for name, p in model.named_parameters()} for factor in factors}
    generator = torch.Generator().manual_seed(0)
    for update in range(1, 6):
        step(callback, run, model, update, generator)
        for factor in factors:
            for name, parameter in model.named_parameters():
                expected[factor][name] = factor * expected[factor][name] + (1 - factor) * parameter.detach()
    for factor in factors:
        for name, value in shadows(callback)[(None, factor)].items():
            torch.testing.assert_close(value, expected[factor][name], rtol=1e-14, atol=1e-14)
    assert torch.equal(shadows(callback)[(None, 1.0)]["weight"], expected[1.0]["weight"])


def test_state_dict_round_trip_continues_bit_exactly(tmp_path):
    """A callback restored from ``state_dict`` (through torch.save / weights_only load) continues the EMA
    exactly like the one that never stopped."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 5), torch.nn.ReLU(), torch.nn.Linear(5, 2))
    run = make_run(tmp_path, model)
    original = started(ema(target_factors=(0.9, 0.99), model_paths=(None, "2")), run)
    generator = torch.Generator().manual_seed(1)
    for update in range(1, 4):
        step(original, run, model, update, generator)
    buffer = io.BytesIO()
    torch.save(original.state_dict(), buffer)
    state = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert all(t.device.type == "cpu" for record in state["shadows"] for t in record["parameters"].values())
    assert {(record["model_path"], record["target_factor"]) for record in state["shadows"]} == {
        (None, 0.9), (None, 0.99), ("2", 0.9), ("2", 0.99)}

    resumed = ema(target_factors=(0.9, 0.99), model_paths=(None, "2"))
    resumed.setup(run)
    resumed.load_state_dict(state)  # before before_training, as on resume
    resumed.before_training(run.plan.iteration_at(3))
    for update in range(4, 7):
        step(original, run, model, update, generator)
        with torch.no_grad():
            resumed.track_after_update_step(run.plan.iteration_at(update), {})
    for key, parameters in shadows(original).items():
        for name, value in parameters.items():
            assert torch.equal(value, shadows(resumed)[key][name]), (key, name)


def test_load_state_dict_after_before_training_overwrites_the_shadows(tmp_path):
    """Loading into a started callback replaces the shadows at once."""
    model = Scalar(1.0, torch.float32)
    run = make_run(tmp_path, model)
    callback = started(ema(), run)
    callback.load_state_dict({"shadows": [{"model_path": None, "target_factor": 0.9,
                                           "parameters": {"weight": torch.tensor([7.5])}}]})
    assert shadows(callback)[(None, 0.9)]["weight"].item() == 7.5


def test_state_of_another_model_is_rejected(tmp_path):
    """Shadows whose parameter names differ from the model's are an error naming both sides."""
    run = make_run(tmp_path, Scalar(1.0, torch.float32))
    callback = started(ema(), run)
    with pytest.raises(ValueError, match=r"EmaCallback\(U2\): model_paths entry None, factor 0.9: the checkpoint's "
                                         r"EMA has other parameters than the model \(missing \['weight'\], "
                                         r"unexpected \['bias'\]\)"):
        callback.load_state_dict({"shadows": [{"model_path": None, "target_factor": 0.9,
                                               "parameters": {"bias": torch.tensor([1.0])}}]})


def test_a_factor_missing_from_the_state_starts_at_the_current_weights(tmp_path):
    """A factor added on resume warns and starts from the model's weights."""
    run = make_run(tmp_path, Scalar(3.0, torch.float32))
    callback = ema(target_factors=(0.9, 0.5))
    callback.setup(run)
    callback.load_state_dict({"shadows": [{"model_path": None, "target_factor": 0.9,
                                           "parameters": {"weight": torch.tensor([1.0])}}]})
    with pytest.warns(UserWarning, match="no EMA of model_paths entry None with factor 0.5"):
        callback.before_training(run.plan.iteration_at(0))
    assert shadows(callback)[(None, 0.9)]["weight"].item() == 1.0
    assert shadows(callback)[(None, 0.5)]["weight"].item() == 3.0


def test_files_at_intervals_latest_and_last(tmp_path):
    """Weights at every interval, ``latest`` and ``last``, named ``{model}_ema={f}_cp={tag}_model.th``."""
    model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.BatchNorm1d(2))
    run = make_run(tmp_path, model)
    callback = started(ema(target_factors=(0.9, 0.99), save_latest_weights=True), run)
    generator = torch.Generator().manual_seed(2)
    for update in range(1, 4):
        step(callback, run, model, update, generator)
    with torch.no_grad():
        model[1].running_mean.fill_(0.25)
    callback.after_training(run.plan.iteration_at(3))
    names = {path.name for path in (tmp_path / "checkpoints").glob("*_model.th")}
    assert names == {f"model_ema={f}_cp={tag}_model.th" for f in (0.9, 0.99) for tag in ("E0_U2_S8", "last", "latest")}

    files = find_checkpoint(tmp_path / "checkpoints", "model", "last", "ema=0.9")
    content = load_part(files["model_ema=0.9_cp=last_model.th"])
    assert content["ema"] == 0.9 and content["checkpoint_tag"] == "last"
    assert content["training_iteration"] == {"epoch": 0, "update": 3, "sample": 12}
    state = content["state_dict"]
    assert state.keys() == model.state_dict().keys()
    assert torch.equal(state["0.weight"], shadows(callback)[(None, 0.9)]["0.weight"])
    assert torch.equal(state["1.running_mean"], torch.full((2,), 0.25))
    latest = load_part(tmp_path / "checkpoints" / "model_ema=0.99_cp=latest_model.th")
    assert latest["training_iteration"]["update"] == 3
    model.load_state_dict(state)  # an EMA file loads into the model as it is


def test_flags_off_write_nothing_and_eval_saves_nothing(tmp_path):
    """Without save flags and at an evaluation-only invocation no file is written."""
    run = make_run(tmp_path)
    callback = started(ema(save_weights=False, save_last_weights=False), run)
    callback.periodic_callback(run.plan.iteration_at(2), "update")
    callback.after_training(run.plan.iteration_at(2))
    started(ema(), run).at_eval(run.plan.iteration_at(0))
    assert not (tmp_path / "checkpoints").exists()


def test_submodule_paths_are_saved_under_their_models(tmp_path):
    """A composite's submodel is saved under its checkpoint name; a part of a model as ``<root>.<path>``."""
    composite = CompositeModel(ModelBaseConfig(kind="tests.Composite", name="c"))
    composite.encoder = Leaf("enc")
    composite.decoder = Leaf("dec")
    run = make_run(tmp_path, composite)
    callback = started(ema(model_paths=("encoder", "decoder.linear")), run)
    callback.periodic_callback(run.plan.iteration_at(2), "update")
    names = sorted(path.name for path in (tmp_path / "checkpoints").glob("*_model.th"))
    assert names == ["c.decoder.linear_ema=0.9_cp=E0_U2_S8_model.th", "c.encoder_ema=0.9_cp=E0_U2_S8_model.th"]
    part = load_part(find_checkpoint(tmp_path / "checkpoints", "c.decoder.linear", "E0_U2_S8", "ema=0.9")[
        "c.decoder.linear_ema=0.9_cp=E0_U2_S8_model.th"])
    assert part["state_dict"].keys() == {"weight", "bias"} and part["ema"] == 0.9


def test_whole_composite_is_saved_per_submodel_in_one_checkpoint(tmp_path):
    """``model_paths: None`` on a composite writes one EMA file per submodel under one manifest."""
    composite = CompositeModel(ModelBaseConfig(kind="tests.Composite", name="c"))
    composite.encoder = Leaf("enc")
    composite.decoder = Leaf("dec")
    run = make_run(tmp_path, composite)
    started(ema(), run).periodic_callback(run.plan.iteration_at(2), "update")
    files = find_checkpoint(tmp_path / "checkpoints", "c", "E0_U2_S8", "ema=0.9")
    assert sorted(files) == ["c.decoder_ema=0.9_cp=E0_U2_S8_model.th", "c.encoder_ema=0.9_cp=E0_U2_S8_model.th"]


def test_only_the_main_process_keeps_shadows(tmp_path):
    """Off the main process the callback averages and saves nothing and its state is empty."""
    run = make_run(tmp_path, is_main_process=False)
    callback = started(ema(), run)
    callback.track_after_update_step(run.plan.iteration_at(1), {})
    callback.after_training(run.plan.iteration_at(1))
    assert callback.state_dict() == {"shadows": []}
    assert not (tmp_path / "checkpoints").exists()


def test_unknown_model_path_is_a_clear_error(tmp_path):
    """A path that does not lead to a submodule names the config field and the failing step."""
    run = make_run(tmp_path, torch.nn.Sequential(torch.nn.Linear(2, 2)))
    callback = ema(model_paths=(None, "0.kernel"))
    callback.setup(run)
    with pytest.raises(ValueError) as error:
        callback.before_training(run.plan.iteration_at(0))
    assert str(error.value) == ("EmaCallback(U2): model_paths[1]: '0' has no attribute, key or index 'kernel' "
                                "(got '0.kernel')")


def test_overlapping_paths_are_rejected(tmp_path):
    """Two paths that would write the same model's EMA files are an error with a remedy."""
    composite = CompositeModel(ModelBaseConfig(kind="tests.Composite", name="c"))
    composite.encoder = Leaf("enc")
    run = make_run(tmp_path, composite)
    callback = ema(model_paths=(None, "encoder"))
    callback.setup(run)
    with pytest.raises(ValueError, match=r"model_paths\[1\]: saves model 'c.encoder' like model_paths\[0\] and "
                                         r"would overwrite its files; remove one of them \(got 'encoder'\)"):
        callback.before_training(run.plan.iteration_at(0))


@pytest.mark.parametrize(("factors", "message"), [
    ((1.5,), "EmaCallback(U2): target_factors[0]: must be in [0, 1], e.g. 0.999 (got 1.5)"),
    ((0.9, 0.9), "EmaCallback(U2): target_factors[1]: must not repeat a factor (got 0.9)"),
    ((), "EmaCallback(U2): target_factors: must name at least one factor (got ())"),
])
def test_invalid_factors_are_rejected(factors, message):
    """Factors outside [0, 1], repeated or missing are errors naming ``target_factors``."""
    with pytest.raises(ValueError) as error:
        ema(target_factors=factors)
    assert str(error.value) == message
