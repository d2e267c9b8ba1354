"""The bundled example, end to end on the CPU: ``examples/poisson/train.yaml`` with a smaller problem trains, lowers
the loss and leaves everything a run promises in its directory."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import re

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

import engine
from engine.checkpoint import verified_files

ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "poisson" / "train.yaml"
OVERRIDES = ("accelerator=cpu", "datasets.train.num_samples=128", "datasets.val.num_samples=32", "grid_size=16",
             "trainer.max_epochs=5", "trainer.effective_batch_size=32", "trainer.max_batch_size=16",
             "trainer.track_every_n_updates=1")
"""On the CPU, 4 updates of 2 micro-batches per epoch for 5 epochs, on 16 x 16 grids."""


@pytest.fixture(scope="module")
def poisson_run(tmp_path_factory) -> engine.RunResult:
    """The example trained with ``OVERRIDES`` into a temporary output path."""
    output_path = tmp_path_factory.mktemp("poisson")
    return engine.run(EXAMPLE, [f"output_path={output_path}", *OVERRIDES])


def metrics(result: engine.RunResult) -> list[dict]:
    """The lines of the run's ``metrics.jsonl``."""
    return [json.loads(line) for line in (result.run_dir / "metrics.jsonl").read_text().splitlines()]


def test_the_run_result(poisson_run):
    """The result names a fresh run id, its directory under the output path, the end of the plan and the last
    value of every logged scalar."""
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_[0-9a-f]{4}", poisson_run.run_id)
    assert poisson_run.run_dir.name == poisson_run.run_id
    assert str(poisson_run.iteration) == "E5_U20_S640"
    last = {}
    for line in metrics(poisson_run):
        last.update(line)
    assert poisson_run.metrics == {key: value for key, value in last.items() if "/" in key}
    assert {"loss/val/total", "loss/online/total/U1", "optim/lr/surrogate/default"} <= set(poisson_run.metrics)


def test_the_loss_goes_down(poisson_run):
    """The validation loss after the last epoch is below the one after the first, and so is the mean training loss
    of the last epoch's updates (tracked every update) below the first epoch's."""
    lines = metrics(poisson_run)
    validation = [line["loss/val/total"] for line in lines if "loss/val/total" in line]
    training = [line["loss/online/total/U1"] for line in lines if "loss/online/total/U1" in line]
    assert (len(validation), len(training)) == (5, 20)
    assert validation[-1] < 0.95 * validation[0]
    assert sum(training[-4:]) < 0.95 * sum(training[:4])


def test_the_run_directory(poisson_run):
    """The run directory holds the resolved config (loadable again), the param groups, the metrics, the summary and
    the TensorBoard events with the validation loss at the epoch ends."""
    run_dir = poisson_run.run_dir
    assert {"config.yaml", "param_groups.txt", "metrics.jsonl", "summary.json", "runs", "checkpoints"} <= {
        path.name for path in run_dir.iterdir()}
    resolved = engine.load_config(run_dir / "config.yaml")
    assert type(resolved).__name__ == "PoissonConfigSchema"
    assert (resolved.run_id, resolved.accelerator, resolved.datasets["train"].num_samples) == (
        poisson_run.run_id, "cpu", 128)
    assert (run_dir / "param_groups.txt").read_text().startswith("# surrogate\n")
    accumulator = EventAccumulator(str(run_dir / "runs"))
    accumulator.Reload()
    assert [event.step for event in accumulator.Scalars("loss/val/total")] == [4, 8, 12, 16, 20]


def test_the_checkpoints(poisson_run):
    """The best model, the periodic checkpoint of epoch 5, ``latest`` and ``last`` are verified checkpoints; the
    best weights load into the example's model."""
    directory = poisson_run.run_dir / "checkpoints"
    for tag in ("best_model.loss.val.total", "E5_U20_S640", "latest", "last"):
        assert verified_files(directory / f"surrogate_cp={tag}_manifest.json") is not None, tag
    assert {path.name for path in directory.glob("surrogate_cp=E5_U20_S640_*")} == {
        f"surrogate_cp=E5_U20_S640_{part}" for part in ("model.th", "optim.th", "trainer.th", "manifest.json")}
    from examples.poisson.model import PoissonSurrogate

    resolved = engine.load_config(poisson_run.run_dir / "config.yaml")
    best = torch.load(directory / "surrogate_cp=best_model.loss.val.total_model.th", weights_only=True)
    PoissonSurrogate(resolved.model).load_state_dict(best["state_dict"])


def test_the_readme_screenshot_shows_three_curves(poisson_run):
    """The tag filter of the README's TensorBoard screenshot (``docs/make_tensorboard_screenshot.py``, applied as a
    JavaScript ``RegExp.test``, that is a search) keeps exactly the online and validation losses and the default
    group's learning rate of an example run, and the cards on a log scale are the two losses."""
    spec = importlib.util.spec_from_file_location("make_tensorboard_screenshot",
                                                  ROOT / "docs" / "make_tensorboard_screenshot.py")
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    accumulator = EventAccumulator(str(poisson_run.run_dir / "runs"))
    accumulator.Reload()
    shown = [tag for tag in accumulator.Tags()["scalars"] if re.search(script.TAG_FILTER, tag)]
    assert sorted(shown) == ["loss/online/total/U1", "loss/val/total", "optim/lr/surrogate/default"]
    assert [tag for tag in sorted(shown) if tag.startswith(script.LOG_SCALE_CARDS)] == sorted(shown)[:2]
