"""A small Fourier neural operator: the Poisson solution operator is diagonal in Fourier space, so a few
learned spectral convolutions approximate it well."""

from __future__ import annotations

import torch
from torch import nn

import engine
from examples.poisson.schemas import PoissonModelConfig


class SpectralConv2d(nn.Module):
    """Multiply the lowest ``modes`` x ``modes`` Fourier coefficients (both signs of the first frequency) by
    learned complex channel-mixing matrices; drop the rest."""

    def __init__(self, channels: int, modes: int) -> None:
        super().__init__()
        self.modes = modes
        scale = 1.0 / channels
        self.weight_positive = nn.Parameter(scale * torch.randn(channels, channels, modes, modes, 2))
        self.weight_negative = nn.Parameter(scale * torch.randn(channels, channels, modes, modes, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The spectral convolution, in float32 also under mixed precision (returned in the input's dtype):
        cuFFT has no bfloat16, and float16 would need complex-half products that CUDA lacks."""
        with torch.autocast(x.device.type, enabled=False):
            return self._convolve(x.float()).to(x.dtype)

    def _convolve(self, x: torch.Tensor) -> torch.Tensor:
        size, modes = x.shape[-1], self.modes
        coefficients = torch.fft.rfft2(x)
        out = torch.zeros_like(coefficients)
        mix = "bixy,ioxy->boxy"
        out[..., :modes, :modes] = torch.einsum(mix, coefficients[..., :modes, :modes], torch.view_as_complex(self.weight_positive))
        out[..., -modes:, :modes] = torch.einsum(mix, coefficients[..., -modes:, :modes], torch.view_as_complex(self.weight_negative))
        return torch.fft.irfft2(out, s=(size, size))


class PoissonSurrogate(engine.Model):
    """Lift the source to ``hidden_channels``, apply two Fourier layers, project to the solution."""

    config_schema = PoissonModelConfig

    def __init__(self, config: PoissonModelConfig) -> None:
        super().__init__(config)
        width = config.hidden_channels
        self.lift = nn.Conv2d(1, width, kernel_size=1)
        self.spectral = nn.ModuleList(SpectralConv2d(width, config.modes) for _ in range(2))
        self.pointwise = nn.ModuleList(nn.Conv2d(width, width, kernel_size=1) for _ in range(2))
        self.project = nn.Sequential(nn.Conv2d(width, width, kernel_size=1), nn.GELU(), nn.Conv2d(width, 1, kernel_size=1))

    def forward(self, source: torch.Tensor) -> torch.Tensor:
        x = self.lift(source)
        for index, (spectral, pointwise) in enumerate(zip(self.spectral, self.pointwise)):
            x = spectral(x) + pointwise(x)
            x = nn.functional.gelu(x) if index < len(self.spectral) - 1 else x
        return self.project(x)
