"""Tests of engine.data.normalizers: Noether's formulas on known numbers, inverse round trips, errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data import make_normalizer
from engine.data.normalizers import make_normalizer_chain
from noether.core.schemas.normalizers import (
    MeanStdNormalizerConfig,
    PositionNormalizerConfig,
    ShiftAndScaleNormalizerConfig,
)


def test_mean_std_on_known_numbers():
    """MeanStd computes (x - mean) / std."""
    normalizer = make_normalizer(MeanStdNormalizerConfig(mean=2.0, std=4.0))
    assert normalizer(torch.tensor([2.0, 6.0, -2.0])).tolist() == [0.0, 1.0, -1.0]


def test_mean_std_per_channel_broadcasts_over_last_dimension():
    """Per-channel mean and std apply to the last dimension."""
    normalizer = make_normalizer(MeanStdNormalizerConfig(mean=(1.0, 10.0), std=(2.0, 5.0)))
    x = torch.tensor([[1.0, 10.0], [3.0, 20.0], [5.0, 0.0]])
    assert normalizer(x).tolist() == [[0.0, 0.0], [1.0, 2.0], [2.0, -2.0]]


def test_mean_std_logscale_applies_signed_log1p_first():
    """With logscale, x becomes sign(x) * log1p(|x|) before normalizing."""
    normalizer = make_normalizer(MeanStdNormalizerConfig(mean=0.0, std=1.0, logscale=True))
    y = normalizer(torch.tensor([math.e - 1.0, -(math.e - 1.0), 0.0], dtype=torch.float64))
    assert torch.allclose(y, torch.tensor([1.0, -1.0, 0.0], dtype=torch.float64), rtol=0, atol=1e-15)


def test_shift_and_scale_on_known_numbers():
    """ShiftAndScale computes (x + shift) * scale."""
    normalizer = make_normalizer(ShiftAndScaleNormalizerConfig(shift=1.0, scale=0.5))
    assert normalizer(torch.tensor([1.0, 3.0, -1.0])).tolist() == [1.0, 2.0, 0.0]


def test_position_normalizer_spans_zero_to_scale():
    """Position maps [raw_pos_min, raw_pos_max] linearly onto [0, scale] per axis."""
    normalizer = make_normalizer(PositionNormalizerConfig(raw_pos_min=(0.0, -2.0), raw_pos_max=(4.0, 2.0), scale=100.0))
    x = torch.tensor([[0.0, -2.0], [1.0, 0.0], [4.0, 2.0]])
    assert normalizer(x).tolist() == [[0.0, 0.0], [25.0, 50.0], [100.0, 100.0]]


def test_position_normalizer_zero_centered_spans_minus_to_plus_scale():
    """With zero_center, position maps onto [-scale, scale]."""
    normalizer = make_normalizer(PositionNormalizerConfig(raw_pos_min=-1.0, raw_pos_max=3.0, scale=10.0, zero_center=True))
    assert normalizer(torch.tensor([-1.0, 1.0, 2.0, 3.0])).tolist() == [-10.0, 0.0, 5.0, 10.0]


def test_position_normalizer_default_scale_is_1000():
    """The default scale of the position normalizer is 1000."""
    normalizer = make_normalizer(PositionNormalizerConfig(raw_pos_min=0.0, raw_pos_max=2.0))
    assert normalizer(torch.tensor([1.0])).tolist() == [500.0]


def test_position_normalizer_rejects_values_outside_the_raw_range():
    """A coordinate outside [raw_pos_min, raw_pos_max] is an error naming the range and the values."""
    normalizer = make_normalizer(PositionNormalizerConfig(raw_pos_min=0.0, raw_pos_max=1.0, scale=10.0))
    with pytest.raises(ValueError) as info:
        normalizer(torch.tensor([0.5, 1.5]))
    assert str(info.value) == (
        "PositionNormalizer: normalized values must lie in [0, 10] (got min 5, max 15); "
        "check raw_pos_min / raw_pos_max"
    )


def test_constants_follow_the_input_dtype():
    """Float64 input stays float64, float16 input stays float16, integers become float32."""
    normalizer = make_normalizer(MeanStdNormalizerConfig(mean=(1.0, 2.0), std=(1.0, 1.0)))
    assert normalizer(torch.zeros(2, dtype=torch.float64)).dtype == torch.float64
    assert normalizer(torch.zeros(2, dtype=torch.float16)).dtype == torch.float16
    assert normalizer(torch.tensor([1, 2])).tolist() == [0.0, 0.0]


def test_non_tensor_input_is_a_type_error():
    """Normalizers take tensors only and say so."""
    normalizer = make_normalizer(MeanStdNormalizerConfig(mean=0.0, std=1.0))
    with pytest.raises(TypeError) as info:
        normalizer([1.0])
    assert str(info.value) == "MeanStdNormalizer needs a torch.Tensor (got list)"


def test_chain_inverse_undoes_in_reverse_order():
    """A chain applies its normalizers in order and inverts them last-first."""
    chain = make_normalizer_chain(
        (ShiftAndScaleNormalizerConfig(shift=1.0, scale=2.0), MeanStdNormalizerConfig(mean=4.0, std=2.0))
    )
    assert chain(torch.tensor([1.0, 3.0])).tolist() == [0.0, 2.0]
    assert chain.inverse(torch.tensor([0.0, 2.0])).tolist() == [1.0, 3.0]


finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)
positive = st.floats(min_value=1e-2, max_value=1e2)


@pytest.mark.parametrize("logscale", [False, True])
@settings(max_examples=40, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=8), shift=finite, scale=positive)
def test_shift_and_scale_inverse_round_trips(logscale, values, shift, scale):
    """inverse(normalize(x)) == x in float64 for any shift, positive scale, with and without logscale."""
    normalizer = make_normalizer(ShiftAndScaleNormalizerConfig(shift=shift, scale=scale, logscale=logscale))
    x = torch.tensor(values, dtype=torch.float64)
    assert torch.allclose(normalizer.inverse(normalizer(x)), x, rtol=1e-9, atol=1e-9)


@settings(max_examples=40, deadline=None)
@given(values=st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=1, max_size=8), zero_center=st.booleans())
def test_position_inverse_round_trips(values, zero_center):
    """inverse(position(x)) == x for coordinates inside the raw range."""
    normalizer = make_normalizer(
        PositionNormalizerConfig(raw_pos_min=-3.0, raw_pos_max=5.0, scale=1000.0, zero_center=zero_center)
    )
    x = torch.tensor(values, dtype=torch.float64) * 8.0 - 3.0
    assert torch.allclose(normalizer.inverse(normalizer(x)), x, rtol=0, atol=1e-12)


def test_mean_std_inverse_per_channel():
    """The per-channel mean/std inverse restores the raw values."""
    normalizer = make_normalizer(MeanStdNormalizerConfig(mean=(1.0, -3.0), std=(0.5, 4.0)))
    x = torch.tensor([[2.0, 5.0], [-1.0, -3.0]])
    assert normalizer.inverse(normalizer(x)).tolist() == x.tolist()
