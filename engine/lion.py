"""The Lion optimizer (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"), as Noether ships it.

Noether's config kind ``noether.core.optimizer.Lion`` resolves to this class (``noether.core.config.kinds.KIND_ALIASES``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import torch

__all__ = ["Lion"]


def _foreach_default(caution: bool) -> bool:
    """Whether foreach kernels are usable: caution needs the scalar overload of ``_foreach_maximum_``."""
    if not caution:
        return True
    try:
        return "Scalar" in torch.ops.aten._foreach_maximum_.overloads()
    except (AttributeError, RuntimeError):
        return False


class Lion(torch.optim.Optimizer):
    """Lion: a sign-of-momentum update with decoupled weight decay.

    Per parameter ``p`` with gradient ``g`` (``-g`` when ``maximize``) and momentum ``m`` (zeros at first):
    ``p *= 1 - lr * weight_decay``; ``u = sign(beta1 * m + (1 - beta1) * g)``; with ``caution``,
    ``mask = (u * g > 0)`` divided by ``max(mean(mask), 1e-3)`` and ``u *= mask``; ``p -= lr * u``;
    ``m = beta2 * m + (1 - beta2) * g``.

    Args:
        params: Parameters or parameter groups.
        lr: Learning rate, >= 0.
        betas: ``(beta1, beta2)``, each in [0, 1): the interpolation of the update direction and the momentum decay.
        weight_decay: Decoupled weight decay, >= 0 (Lion usually wants 3-10x the AdamW value).
        caution: Mask update components whose sign disagrees with the gradient ("Cautious Optimizers").
        maximize: Maximize the objective instead of minimizing it.
        foreach: Use the multi-tensor kernels; ``None``: yes, unless ``caution`` is on and the scalar
            ``_foreach_maximum_`` overload is missing.

    Raises:
        ValueError: If ``lr``, ``betas`` or ``weight_decay`` is out of range.

    Example:
        >>> model = torch.nn.Linear(2, 1)
        >>> optimizer = Lion(model.parameters(), lr=1e-4, weight_decay=1.0)
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor] | Iterable[dict[str, Any]],
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.9, 0.99),
        weight_decay: float = 0.0,
        caution: bool = False,
        maximize: bool = False,
        foreach: bool | None = None,
    ) -> None:
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr} (must be >= 0)")
        if len(betas) != 2:
            raise ValueError(f"Invalid betas: {betas} (must be two values)")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]} (must be in [0, 1))")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]} (must be in [0, 1))")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay} (must be >= 0)")
        defaults = dict(
            lr=lr, betas=tuple(betas), weight_decay=weight_decay, caution=caution, maximize=maximize, foreach=foreach
        )
        super().__init__(params, defaults)

    def __setstate__(self, state: dict[str, Any]) -> None:
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("caution", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:
        """Perform one optimization step.

        Args:
            closure: Re-evaluates the model and returns the loss (optional).

        Returns:
            The closure's loss, or ``None``.

        Raises:
            RuntimeError: If a gradient is sparse.
        """
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, exp_avgs = [], [], []
            for param in group["params"]:
                if param.grad is None:
                    continue
                if param.grad.is_sparse:
                    raise RuntimeError("Lion does not support sparse gradients")
                state = self.state[param]
                if len(state) == 0:
                    state["exp_avg"] = torch.zeros_like(param, memory_format=torch.preserve_format)
                params.append(param)
                grads.append(param.grad)
                exp_avgs.append(state["exp_avg"])
            if not params:
                continue
            foreach = group["foreach"]
            if foreach is None:
                foreach = _foreach_default(group["caution"])
            update = _multi_tensor_lion if foreach else _single_tensor_lion
            beta1, beta2 = group["betas"]
            update(
                params,
                grads,
                exp_avgs,
                lr=group["lr"],
                beta1=beta1,
                beta2=beta2,
                weight_decay=group["weight_decay"],
                caution=group["caution"],
                maximize=group["maximize"],
            )
        return loss


def _single_tensor_lion(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
    caution: bool,
    maximize: bool,
) -> None:
    """Lion for one tensor at a time."""
    for param, grad, exp_avg in zip(params, grads, exp_avgs, strict=True):
        if maximize:
            grad = -grad
        param.mul_(1.0 - lr * weight_decay)
        update = exp_avg.mul(beta1).add_(grad, alpha=1.0 - beta1).sign_()
        if caution:
            mask = (update * grad > 0).to(grad.dtype)
            mask.div_(mask.mean().clamp_(min=1e-3))
            update.mul_(mask)
        param.add_(update, alpha=-lr)
        exp_avg.mul_(beta2).add_(grad, alpha=1.0 - beta2)


def _multi_tensor_lion(
    params: list[torch.Tensor],
    grads: list[torch.Tensor],
    exp_avgs: list[torch.Tensor],
    *,
    lr: float,
    beta1: float,
    beta2: float,
    weight_decay: float,
    caution: bool,
    maximize: bool,
) -> None:
    """Lion with foreach kernels, one call per (device, dtype) bucket."""
    buckets: dict[tuple, tuple[list, list, list]] = {}
    for param, grad, exp_avg in zip(params, grads, exp_avgs, strict=True):
        bucket = buckets.setdefault((param.device, param.dtype, grad.dtype), ([], [], []))
        bucket[0].append(param)
        bucket[1].append(grad)
        bucket[2].append(exp_avg)
    for bucket_params, bucket_grads, bucket_exp_avgs in buckets.values():
        if maximize:
            bucket_grads = torch._foreach_neg(bucket_grads)
        torch._foreach_mul_(bucket_params, 1.0 - lr * weight_decay)
        updates = torch._foreach_mul(bucket_exp_avgs, beta1)
        torch._foreach_add_(updates, bucket_grads, alpha=1.0 - beta1)
        torch._foreach_sign_(updates)
        if caution:
            masks = torch._foreach_mul(updates, bucket_grads)
            masks = [(mask > 0).to(grad.dtype) for mask, grad in zip(masks, bucket_grads, strict=True)]
            mask_scales = [mask.mean() for mask in masks]
            torch._foreach_maximum_(mask_scales, 1e-3)
            torch._foreach_div_(masks, mask_scales)
            torch._foreach_mul_(updates, masks)
        torch._foreach_add_(bucket_params, updates, alpha=-lr)
        torch._foreach_mul_(bucket_exp_avgs, beta2)
        torch._foreach_add_(bucket_exp_avgs, bucket_grads, alpha=1.0 - beta2)
