"""The trainer: Noether's train_step(batch, model) returning a TrainerResult."""

import torch.nn.functional as F

from noether.training.trainers import BaseTrainer
from noether.training.trainers.types import TrainerResult


class ClassifierTrainer(BaseTrainer):
    def __init__(self, trainer_config, **kwargs):
        super().__init__(config=trainer_config, **kwargs)

    def train_step(self, batch, model):
        loss = F.cross_entropy(model(batch["x"]), batch["y"])
        return TrainerResult(total_loss=loss, losses_to_log={"ce": loss})
