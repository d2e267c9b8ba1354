"""Tests for ``engine.optimizer.OptimizerWrapper``: groups, schedules, clipping, resume by name and config errors."""

from __future__ import annotations

import copy

import pytest
import torch

from engine.lion import Lion
from engine.optimizer import OptimizerWrapper, ParamGroupModifier
from noether.core.config import ConfigError
from noether.core.schemas.optimizers import (
    LR_SCALE_MODIFIER,
    WEIGHT_DECAY_MODIFIER,
    OptimizerConfig,
    ParamGroupModifierConfig,
)
from noether.core.schemas.schedules import LinearDecreasingScheduleConfig, LinearIncreasingScheduleConfig
from noether.core.schemas.trainers import BaseTrainerConfig
from noether.core.training import TrainingPlan, bind_schedules, plan_training


class Example(torch.nn.Module):
    """Reference section 3.2's example: a token, a scalar, a conv, a layer norm and a linear layer."""

    def __init__(self) -> None:
        super().__init__()
        self.cls_token = torch.nn.Parameter(torch.zeros(1, 1, 4))
        self.scale = torch.nn.Parameter(torch.tensor(1.0))
        self.conv = torch.nn.Conv2d(3, 4, 3)
        self.norm = torch.nn.LayerNorm(4)
        self.fc = torch.nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(x).mean(dim=(2, 3)) * self.scale + self.cls_token[0, 0]
        return self.fc(self.norm(features))


def adamw(**changes) -> OptimizerConfig:
    return OptimizerConfig(kind="torch.optim.AdamW", lr=1e-3, weight_decay=0.05, **changes)


def lr_scale(name: str, scale: float) -> ParamGroupModifierConfig:
    return ParamGroupModifierConfig(kind=LR_SCALE_MODIFIER, name=name, scale=scale)


def weight_decay(name: str, value: float) -> ParamGroupModifierConfig:
    return ParamGroupModifierConfig(kind=WEIGHT_DECAY_MODIFIER, name=name, value=value)


def config_error(model: torch.nn.Module, config: OptimizerConfig) -> str:
    with pytest.raises(ConfigError) as info:
        OptimizerWrapper(model, config)
    return str(info.value)


def train_steps(model: torch.nn.Module, wrapper: OptimizerWrapper, steps: int = 2, seed: int = 0) -> None:
    generator = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        loss = model(torch.randn(2, 3, 5, 5, generator=generator)).square().mean()
        loss.backward()
        wrapper.step()
        wrapper.zero_grad()


def test_reference_example_groups():
    """The example model gets Noether's groups, hyper-parameters and index order."""
    model = Example()
    wrapper = OptimizerWrapper(model, adamw())
    groups = wrapper.optimizer.param_groups
    by_id = {id(param): name for name, param in model.named_parameters()}
    assert [(g["name"], [by_id[id(p)] for p in g["params"]], g["lr"], g["weight_decay"]) for g in groups] == [
        ("default", ["cls_token", "conv.weight", "fc.weight"], 1e-3, 0.05),
        ("weight_decay=0", ["scale", "conv.bias", "norm.weight", "norm.bias", "fc.bias"], 1e-3, 0.0),
    ]
    assert dict(enumerate(wrapper.state_dict()["param_names"])) == {
        0: "cls_token", 1: "conv.weight", 2: "fc.weight", 3: "scale",
        4: "conv.bias", 5: "norm.weight", 6: "norm.bias", 7: "fc.bias",
    }  # fmt: skip
    assert isinstance(wrapper.optimizer, torch.optim.AdamW)
    assert not wrapper.has_lr_schedule and not wrapper.has_weight_decay_schedule


def test_frozen_parameters_are_included():
    """Parameters with requires_grad=False are planned too (Noether's behaviour); torch skips their None grads."""
    model = Example()
    model.norm.requires_grad_(False)
    wrapper = OptimizerWrapper(model, adamw())
    assert "norm.weight" in wrapper.param_names and len(wrapper.param_names) == 8
    train_steps(model, wrapper, steps=1)
    assert model.norm.weight.tolist() == [1.0] * 4


