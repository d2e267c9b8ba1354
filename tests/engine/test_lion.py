"""Tests for ``engine.lion.Lion``: the update against hand-computed values, options and validation."""

from __future__ import annotations

import pytest
import torch

from engine.lion import Lion

P0 = [1.0, -2.0, 0.5, 0.0]
G1 = [0.5, -1.0, 0.0, 2.0]
G2 = [-1.0, -1.0, 1.0, -0.01]


def run(grads: list[list[float]], **options) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply Lion (lr 0.1, weight decay 0.5) to P0 with the given gradients; return the parameter and momentum."""
    param = torch.nn.Parameter(torch.tensor(P0, dtype=torch.float64))
    optimizer = Lion([param], lr=0.1, weight_decay=0.5, **options)
    for grad in grads:
        param.grad = torch.tensor(grad, dtype=torch.float64)
        optimizer.step()
    return param.detach(), optimizer.state[param]["exp_avg"]


def reference(grads: list[list[float]], *, caution: bool = False, maximize: bool = False) -> list[float]:
    """The update rule of reference section 3.5 in plain Python (lr 0.1, weight decay 0.5, betas 0.9 / 0.99)."""
    lr, weight_decay, beta1, beta2 = 0.1, 0.5, 0.9, 0.99
    param, momentum = list(P0), [0.0] * len(P0)
    for grad in grads:
        grad = [-g for g in grad] if maximize else grad
        param = [p * (1 - lr * weight_decay) for p in param]
        direction = [beta1 * m + (1 - beta1) * g for m, g in zip(momentum, grad)]
        update = [(d > 0) - (d < 0) for d in direction]
        if caution:
            mask = [float(u * g > 0) for u, g in zip(update, grad)]
            scale = max(sum(mask) / len(mask), 1e-3)
            update = [u * m / scale for u, m in zip(update, mask)]
        param = [p - lr * u for p, u in zip(param, update)]
        momentum = [beta2 * m + (1 - beta2) * g for m, g in zip(momentum, grad)]
    return param


@pytest.mark.parametrize("foreach", [False, True])
def test_two_steps_by_hand(foreach):
    """Two steps give the values worked out by hand: decay, sign of the interpolation, then momentum update."""
    param, momentum = run([G1, G2], foreach=foreach)
    # Step 1: p = 0.95 p - 0.1 sign(g1); m = 0.01 g1. Step 2: p = 0.95 p - 0.1 sign(0.9 m + 0.1 g2).
    assert param.tolist() == pytest.approx([0.9075, -1.61, 0.35125, -0.195], rel=1e-12)
    assert momentum.tolist() == pytest.approx([-0.00505, -0.0199, 0.01, 0.0197], rel=1e-12)


@pytest.mark.parametrize("foreach", [False, True])
def test_caution_by_hand(foreach):
    """With caution, components that disagree with the gradient are masked and the rest rescaled by 1 / mean."""
    param, _ = run([G1], caution=True, foreach=foreach)
    # sign(g1) = [1, -1, 0, 1], agreeing components [1, 1, 0, 1] -> mean 0.75 -> update scaled by 4/3.
    expected = [0.95 - 0.4 / 3, -1.9 + 0.4 / 3, 0.475, -0.4 / 3]
    assert param.tolist() == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("foreach", [False, True])
@pytest.mark.parametrize(("caution", "maximize"), [(False, False), (True, False), (False, True), (True, True)])
def test_matches_plain_python_rule(foreach, caution, maximize):
    """Three steps match the reference rule for every combination of caution and maximize."""
    grads = [G1, G2, [0.3, -0.2, -0.7, 0.0]]
    param, _ = run(grads, caution=caution, maximize=maximize, foreach=foreach)
    assert param.tolist() == pytest.approx(reference(grads, caution=caution, maximize=maximize), rel=1e-12, abs=1e-15)


def test_foreach_handles_mixed_dtypes():
    """The foreach path buckets tensors by dtype and agrees with the per-tensor path."""
    results = []
    for foreach in (False, True):
        torch.manual_seed(0)
        params = [torch.nn.Parameter(torch.randn(3, dtype=dtype)) for dtype in (torch.float32, torch.float64)]
        optimizer = Lion(params, lr=0.01, weight_decay=0.1, foreach=foreach)
        for param in params:
            param.grad = torch.ones_like(param)
        optimizer.step()
        results.append([param.detach().clone() for param in params])
    for single, multi in zip(*results):
        torch.testing.assert_close(single, multi)


def test_parameters_without_grad_are_untouched():
    """A parameter without a gradient is neither decayed nor given state."""
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = Lion([param], lr=0.1, weight_decay=1.0)
    optimizer.step()
    assert param.tolist() == [1.0, 1.0] and len(optimizer.state) == 0


def test_closure_loss_is_returned():
    """``step(closure)`` evaluates the closure with gradients enabled and returns its loss."""
    param = torch.nn.Parameter(torch.ones(2))
    optimizer = Lion([param], lr=0.1)

    def closure():
        optimizer.zero_grad()
        loss = (param**2).sum()
        loss.backward()
        return loss

    assert optimizer.step(closure).item() == 2.0
    assert param.tolist() == pytest.approx([0.9, 0.9])


def test_sparse_gradients_are_rejected():
    """Sparse gradients raise a RuntimeError."""
    param = torch.nn.Parameter(torch.ones(3))
    optimizer = Lion([param], lr=0.1)
    param.grad = torch.ones(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse"):
        optimizer.step()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"lr": -1.0}, "Invalid learning rate: -1.0"),
        ({"betas": (1.0, 0.99)}, "Invalid beta parameter at index 0: 1.0"),
        ({"betas": (0.9, -0.1)}, "Invalid beta parameter at index 1: -0.1"),
        ({"weight_decay": -0.1}, "Invalid weight_decay value: -0.1"),
    ],
)
def test_validation(options, message):
    """Out-of-range hyper-parameters raise ValueError naming the value."""
    with pytest.raises(ValueError, match=message):
        Lion([torch.nn.Parameter(torch.ones(1))], **options)


def test_state_dict_round_trip():
    """The momentum survives a state-dict round trip and the next step is identical."""
    first = torch.nn.Parameter(torch.tensor(P0, dtype=torch.float64))
    second = torch.nn.Parameter(torch.tensor(P0, dtype=torch.float64))
    optimizers = [Lion([p], lr=0.1, weight_decay=0.5) for p in (first, second)]
    first.grad = torch.tensor(G1, dtype=torch.float64)
    optimizers[0].step()
    second.data.copy_(first.data)
    optimizers[1].load_state_dict(optimizers[0].state_dict())
    for p, optimizer in zip((first, second), optimizers):
        p.grad = torch.tensor(G2, dtype=torch.float64)
        optimizer.step()
    torch.testing.assert_close(first, second)
