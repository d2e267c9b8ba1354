"""A two-layer classifier."""

import torch

from noether.core.models import Model


class Classifier(Model):
    def __init__(self, model_config, **kwargs):
        super().__init__(model_config=model_config, **kwargs)
        hidden = self.model_config.hidden
        self.net = torch.nn.Sequential(torch.nn.Linear(2, hidden), torch.nn.ReLU(), torch.nn.Linear(hidden, 2))

    def forward(self, x):
        return self.net(x)