def test_lr_scale_and_weight_decay_compositions():
    """Modifier scales multiply the lr, a by-name weight decay overrides the rule, all visible in current_values."""
    config = adamw(
        param_group_modifiers_config=(
            lr_scale("fc.weight", 0.5), lr_scale("fc.weight", 0.5), lr_scale("fc.bias", 0.1),
            weight_decay("norm.weight", 0.01), weight_decay("cls_token", 0.0),
        )
    )  # fmt: skip
    wrapper = OptimizerWrapper(Example(), config)
    values = wrapper.current_values()
    assert list(values) == [
        "weight_decay=0", "default", "weight_decay=1.0e-02", "lr_scale=2.5e-01", "weight_decay=0&lr_scale=1.0e-01"
    ]  # fmt: skip
    assert values["lr_scale=2.5e-01"] == {"lr": pytest.approx(2.5e-4), "weight_decay": 0.05}
    assert values["weight_decay=1.0e-02"] == {"lr": 1e-3, "weight_decay": 0.01}
    assert values["weight_decay=0&lr_scale=1.0e-01"] == {"lr": pytest.approx(1e-4), "weight_decay": 0.0}
    assert [group.name for group in wrapper.plan] == list(values)


def test_unset_weight_decay_is_the_optimizer_default():
    """``weight_decay: null`` gives the optimizer's own default (AdamW: 0.01) to the groups not excluded."""
    wrapper = OptimizerWrapper(Example(), OptimizerConfig(kind="torch.optim.AdamW", lr=1e-3, weight_decay=None))
    assert {name: value["weight_decay"] for name, value in wrapper.current_values().items()} == {
        "default": 0.01, "weight_decay=0": 0.0
    }  # fmt: skip


def test_extra_arguments_reach_the_optimizer():
    """``optimizer_kwargs`` (betas, eps, ...) are passed to the torch constructor."""
    config = adamw(optimizer_kwargs={"betas": [0.8, 0.9], "eps": 1e-6})
    wrapper = OptimizerWrapper(Example(), config)
    assert tuple(wrapper.optimizer.defaults["betas"]) == (0.8, 0.9) and wrapper.optimizer.defaults["eps"] == 1e-6


def plan_of(updates: int, updates_per_epoch: int) -> TrainingPlan:
    """A run of ``updates`` updates of 2 samples, ``updates_per_epoch`` per epoch."""
    trainer = BaseTrainerConfig(kind="t", max_updates=updates, effective_batch_size=2)
    return plan_training(trainer, dataset_length=2 * updates_per_epoch)


def bound(model: torch.nn.Module, config: OptimizerConfig, plan: TrainingPlan) -> OptimizerWrapper:
    """The wrapper as the engine builds it: schedules bound to the run's plan."""
    return OptimizerWrapper(model, config, schedules=bind_schedules(config, plan))


def test_schedule_step_sets_scaled_lr_and_scheduled_weight_decay():
    """lr = lr_scale * schedule value at the update; the weight-decay schedule (by epoch) drives only scheduled groups."""
    config = adamw(
        schedule_config=LinearDecreasingScheduleConfig(max_value=1e-3, end_value=0.0),
        weight_decay_schedule=LinearIncreasingScheduleConfig(start_value=0.0, max_value=0.1, interval="epoch"),
        param_group_modifiers_config=(lr_scale("fc.weight", 0.5), weight_decay("cls_token", 0.0)),
    )
    wrapper = bound(Example(), config, plan_of(updates=5, updates_per_epoch=2))  # 3 epochs, the last one partial
    assert wrapper.has_lr_schedule and wrapper.has_weight_decay_schedule
    wrapper.schedule_step(2)  # update 2 of 5, epoch 1 of 3
    assert wrapper.current_values() == {
        "weight_decay=0": {"lr": pytest.approx(5e-4), "weight_decay": 0.0},
        "default": {"lr": pytest.approx(5e-4), "weight_decay": pytest.approx(0.05)},
        "lr_scale=5.0e-01": {"lr": pytest.approx(2.5e-4), "weight_decay": pytest.approx(0.05)},
    }
    wrapper.schedule_step(4)  # the last update, in the last epoch
    values = wrapper.current_values()
    assert values["default"] == {"lr": 0.0, "weight_decay": pytest.approx(0.1)}
    assert values["weight_decay=0"]["weight_decay"] == 0.0
    # Another run length (e.g. a resume with more updates) is another plan, bound anew.
    longer = bound(Example(), config, plan_of(updates=9, updates_per_epoch=2))
    longer.schedule_step(4)
    assert longer.current_values()["lr_scale=5.0e-01"]["lr"] == pytest.approx(0.5 * 1e-3 * 4 / 8)


