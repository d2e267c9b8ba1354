"""Tests for ``noether.core.optimizer.param_groups``: Noether's grouping rules, names, modifiers and errors."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from noether.core.config import ConfigError
from noether.core.optimizer import ParamGroupPlan, explain_param_groups, format_group_value, plan_param_groups
from noether.core.schemas.optimizers import (
    LR_SCALE_MODIFIER,
    WEIGHT_DECAY_MODIFIER,
    OptimizerConfig,
    ParamGroupModifierConfig,
)
from noether.core.schemas.schedules import LinearDecreasingScheduleConfig

# Reference section 3.2's example: cls_token (1,1,4), scalar scale, Conv2d(3,4,3), LayerNorm(4), Linear(4,2).
EXAMPLE = [
    ("cls_token", (1, 1, 4)),
    ("scale", ()),
    ("conv.weight", (4, 3, 3, 3)),
    ("conv.bias", (4,)),
    ("norm.weight", (4,)),
    ("norm.bias", (4,)),
    ("fc.weight", (2, 4)),
    ("fc.bias", (2,)),
]
ADAMW = OptimizerConfig(kind="torch.optim.AdamW", lr=1e-3, weight_decay=0.05)


def lr_scale(name: str, scale: float) -> ParamGroupModifierConfig:
    return ParamGroupModifierConfig(kind=LR_SCALE_MODIFIER, name=name, scale=scale)


def weight_decay(name: str, value: float) -> ParamGroupModifierConfig:
    return ParamGroupModifierConfig(kind=WEIGHT_DECAY_MODIFIER, name=name, value=value)


def with_modifiers(*modifiers: ParamGroupModifierConfig, **changes) -> OptimizerConfig:
    return OptimizerConfig(
        kind="torch.optim.AdamW", lr=1e-3, weight_decay=0.05, param_group_modifiers_config=modifiers, **changes
    )


def summary(plan: tuple[ParamGroupPlan, ...]) -> list[tuple]:
    return [(group.name, group.param_names, group.lr_scale, group.weight_decay) for group in plan]


def test_reference_example_groups_and_index_order():
    """The reference's example model gives Noether's two groups and its index map."""
    plan = plan_param_groups(EXAMPLE, ADAMW)
    assert summary(plan) == [
        ("default", ("cls_token", "conv.weight", "fc.weight"), 1.0, 0.05),
        ("weight_decay=0", ("scale", "conv.bias", "norm.weight", "norm.bias", "fc.bias"), 1.0, 0.0),
    ]
    index_to_name = dict(enumerate(name for group in plan for name in group.param_names))
    assert index_to_name == {
        0: "cls_token", 1: "conv.weight", 2: "fc.weight", 3: "scale",
        4: "conv.bias", 5: "norm.weight", 6: "norm.bias", 7: "fc.bias",
    }  # fmt: skip
    assert plan[1].reasons == ("ndim <= 1", "bias", "ndim <= 1", "bias", "bias")
    assert plan[0].reasons == ("default",) * 3
    assert not any(group.weight_decay_scheduled for group in plan)


@pytest.mark.parametrize(
    ("value", "text"),
    [(0.0, "0"), (0.25, "2.5e-01"), (0.1, "1.0e-01"), (0.05, "5.0e-02"), (1.0, "1.0e00"), (2.0, "2.0e00"), (15.0, "1.5e01")],
)
def test_group_value_format(value, text):
    """Group names render 0 as ``0`` and other values with one decimal in scientific notation."""
    assert format_group_value(value) == text


def test_lr_scales_multiply():
    """Two lr-scale modifiers of 0.5 on one parameter give 0.25, named ``lr_scale=2.5e-01``."""
    plan = plan_param_groups(EXAMPLE, with_modifiers(lr_scale("fc.weight", 0.5), lr_scale("fc.weight", 0.5)))
    group = next(group for group in plan if "fc.weight" in group.param_names)
    assert (group.name, group.param_names, group.lr_scale, group.weight_decay) == (
        "lr_scale=2.5e-01", ("fc.weight",), 0.25, 0.05
    )
    assert group.reasons == ("modifier #0 (name 'fc.weight'), modifier #1 (name 'fc.weight')",)


def test_lr_scale_on_excluded_parameter_joins_both_properties():
    """An lr scale on a bias keeps the bias exclusion; the name lists weight decay first."""
    plan = plan_param_groups(EXAMPLE, with_modifiers(lr_scale("fc.bias", 0.1)))
    assert summary(plan)[-1] == ("weight_decay=0&lr_scale=1.0e-01", ("fc.bias",), 0.1, 0.0)
    assert plan[-1].reasons == ("bias, modifier #0 (name 'fc.bias')",)


def test_weight_decay_modifier_overrides_rule():
    """A by-name weight decay on an excluded parameter replaces the rule (Noether fails here)."""
    plan = plan_param_groups(EXAMPLE, with_modifiers(weight_decay("norm.weight", 0.01)))
    group = next(group for group in plan if "norm.weight" in group.param_names)
    assert (group.name, group.param_names, group.weight_decay) == ("weight_decay=1.0e-02", ("norm.weight",), 0.01)
    assert group.reasons == ("modifier #0 (name 'norm.weight', overrides ndim <= 1)",)


def test_explicit_zero_merges_with_rule_group():
    """A by-name weight decay of 0 lands in the same group as the rule-excluded parameters."""
    plan = plan_param_groups(EXAMPLE, with_modifiers(weight_decay("cls_token", 0.0)))
    assert summary(plan) == [
        ("weight_decay=0", ("cls_token", "scale", "conv.bias", "norm.weight", "norm.bias", "fc.bias"), 1.0, 0.0),
        ("default", ("conv.weight", "fc.weight"), 1.0, 0.05),
    ]
    assert plan[0].reasons[0] == "modifier #0 (name 'cls_token')"


def test_name_is_independent_of_modifier_order():
    """Weight decay comes before lr scale in a name, whichever modifier is listed first."""
    first = plan_param_groups(EXAMPLE, with_modifiers(lr_scale("fc.weight", 0.5), weight_decay("fc.weight", 0.0)))
    second = plan_param_groups(EXAMPLE, with_modifiers(weight_decay("fc.weight", 0.0), lr_scale("fc.weight", 0.5)))
    assert [group.name for group in first] == [group.name for group in second]
    assert "weight_decay=0&lr_scale=5.0e-01" in [group.name for group in first]


def test_rules_can_be_switched_off():
    """Without bias exclusion a 1-D bias keeps its weight decay; without the ndim rule only biases are excluded."""
    no_bias = plan_param_groups(EXAMPLE, with_modifiers(exclude_bias_from_weight_decay=False))
    assert summary(no_bias) == [
        ("default", ("cls_token", "conv.weight", "conv.bias", "norm.bias", "fc.weight", "fc.bias"), 1.0, 0.05),
        ("weight_decay=0", ("scale", "norm.weight"), 1.0, 0.0),
    ]
    no_ndim = plan_param_groups(EXAMPLE, with_modifiers(exclude_normalization_params_from_weight_decay=False))
    assert summary(no_ndim) == [
        ("default", ("cls_token", "scale", "conv.weight", "norm.weight", "fc.weight"), 1.0, 0.05),
        ("weight_decay=0", ("conv.bias", "norm.bias", "fc.bias"), 1.0, 0.0),
    ]


def test_weight_decay_schedule_marks_groups_not_excluded():
    """With a weight-decay schedule, exactly the groups without an explicit weight decay are scheduled."""
    config = with_modifiers(
        lr_scale("fc.weight", 0.5),
        weight_decay("cls_token", 0.0),
        weight_decay_schedule=LinearDecreasingScheduleConfig(max_value=0.05, end_value=0.0),
    )
    scheduled = {group.name: group.weight_decay_scheduled for group in plan_param_groups(EXAMPLE, config)}
    assert scheduled == {"weight_decay=0": False, "default": True, "lr_scale=5.0e-01": True}


def test_zero_base_weight_decay_is_still_scheduled():
    """The schedule drives non-excluded groups even when the base weight decay is 0 (Noether drives none)."""
    config = OptimizerConfig(weight_decay=0.0, weight_decay_schedule=LinearDecreasingScheduleConfig(max_value=0.1))
    plan = plan_param_groups(EXAMPLE, config)
    assert [(group.name, group.weight_decay_scheduled) for group in plan] == [
        ("default", True), ("weight_decay=0", False)
    ]  # fmt: skip


def test_unset_weight_decay_counts_as_zero():
    """``weight_decay: null`` plans a base weight decay of 0 (the engine substitutes the optimizer's default)."""
    plan = plan_param_groups(EXAMPLE, OptimizerConfig(weight_decay=None))
    assert plan[0].weight_decay == 0.0


def test_modifier_matching_nothing_names_its_path():
    """Every modifier whose name matches no parameter is one line, with did-you-mean."""
    config = with_modifiers(lr_scale("fc.weight", 0.5), lr_scale("cls_tokn", 0.1), weight_decay("nothing.here", 0.0))
    with pytest.raises(ConfigError) as info:
        plan_param_groups(EXAMPLE, config)
    assert str(info.value) == (
        "model.optimizer_config.param_group_modifiers_config[1].name: matches no parameter (got 'cls_tokn'); "
        "did you mean 'cls_token'?\n"
        "model.optimizer_config.param_group_modifiers_config[2].name: matches no parameter (got 'nothing.here')"
    )


def test_error_path_follows_argument():
    """The ``path`` argument prefixes the modifier's path (e.g. a submodel's optimizer)."""
    with pytest.raises(ConfigError) as info:
        plan_param_groups(EXAMPLE, with_modifiers(lr_scale("x", 0.5)), path="model.submodels.encoder.optimizer_config")
    assert str(info.value) == (
        "model.submodels.encoder.optimizer_config.param_group_modifiers_config[0].name: matches no parameter (got 'x')"
    )


def test_second_weight_decay_for_one_parameter_is_an_error():
    """Two by-name weight decays for one parameter are ambiguous and rejected at the second."""
    with pytest.raises(ConfigError) as info:
        plan_param_groups(EXAMPLE, with_modifiers(weight_decay("fc.weight", 0.0), weight_decay("fc.weight", 0.1)))
    assert str(info.value) == (
        "model.optimizer_config.param_group_modifiers_config[1].name: sets the weight decay of 'fc.weight' again "
        "(got 0.1 after 0.0 from param_group_modifiers_config[0]); keep one of the two"
    )


def test_plan_rejects_a_non_zero_by_name_weight_decay_with_a_schedule():
    """`plan_param_groups` itself (not only `load_config`) rejects a per-name weight decay that a schedule would override."""
    config = with_modifiers(
        weight_decay("cls_token", 0.1),
        weight_decay("fc.weight", 0.0),
        weight_decay_schedule=LinearDecreasingScheduleConfig(max_value=0.05, end_value=0.0),
    )
    with pytest.raises(ConfigError) as info:
        plan_param_groups(EXAMPLE, config)
    assert str(info.value) == (
        "model.optimizer_config.param_group_modifiers_config[0].value: a non-zero weight decay for 'cls_token' "
        "conflicts with model.optimizer_config.weight_decay_schedule, which sets the weight decay of every group not "
        "excluded; use value: 0 to exclude the parameter, or remove the schedule"
    )


def test_duplicate_parameter_names_are_rejected():
    """Parameter names are unique in a model; a repeated name is a programming error."""
    with pytest.raises(ValueError, match="'a' more than once"):
        plan_param_groups([("a", (2,)), ("a", (3,))], ADAMW)


def test_explain_table():
    """The explain table has one aligned row per parameter, in index order."""
    config = with_modifiers(
        lr_scale("cls_token", 0.5), weight_decay_schedule=LinearDecreasingScheduleConfig(max_value=0.05)
    )
    table = explain_param_groups(plan_param_groups(EXAMPLE[:4], config))
    assert table.splitlines() == [
        "parameter    group             lr scale  weight decay  wd scheduled  reason",
        "-----------  ----------------  --------  ------------  ------------  " + "-" * 30,
        "cls_token    lr_scale=5.0e-01  0.5       0.05          yes           modifier #0 (name 'cls_token')",
        "scale        weight_decay=0    1         0             no            ndim <= 1",
        "conv.bias    weight_decay=0    1         0             no            bias",
        "conv.weight  default           1         0.05          yes           default",
    ]


# Hypothesis: random models (names with and without a bias suffix, shapes of rank 0-3) and modifiers on them.
SEGMENTS = st.sampled_from(["a", "b", "blocks", "0", "1", "attn", "norm", "bias", "weight", "token"])
NAMES = st.lists(st.lists(SEGMENTS, min_size=1, max_size=3).map(".".join), min_size=1, max_size=12, unique=True)
SHAPE = st.lists(st.integers(1, 4), min_size=0, max_size=3).map(tuple)


@st.composite
def models(draw):
    names = draw(NAMES)
    params = [(name, draw(SHAPE)) for name in names]
    modifiers = []
    schedule = draw(st.sampled_from([None, LinearDecreasingScheduleConfig(max_value=0.1)]))
    for name in draw(st.lists(st.sampled_from(names), max_size=4)):
        if draw(st.booleans()):
            modifiers.append(lr_scale(name, draw(st.sampled_from([0.0, 0.1, 0.5, 2.0]))))
        elif not any(m.name == name and m.value is not None for m in modifiers):
            # with a weight-decay schedule only an explicit 0 is allowed
            modifiers.append(weight_decay(name, draw(st.sampled_from([0.0] if schedule else [0.0, 0.01]))))
    config = OptimizerConfig(
        weight_decay=draw(st.sampled_from([0.0, 0.05])),
        param_group_modifiers_config=tuple(modifiers),
        exclude_bias_from_weight_decay=draw(st.booleans()),
        exclude_normalization_params_from_weight_decay=draw(st.booleans()),
        weight_decay_schedule=schedule,
    )
    return params, config


def by_parameter(plan: tuple[ParamGroupPlan, ...]) -> dict[str, tuple]:
    return {
        name: (group.name, group.lr_scale, group.weight_decay, group.weight_decay_scheduled, reason)
        for group in plan
        for name, reason in zip(group.param_names, group.reasons, strict=True)
    }


@settings(max_examples=200, deadline=None)
@given(models())
def test_every_parameter_in_exactly_one_group(model):
    """Each parameter is in exactly one group, groups are non-empty, distinct by name and aligned with reasons."""
    params, config = model
    plan = plan_param_groups(params, config)
    listed = [name for group in plan for name in group.param_names]
    assert sorted(listed) == sorted(name for name, _ in params)
    assert len({group.name for group in plan}) == len(plan)
    assert all(group.param_names and len(group.reasons) == len(group.param_names) for group in plan)


@settings(max_examples=200, deadline=None)
@given(models(), st.randoms(use_true_random=False))
def test_plan_is_independent_of_parameter_order(model, random):
    """Shuffling the parameters changes only the order of groups and of names within them."""
    params, config = model
    shuffled = list(params)
    random.shuffle(shuffled)
    plan, other = plan_param_groups(params, config), plan_param_groups(shuffled, config)
    assert by_parameter(plan) == by_parameter(other)
    assert {(g.name, frozenset(g.param_names)) for g in plan} == {(g.name, frozenset(g.param_names)) for g in other}
    # Groups come by first appearance, names within a group in the given order.
    position = {name: index for index, (name, _) in enumerate(shuffled)}
    assert [position[group.param_names[0]] for group in other] == sorted(position[g.param_names[0]] for g in other)
    assert all(list(g.param_names) == sorted(g.param_names, key=position.__getitem__) for g in other)


def test_properties_of_a_modifier_of_your_own_merge_like_the_built_ins():
    """`custom_properties` (what a user modifier's `get_properties` returned) scale and set like built-in modifiers;
    without them, or with an unknown property, the modifier is a problem at its kind."""
    custom = ParamGroupModifierConfig(kind="proj.LayerDecay", name="fc", scale=1.0)
    config = with_modifiers(custom, lr_scale("fc.weight", 0.5))
    plan = plan_param_groups(EXAMPLE, config, custom_properties={0: {"fc.weight": {"lr_scale": 0.5}, "fc.bias": {"weight_decay": 0.01}}})
    assert [(group.name, group.param_names, group.weight_decay) for group in plan] == [
        ("default", ("cls_token", "conv.weight"), 0.05),
        ("weight_decay=0", ("scale", "conv.bias", "norm.weight", "norm.bias"), 0.0),
        ("lr_scale=2.5e-01", ("fc.weight",), 0.05),
        ("weight_decay=1.0e-02", ("fc.bias",), 0.01),
    ]
    with pytest.raises(ConfigError) as info:
        plan_param_groups(EXAMPLE, with_modifiers(custom, custom), custom_properties={1: {"fc.weight": {"momentum": 0.9}}})
    assert str(info.value).splitlines() == [
        "model.optimizer_config.param_group_modifiers_config[0].kind: proj.LayerDecay is a modifier of your own: pass "
        "what its get_properties returns as custom_properties (the engine does)",
        "model.optimizer_config.param_group_modifiers_config[1].kind: proj.LayerDecay.get_properties returned "
        "'momentum' for 'fc.weight'; only 'lr_scale' and 'weight_decay' are properties of a group",
    ]
