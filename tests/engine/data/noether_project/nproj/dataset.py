"""Two separable blobs of 2-d points."""

import torch

from noether.data import Dataset, with_normalizers


class Blobs(Dataset):
    def __init__(self, dataset_config, **kwargs):
        super().__init__(dataset_config=dataset_config, **kwargs)
        generator = torch.Generator().manual_seed(dataset_config.seed)
        self.y = torch.arange(dataset_config.num_samples) % 2
        self.x = torch.randn(dataset_config.num_samples, 2, generator=generator) * 0.9 + (2.0 * self.y[:, None] - 1)

    def __len__(self):
        return len(self.y)

    @with_normalizers
    def getitem_x(self, idx):
        return self.x[idx]

    def getitem_y(self, idx):
        return self.y[idx]