def test_without_schedule_lr_is_constant():
    """Without a schedule, schedule_step leaves lr_scale * lr from construction in place."""
    wrapper = OptimizerWrapper(Example(), adamw(param_group_modifiers_config=(lr_scale("fc.weight", 0.1),)))
    before = wrapper.current_values()
    wrapper.schedule_step(3)
    assert wrapper.current_values() == before
    assert before["lr_scale=1.0e-01"]["lr"] == pytest.approx(1e-4)


def test_a_schedule_that_was_not_bound_is_an_error():
    """A config with a schedule and a wrapper built without ``schedules=`` cannot follow it: one clear error."""
    wrapper = OptimizerWrapper(Example(), adamw(schedule_config=LinearDecreasingScheduleConfig(max_value=1e-3)))
    before = wrapper.current_values()
    with pytest.raises(RuntimeError) as info:
        wrapper.schedule_step(0)
    assert str(info.value) == (
        "model.optimizer_config.schedule_config is not bound to a run: construct the OptimizerWrapper with "
        "schedules=noether.core.training.bind_schedules(config, plan)")
    assert wrapper.current_values() == before


def clipped_by_hand(clip_grad_value: float | None, clip_grad_norm: float | None) -> tuple[list, list]:
    """Run one SGD(lr=1) step with the wrapper and the same clipping by torch on a copy; return both deltas."""
    torch.manual_seed(0)
    model = Example()
    reference = copy.deepcopy(model)
    config = OptimizerConfig(kind="torch.optim.SGD", lr=1.0, clip_grad_value=clip_grad_value, clip_grad_norm=clip_grad_norm)
    wrapper = OptimizerWrapper(model, config)
    inputs = torch.randn(4, 3, 5, 5)
    before = [param.detach().clone() for param in model.parameters()]
    (model(inputs) * 10).square().mean().backward()
    wrapper.step()
    deltas = [(old - param).detach() for old, param in zip(before, model.parameters())]
    (reference(inputs) * 10).square().mean().backward()
    params = list(reference.parameters())
    if clip_grad_value is not None:
        torch.nn.utils.clip_grad_value_(params, clip_grad_value)
    if clip_grad_norm is not None:
        torch.nn.utils.clip_grad_norm_(params, clip_grad_norm)
    return deltas, [param.grad for param in params]


@pytest.mark.parametrize(("value", "norm"), [(0.05, None), (None, 0.1), (0.05, 0.1), (None, None)])
def test_clipping_matches_torch(value, norm):
    """The step clips by value, then by norm, exactly as torch's utilities on a copy (SGD lr=1: delta = grad)."""
    deltas, expected = clipped_by_hand(value, norm)
    for delta, grad in zip(deltas, expected):
        torch.testing.assert_close(delta, grad)
    if norm is not None:
        assert torch.linalg.vector_norm(torch.stack([d.norm() for d in deltas])) == pytest.approx(norm, rel=1e-5)


