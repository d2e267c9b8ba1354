"""Accuracy on a dataset: Noether's data-iterator callback."""

from noether.core.callbacks.periodic import PeriodicDataIteratorCallback


class AccuracyCallback(PeriodicDataIteratorCallback):
    def __init__(self, callback_config, **kwargs):
        super().__init__(callback_config=callback_config, **kwargs)
        self.dataset_key = callback_config.dataset_key

    def process_data(self, batch, **_):
        with self.trainer.autocast_context:
            logits = self.model(batch["x"])
        return {"y_hat": logits, "target": batch["y"].clone()}

    def process_results(self, results, **_):
        accuracy = (results["y_hat"].argmax(dim=1) == results["target"]).float().mean().item()
        self.writer.add_scalar(
            key=f"metrics/{self.dataset_key}/accuracy",
            value=accuracy,
            logger=self.logger,
            format_str=".6f",
        )
