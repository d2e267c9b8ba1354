"""Random source terms f on a periodic grid and the solutions u of -laplace(u) = f, computed with torch.fft.

Nothing is downloaded: every split is generated from its own seed, so the data is identical on every machine.
"""

from __future__ import annotations

import math

import torch

import engine
from examples.poisson.schemas import PoissonDatasetConfig

SPLIT_SEEDS = {"train": 0, "val": 1, "test": 2}


def random_sources(num_samples: int, grid_size: int, seed: int) -> torch.Tensor:
    """Smooth zero-mean random fields: Fourier coefficients with variance decaying as (1 + |k|^2)^-2."""
    generator = torch.Generator().manual_seed(seed)
    k = torch.fft.fftfreq(grid_size, d=1.0 / grid_size)
    k_squared = k[:, None] ** 2 + k[None, :] ** 2
    amplitude = (1.0 + k_squared) ** -1.0
    amplitude[0, 0] = 0.0  # a periodic Poisson problem needs a zero-mean source
    noise = torch.randn(num_samples, grid_size, grid_size, 2, generator=generator, dtype=torch.float64)
    coefficients = torch.view_as_complex(noise) * amplitude
    sources = torch.fft.ifft2(coefficients).real
    return sources / sources.std(dim=(-2, -1), keepdim=True)


def solve_poisson(sources: torch.Tensor) -> torch.Tensor:
    """The zero-mean periodic solution u of -laplace(u) = f on [0, 2*pi)^2: u_hat = f_hat / |k|^2."""
    grid_size = sources.shape[-1]
    k = torch.fft.fftfreq(grid_size, d=1.0 / grid_size, dtype=sources.dtype)
    k_squared = k[:, None] ** 2 + k[None, :] ** 2
    k_squared[0, 0] = math.inf  # the mean of u is fixed to 0
    return torch.fft.ifft2(torch.fft.fft2(sources) / k_squared).real


class PoissonDataset(engine.Dataset):
    """(source, solution) pairs of the 2-D periodic Poisson equation; properties ``source`` and ``solution``
    (each ``1 x grid_size x grid_size``, float32)."""

    config_schema = PoissonDatasetConfig

    def __init__(self, config: PoissonDatasetConfig) -> None:
        super().__init__(config)
        sources = random_sources(config.num_samples, config.grid_size, SPLIT_SEEDS[config.split])
        self.sources = sources.unsqueeze(1).float()
        self.solutions = solve_poisson(sources).unsqueeze(1).float()

    def __len__(self) -> int:
        return len(self.sources)

    def getitem_source(self, index: int) -> torch.Tensor:
        """The source term f."""
        return self.sources[index]

    def getitem_solution(self, index: int) -> torch.Tensor:
        """The solution u."""
        return self.solutions[index]
