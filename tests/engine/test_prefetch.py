"""``engine.prefetch``: batches come out in order, on the device, with their non-tensor values untouched."""

from __future__ import annotations

import pytest
import torch

from engine.prefetch import prefetch_to_device


def test_batches_come_out_in_order_on_the_cpu():
    """Every batch is handed out once, in order; non-tensor values pass through."""
    batches = [{"x": torch.full((2,), float(index)), "name": f"b{index}"} for index in range(3)]
    out = list(prefetch_to_device(iter(batches), torch.device("cpu")))
    assert [batch["name"] for batch in out] == ["b0", "b1", "b2"]
    assert all(torch.equal(batch["x"], reference["x"]) for batch, reference in zip(out, batches, strict=True))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_batches_are_copied_one_ahead_on_cuda():
    """On CUDA the next batch is taken from the source before the current one is handed out, and every batch
    arrives on the device with its values."""
    taken = []

    def source():
        for index in range(3):
            taken.append(index)
            yield {"x": torch.full((4,), float(index)).pin_memory()}

    device = torch.device("cuda", torch.cuda.current_device())
    batches = prefetch_to_device(source(), device)
    first = next(batches)
    assert taken == [0, 1]
    assert first["x"].device == device and first["x"].sum().item() == 0.0
    assert [batch["x"][0].item() for batch in batches] == [1.0, 2.0]
