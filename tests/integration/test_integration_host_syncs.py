"""No host read of a tensor value between log intervals (DESIGN.md section 6): on a GPU each one would wait for the
device's queue to drain. Counted on the CPU by patching every Python entry point of such a read
(``host_reads.HostReads``), per update, in updates that log nothing, excluding the first (a fresh optimizer's
state cannot be un-created, so a non-finite first update is decided on the host) and the last (end-of-run work)."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

import engine
from subprocess_runs import CONFIG, train

UPDATES = 20
LOG_EVERY = 5
RECORDER = "[{kind: host_reads.HostReadRecorder, every_n_updates: 1000}]"
LENGTH = ["~trainer.max_epochs", f"+trainer.max_updates={UPDATES}", f"trainer.log_every_n_updates={LOG_EVERY}",
          f"+trainer.track_every_n_updates={LOG_EVERY}"]
"""20 updates of 16 samples, every default callback logging (and printing) every 5 updates."""

CONTROL = ("Tensor.tolist", "engine/distributed.py:max_each_over_processes")
"""The one read a multi-process update makes: the all-reduced (stop, signal) flags, two Python ints that every
rank contributes from the host. They travel in a CPU tensor over gloo (also beside nccl), so reading them never
touches a device."""


HOST_ONLY = {
    "optim/optimizer.py:_get_value": "torch's optimizers read their step count, a CPU tensor also in a CUDA run "
                                     "(unless capturable or fused); a hand-written loop makes the same read",
    "data/sampler.py:epoch_indices": "the sampler draws each epoch's permutation with a CPU generator",
}
"""Reads of tensors that live in host memory in every run, also on a GPU, so they never wait for a device."""


def quiet_updates(updates: list) -> dict[int, list]:
    """The reads of every update that is not a log update, not the first and not the last (0-based index), less
    the reads of host-only tensors (``HOST_ONLY``)."""
    return {index: [read for read in reads if read[1] not in HOST_ONLY] for index, reads in enumerate(updates)
            if 0 < index < len(updates) - 1 and (index + 1) % LOG_EVERY}


def run_in_process(tmp_path: pathlib.Path, *overrides: str) -> list:
    """One run in this process with the read recorder; its per-update reads."""
    config = tmp_path / "train.yaml"
    config.write_text(CONFIG.format(output=tmp_path / "out", callbacks=RECORDER))
    result = engine.run(str(config), overrides=[*LENGTH, "run_id=counted", *overrides])
    assert result.iteration.update == UPDATES
    return json.loads((result.run_dir / "host_reads.rank0.json").read_text())


VARIANTS = {
    "defaults": [],
    "skip_nan_loss": ["trainer.skip_nan_loss=true"],
    "accumulation": ["trainer.max_batch_size=6"],
    "skip_nan_loss with accumulation": ["trainer.skip_nan_loss=true", "trainer.max_batch_size=6"],
    "skip_nan_loss, fused AdamW": ["trainer.skip_nan_loss=true", "+model.optimizer_config.optimizer_kwargs={fused: true}"],
    "skip_nan_loss, SGD with momentum": ["trainer.skip_nan_loss=true", "model.optimizer_config.kind=torch.optim.SGD",
                                         "model.optimizer_config.weight_decay=0",
                                         "+model.optimizer_config.optimizer_kwargs={momentum: 0.9}"],
}


@pytest.mark.parametrize("overrides", VARIANTS.values(), ids=VARIANTS.keys())
def test_updates_between_log_intervals_read_nothing_on_the_host(tmp_path, overrides):
    """With the defaults, ``skip_nan_loss``, accumulation (6, 6, 4) and both, no update between two log intervals
    reads a tensor value on the host."""
    updates = run_in_process(tmp_path, *overrides)
    assert len(updates) == UPDATES
    quiet = quiet_updates(updates)
    assert len(quiet) == 15
    assert {index: reads for index, reads in quiet.items() if reads} == {}


def test_log_updates_read_once_per_logging_callback(tmp_path):
    """A log update reads the online loss once (every name and the item count in one read) and the progress line's
    loss once: the reads are per interval, not per micro-batch."""
    updates = run_in_process(tmp_path, "trainer.skip_nan_loss=true", "trainer.max_batch_size=6")
    reads = sorted(where for _, where in updates[2 * LOG_EVERY - 1] if where not in HOST_ONLY)
    assert reads == ["callbacks/defaults.py:periodic_callback", "callbacks/online_loss.py:periodic_callback",
                     "engine/nonfinite.py:check_skipped"]


def test_non_finite_updates_are_skipped_without_a_host_read(tmp_path, monkeypatch):
    """NaN losses in updates 3 and 7 (one micro-batch of three each) are skipped with no host read in those
    updates either, and the run ends."""
    monkeypatch.setenv("NAN_MICRO_BATCHES", "7,22")  # update 2's second and update 7's second micro-batch
    updates = run_in_process(tmp_path, "trainer.kind=host_reads.NanMseTrainer", "trainer.skip_nan_loss=true",
                             "trainer.max_batch_size=6")
    quiet = quiet_updates(updates)
    assert 2 in quiet and 7 in quiet
    assert {index: reads for index, reads in quiet.items() if reads} == {}


@pytest.mark.parametrize("overrides", [[], ["trainer.skip_nan_loss=true", "trainer.max_batch_size=6"]],
                         ids=["defaults", "skip_nan_loss with accumulation"])
def test_two_process_updates_read_only_the_stop_flags(tmp_path, overrides):
    """Under two gloo processes each quiet update makes exactly one host read, of the host-side stop flags
    (``CONTROL``), on both ranks; nothing reads a tensor computed by the model."""
    result = train(tmp_path, "ddp", 2, *LENGTH, *overrides, callbacks=RECORDER)
    assert result.returncode == 0, result.stderr
    for rank in (0, 1):
        updates = json.loads((tmp_path / "out" / "ddp" / f"host_reads.rank{rank}.json").read_text())
        assert len(updates) == UPDATES
        quiet = quiet_updates(updates)
        assert {index: reads for index, reads in quiet.items() if [tuple(read) for read in reads] != [CONTROL]} == {}