def test_grad_scaler_unscales_once_before_clipping():
    """With an enabled scaler the gradients are unscaled once, clipped, then stepped (the scale is the caller's to
    update: once per update, after every optimizer of a composite model stepped)."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    reference = copy.deepcopy(model)
    wrapper = OptimizerWrapper(model, OptimizerConfig(kind="torch.optim.SGD", lr=1.0, clip_grad_norm=0.1))
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8, growth_interval=1)
    inputs = torch.randn(5, 3)
    before = [param.detach().clone() for param in model.parameters()]
    scaler.scale(model(inputs).square().mean()).backward()
    wrapper.step(scaler)
    reference(inputs).square().mean().backward()
    torch.nn.utils.clip_grad_norm_(list(reference.parameters()), 0.1)
    for old, param, ref in zip(before, model.parameters(), reference.parameters()):
        torch.testing.assert_close(old - param.detach(), ref.grad)
    assert scaler.get_scale() == 2.0**8  # not updated by the wrapper


def test_step_without_gradients_does_nothing():
    """No parameter with a gradient: no step (no weight decay applied) and no scaler update."""
    model = Example()
    wrapper = OptimizerWrapper(model, adamw())
    before = [param.detach().clone() for param in model.parameters()]
    scaler = torch.amp.GradScaler("cpu", init_scale=4.0, growth_interval=1)
    wrapper.step(scaler)
    wrapper.step()
    assert all(torch.equal(old, new) for old, new in zip(before, model.parameters()))
    assert scaler.get_scale() == 4.0 and len(wrapper.optimizer.state) == 0


def test_zero_grad_sets_none():
    """zero_grad defaults to set_to_none=True; set_to_none=False keeps zero tensors."""
    model = Example()
    wrapper = OptimizerWrapper(model, adamw())
    model(torch.randn(1, 3, 5, 5)).sum().backward()
    wrapper.zero_grad(set_to_none=False)
    assert all(param.grad is not None and not param.grad.any() for param in model.parameters())
    wrapper.zero_grad()
    assert all(param.grad is None for param in model.parameters())


class Grown(Example):
    """The example model with ``norm`` removed and a new ``head`` added."""

    def __init__(self) -> None:
        super().__init__()
        del self.norm
        self.head = torch.nn.Linear(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv(x).mean(dim=(2, 3)) * self.scale + self.cls_token[0, 0]
        return self.head(self.fc(features))


def test_state_dict_round_trip_across_regrouping():
    """State moves by name across changed groups; new and dropped parameters give one warning."""
    torch.manual_seed(0)
    model = Example()
    wrapper = OptimizerWrapper(model, adamw())
    train_steps(model, wrapper)
    saved = copy.deepcopy(wrapper.state_dict())

    grown = Grown()
    grown.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("norm.")}, strict=False)
    # fc.weight moves to its own group and conv.bias gets a weight decay: new indices for both.
    config = adamw(param_group_modifiers_config=(lr_scale("fc.weight", 0.1), weight_decay("conv.bias", 0.01)))
    resumed = OptimizerWrapper(grown, config)
    assert resumed.param_names.index("fc.weight") != saved["param_names"].index("fc.weight")
    with pytest.warns(UserWarning) as record:
        resumed.load_state_dict(saved)
    assert [str(warning.message) for warning in record] == [
        "optimizer state loaded by name; 2 parameter(s) not in the checkpoint start with fresh state: "
        "head.weight, head.bias; 2 parameter(s) of the checkpoint are not in the model: norm.weight, norm.bias"
    ]
    old_state = {name: saved["state"][index] for index, name in enumerate(saved["param_names"])}
    new_state = resumed.optimizer.state_dict()["state"]
    for index, name in enumerate(resumed.param_names):
        if name.startswith("head."):
            assert index not in new_state
            continue
        for key in ("step", "exp_avg", "exp_avg_sq"):
            torch.testing.assert_close(new_state[index][key], old_state[name][key])
    # The current groups' hyper-parameters stay, and the schedule caches follow torch's new group dicts.
    assert resumed.current_values()["lr_scale=1.0e-01"] == {"lr": pytest.approx(1e-4), "weight_decay": 0.05}
    assert resumed.current_values()["weight_decay=1.0e-02"]["weight_decay"] == 0.01
    assert all(a is b for (a, _), b in zip(resumed._lr_groups, resumed.optimizer.param_groups))
    train_steps(grown, resumed, steps=1)


def test_state_dict_round_trip_same_model_is_exact():
    """Saving and loading into a fresh wrapper of the same model continues identically, with no warning."""
    torch.manual_seed(0)
    model = Example()
    wrapper = OptimizerWrapper(model, adamw())
    train_steps(model, wrapper)
    copy_model = copy.deepcopy(model)
    resumed = OptimizerWrapper(copy_model, adamw())
    resumed.load_state_dict(copy.deepcopy(wrapper.state_dict()))
    train_steps(model, wrapper, seed=1)
    train_steps(copy_model, resumed, seed=1)
    for a, b in zip(model.parameters(), copy_model.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_state_shape_mismatch_names_the_parameter():
    """A saved state that does not fit the parameter of the same name is a ValueError naming it."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4))
    wrapper = OptimizerWrapper(model, adamw())
    model(torch.randn(2, 3)).sum().backward()
    wrapper.step()
    other = OptimizerWrapper(torch.nn.Sequential(torch.nn.Linear(3, 5)), adamw())
    with pytest.raises(ValueError, match=r"optimizer state 'exp_avg' of parameter '0.weight' has shape \(4, 3\), "
                                         r"which does not fit the parameter's shape \(5, 3\)"):
        other.load_state_dict(wrapper.state_dict())


