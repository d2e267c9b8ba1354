"""``engine.nonfinite``: a skipped update is decided on the device and leaves parameters and optimizer state
bit-identical; the run of skipped updates is counted on the device and checked when read."""

from __future__ import annotations

import copy

import pytest
import torch

from engine.lion import Lion
from engine.nonfinite import check_skipped, count_skipped, finite_and, maskable, masked_step, step_optimizers
from engine.optimizer import OptimizerWrapper
from noether.core.schemas.optimizers import OptimizerConfig

OPTIMIZERS = {
    "AdamW (foreach)": OptimizerConfig(kind="torch.optim.AdamW", lr=0.01, weight_decay=0.1),
    "AdamW (fused)": OptimizerConfig(kind="torch.optim.AdamW", lr=0.01, weight_decay=0.1, optimizer_kwargs={"fused": True}),
    "AdamW (single tensor)": OptimizerConfig(kind="torch.optim.AdamW", lr=0.01, optimizer_kwargs={"foreach": False}),
    "SGD with momentum": OptimizerConfig(kind="torch.optim.SGD", lr=0.1, weight_decay=0.0, optimizer_kwargs={"momentum": 0.9}),
    "SGD": OptimizerConfig(kind="torch.optim.SGD", lr=0.1, weight_decay=0.0),
    "Lion": OptimizerConfig(kind="engine.lion.Lion", lr=0.01, weight_decay=0.1),
}


def stepped_once(config: OptimizerConfig) -> tuple[torch.nn.Module, OptimizerWrapper]:
    """A small model whose optimizer took one finite step through ``step_optimizers`` (so its state exists)."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1))
    wrapper = OptimizerWrapper(model, config)
    model(torch.randn(5, 3)).pow(2).mean().backward()
    step_optimizers([wrapper], None, torch.tensor(False))
    wrapper.zero_grad()
    return model, wrapper


def backward(model: torch.nn.Module, factor: float) -> None:
    """Gradients of a loss times ``factor`` (NaN: every gradient is NaN)."""
    (model(torch.randn(5, 3, generator=torch.Generator().manual_seed(1))).pow(2).mean() * factor).backward()


def assert_identical(first: dict, second: dict) -> None:
    """Equal nested state dicts, tensors bit for bit (NaN included)."""
    assert first.keys() == second.keys()
    for key in first:
        if isinstance(first[key], dict):
            assert_identical(first[key], second[key])
        elif isinstance(first[key], torch.Tensor):
            assert torch.equal(first[key].view(-1).view(torch.uint8), second[key].view(-1).view(torch.uint8)), key
        else:
            assert first[key] == second[key], key


@pytest.mark.parametrize("config", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_a_skipped_step_changes_nothing(config):
    """With NaN gradients and ``skipped`` true, parameters and optimizer state (step counts included) keep their
    exact bits, without a host read."""
    model, wrapper = stepped_once(config)
    assert maskable(wrapper)
    before = copy.deepcopy({"model": model.state_dict(), "optimizer": wrapper.state_dict()})
    backward(model, float("nan"))
    masked_step(wrapper, torch.tensor(True))
    assert_identical({"model": model.state_dict(), "optimizer": wrapper.state_dict()}, before)


@pytest.mark.parametrize("config", OPTIMIZERS.values(), ids=OPTIMIZERS.keys())
def test_a_step_that_is_not_skipped_is_the_plain_step(config):
    """With ``skipped`` false the masked step gives exactly the weights and state of ``OptimizerWrapper.step``."""
    model, wrapper = stepped_once(config)
    reference_model, reference = stepped_once(config)
    backward(model, 1.0)
    backward(reference_model, 1.0)
    masked_step(wrapper, torch.tensor(False))
    reference.step()
    assert_identical({"model": model.state_dict(), "optimizer": wrapper.state_dict()},
                     {"model": reference_model.state_dict(), "optimizer": reference.state_dict()})


def test_a_fresh_stateful_optimizer_is_not_maskable():
    """Before its first step Adam has no state for a parameter (a skipped first step cannot un-create it), so
    ``step_optimizers`` decides that update on the host; plain SGD is maskable once a step left it without state."""
    model = torch.nn.Linear(2, 1)
    model(torch.ones(1, 2)).sum().backward()
    assert not maskable(OptimizerWrapper(model, OPTIMIZERS["AdamW (foreach)"]))
    sgd = OptimizerWrapper(model, OPTIMIZERS["SGD"])
    assert not maskable(sgd)
    step_optimizers([sgd], None, torch.tensor(False))
    assert maskable(sgd)


def test_step_optimizers_skips_a_fresh_optimizer_on_the_host():
    """A skipped first update leaves a fresh AdamW without state and the weights unchanged."""
    model = torch.nn.Linear(2, 1)
    wrapper = OptimizerWrapper(model, OPTIMIZERS["AdamW (foreach)"])
    weights = copy.deepcopy(model.state_dict())
    (model(torch.ones(1, 2)).sum() * float("nan")).backward()
    step_optimizers([wrapper], None, torch.tensor(True))
    assert wrapper.optimizer.state == {}
    assert_identical(model.state_dict(), weights)


def test_finite_and_accumulates_over_micro_batches():
    """One non-finite micro-batch makes the update's flag false, whatever follows."""
    flag = None
    for value in (1.0, float("inf"), 2.0):
        flag = finite_and(flag, torch.tensor(value))
    assert not flag


def test_runs_of_skipped_updates_are_counted_and_checked():
    """Skipped, skipped, good, skipped: the run restarts after the good update, the longest run is 2, and a
    limit of 1 raises with the run's length."""
    consecutive, longest = 0, 0
    for skipped in (True, True, False, True):
        consecutive, longest = count_skipped(consecutive, longest, torch.tensor(skipped))
    assert (int(consecutive), int(longest)) == (1, 2)
    check_skipped(longest, 2)
    with pytest.raises(RuntimeError) as caught:
        check_skipped(longest, 1)
    assert str(caught.value) == "2 updates in a row had a NaN or Inf loss (trainer.skip_nan_loss_max_count is 1)"


def test_lion_is_importable_by_kind():
    """The Lion config kind resolves to the engine's Lion (the optimizer masked above)."""
    assert isinstance(stepped_once(OPTIMIZERS["Lion"])[1].optimizer, Lion)
