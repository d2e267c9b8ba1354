"""Trainers and callbacks written against Noether's extension APIs (``tests/engine/test_noether_extension_apis.py``),
named by kind from the migrated project's config."""

from __future__ import annotations

import torch
import torch.nn.functional as F

import engine
from engine.callbacks import PeriodicCallback, PeriodicDataIteratorCallback


class LossComputeTrainer(engine.BaseTrainer):
    """The engine's way: the default train_step and loss_compute."""

    def loss_compute(self, outputs, targets):
        loss = F.cross_entropy(outputs, targets["y"])
        return {"ce": loss}


class BareTensorTrainer(engine.BaseTrainer):
    """Noether's train_step shape returning a bare tensor."""

    def train_step(self, batch, model):
        return F.cross_entropy(model(batch["x"]), batch["y"])


class StaticTrainer(engine.BaseTrainer):
    """Noether's boilerplate writes train_step as a staticmethod."""

    @staticmethod
    def train_step(batch, model):
        loss = F.cross_entropy(model(batch["x"]), batch["y"])
        return engine.TrainerResult(total_loss=loss, losses_to_log={"ce": loss})


class UnclearTrainer(engine.BaseTrainer):
    """A train_step whose parameter names do not say which is the batch."""

    def train_step(self, inputs, net):
        return F.cross_entropy(net(inputs["x"]), inputs["y"])


RESULTS: list = []
"""What OrderCallback received, per invocation."""


class OrderCallback(PeriodicDataIteratorCallback):
    """Hands back the inputs, a per-batch count and a tuple; saves them on the main process."""

    def process_data(self, batch, *, trainer_model):
        return {"x": batch["x"], "count": len(batch["x"]), "pair": (batch["y"], None)}

    def process_results(self, results, *, interval_type, update_counter, **_):
        RESULTS.append((interval_type, str(update_counter.cur_iteration), results))
        if self.run.is_main_process:
            torch.save(results["x"], self.run.run_dir / "order.th")


class KeywordHookCallback(PeriodicCallback):
    """Hooks with Noether's keyword-only signatures."""

    def before_training(self, *, update_counter):
        print(f"before_training at {update_counter.cur_iteration}")

    def periodic_callback(self, *, interval_type, update_counter, **kwargs):
        print(f"periodic_callback {interval_type} at {update_counter.cur_iteration} of {update_counter.end_iteration}")


class ResumingCallback(PeriodicCallback):
    """Defines a Noether hook the engine never calls."""

    def resume_from_checkpoint(self, resumption_paths, model):
        raise AssertionError("never called")


class AccumulationHookCallback(PeriodicCallback):
    """Noether's accumulation hook signature: records what it is called with."""

    def track_after_accumulation_step(self, *, update_counter, batch, losses, update_outputs, accumulation_steps,
                                      accumulation_step):
        RESULTS.append((str(update_counter.cur_iteration), len(batch["x"]), sorted(losses), accumulation_steps,
                        accumulation_step))


class TooManyArgumentsCallback(PeriodicCallback):
    """A periodic_callback the engine cannot call."""

    def periodic_callback(self, iteration, interval_type, extra):
        raise AssertionError("never called")