def test_lion_through_the_wrapper():
    """Noether's kind ``noether.core.optimizer.Lion`` builds the engine's Lion with the planned groups."""
    config = OptimizerConfig(
        kind="noether.core.optimizer.Lion", lr=1e-4, weight_decay=0.5, optimizer_kwargs={"betas": (0.95, 0.98)}
    )
    model = Example()
    wrapper = OptimizerWrapper(model, config)
    assert isinstance(wrapper.optimizer, Lion)
    assert [group["betas"] for group in wrapper.optimizer.param_groups] == [(0.95, 0.98)] * 2
    train_steps(model, wrapper, steps=1)
    assert "exp_avg" in wrapper.optimizer.state[model.fc.weight]


def test_explain_lists_every_parameter():
    """explain() renders the plan with one row per parameter."""
    text = OptimizerWrapper(Example(), adamw()).explain()
    assert len(text.splitlines()) == 2 + 8
    assert text.splitlines()[2].split() == ["cls_token", "default", "1", "0.05", "no", "default"]


@pytest.mark.parametrize(
    ("config", "line"),
    [
        (
            OptimizerConfig(lr=1e-3),
            "model.optimizer_config.kind: must be set (got None), e.g. 'torch.optim.AdamW'",
        ),
        (
            OptimizerConfig(kind="torch.optim.AdamWW", lr=1e-3),
            "model.optimizer_config.kind: cannot import 'torch.optim.AdamWW': module 'torch.optim' has no attribute 'AdamWW'",
        ),
        (
            OptimizerConfig(kind="nowhere.Optimizer", lr=1e-3),
            "model.optimizer_config.kind: cannot import 'nowhere.Optimizer': No module named 'nowhere'",
        ),
        (
            OptimizerConfig(kind="collections.OrderedDict", lr=1e-3),
            "model.optimizer_config.kind: 'collections.OrderedDict' is not a subclass of torch.optim.optimizer.Optimizer",
        ),
        (
            adamw(optimizer_kwargs={"betaz": (0.9, 0.95)}),
            "model.optimizer_config.betaz: is not an argument of torch.optim.AdamW (got (0.9, 0.95)); did you mean 'betas'?",
        ),
        (
            adamw(optimizer_kwargs={"params": []}),
            "model.optimizer_config.params: is set by the engine from the model's parameters; remove it",
        ),
        (
            OptimizerConfig(kind="torch.optim.SGD", lr=1e-3, optimizer_kwargs={"zzz": 1}),
            "model.optimizer_config.zzz: is not an argument of torch.optim.SGD (got 1); torch.optim.SGD accepts "
            "dampening, differentiable, foreach, fused, lr, maximize, momentum, nesterov, weight_decay",
        ),
        (
            adamw(optimizer_kwargs={"betas": (1.5, 0.9)}),
            "model.optimizer_config: torch.optim.AdamW rejected its arguments (betas=(1.5, 0.9), lr=0.001, "
            "weight_decay=0.05): Invalid beta parameter at index 0: 1.5",
        ),
        (
            adamw(optimizer_kwargs={"betas": (0.9,)}),
            "model.optimizer_config: torch.optim.AdamW rejected its arguments (betas=(0.9,), lr=0.001, "
            "weight_decay=0.05): tuple index out of range",
        ),
        (
            adamw(param_group_modifiers_config=(lr_scale("fc.weight", 0.5), lr_scale("cls_tokn", 0.1))),
            "model.optimizer_config.param_group_modifiers_config[1].name: matches no parameter (got 'cls_tokn'); "
            "did you mean 'cls_token'?",
        ),
    ],
    ids=["unset", "typo", "no-module", "not-optimizer", "unknown-arg", "params", "no-close-match", "rejected",
         "rejected-inside-torch", "modifier"],
)
def test_config_errors(config, line):
    """Each bad optimizer config is one rendered line naming its path."""
    assert config_error(Example(), config) == line


def test_all_argument_and_modifier_problems_at_once():
    """Unknown arguments and unmatched modifiers are reported together."""
    config = adamw(optimizer_kwargs={"epz": 1e-6}, param_group_modifiers_config=(lr_scale("nope", 0.5),))
    assert config_error(Example(), config).splitlines() == [
        "model.optimizer_config.epz: is not an argument of torch.optim.AdamW (got 1e-06); did you mean 'eps'?",
        "model.optimizer_config.param_group_modifiers_config[0].name: matches no parameter (got 'nope')",
    ]


def test_kind_and_modifier_problems_at_once():
    """A bad kind does not hide an unmatched modifier."""
    config = OptimizerConfig(kind="torch.optim.Nope", param_group_modifiers_config=(lr_scale("nope", 0.5),))
    assert config_error(Example(), config).splitlines() == [
        "model.optimizer_config.kind: cannot import 'torch.optim.Nope': module 'torch.optim' has no attribute 'Nope'",
        "model.optimizer_config.param_group_modifiers_config[0].name: matches no parameter (got 'nope')",
    ]


def test_custom_optimizer_with_kwargs_accepts_anything(monkeypatch):
    """An optimizer whose constructor takes ``**kwargs`` receives extra arguments unchecked."""

    class Custom(torch.optim.SGD):
        def __init__(self, params, lr=0.1, **kwargs):
            self.extra = kwargs
            super().__init__(params, lr=lr, weight_decay=kwargs.get("weight_decay", 0.0))

    monkeypatch.setattr(torch.optim, "Custom", Custom, raising=False)  # importable by path for this test
    config = OptimizerConfig(kind="torch.optim.Custom", lr=0.1, optimizer_kwargs={"anything": 1})
    wrapper = OptimizerWrapper(Example(), config)
    assert wrapper.optimizer.extra == {"anything": 1, "weight_decay": 0.0}


class ConvLrDecay(ParamGroupModifier):
    """A modifier of a user's, as in Noether: the conv's parameters train at `scale` times the learning rate."""

    def get_properties(self, model, name, param):
        return {"lr_scale": self.config.scale} if name.startswith("conv.") else {}


class NothingModifier(ParamGroupModifier):
    """Matches no parameter."""


def test_a_modifier_of_your_own_is_a_class_path_of_the_modifier_base():
    """Any class path of a `ParamGroupModifier` subclass is a modifier kind; its properties merge like the built-ins'."""
    custom = ParamGroupModifierConfig(kind=f"{__name__}.ConvLrDecay", name="conv", scale=0.5)
    wrapper = OptimizerWrapper(Example(), adamw(param_group_modifiers_config=(custom, lr_scale("conv.weight", 0.5))))
    assert [(group.name, group.param_names) for group in wrapper.plan] == [
        ("default", ("cls_token", "fc.weight")),
        ("weight_decay=0", ("scale", "norm.weight", "norm.bias", "fc.bias")),
        ("lr_scale=2.5e-01", ("conv.weight",)),
        ("weight_decay=0&lr_scale=5.0e-01", ("conv.bias",)),
    ]
    assert wrapper.plan[2].reasons == (f"modifier #0 ({__name__}.ConvLrDecay), modifier #1 (name 'conv.weight')",)


def test_modifiers_of_your_own_that_fail_are_reported_at_their_kind():
    """A class that is no `ParamGroupModifier` and one that matches nothing: one line each, at once."""
    configs = (ParamGroupModifierConfig(kind="collections.OrderedDict", name="x", scale=1.0),
               ParamGroupModifierConfig(kind=f"{__name__}.NothingModifier", name="x", scale=1.0))
    assert config_error(Example(), adamw(param_group_modifiers_config=configs)).splitlines() == [
        "model.optimizer_config.param_group_modifiers_config[0].kind: 'collections.OrderedDict' is not a subclass of "
        "engine.optimizer.ParamGroupModifier",
        f"model.optimizer_config.param_group_modifiers_config[1].kind: {__name__}.NothingModifier returned properties "
        "for no parameter (its get_properties gave an empty dict for every one)",
    ]
