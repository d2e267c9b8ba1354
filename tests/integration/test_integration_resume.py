"""A run killed with SIGKILL and resumed from its latest checkpoint ends bit-for-bit like an uninterrupted run."""

from __future__ import annotations

import json
import pathlib
import random
import signal

import pytest
import torch

from subprocess_runs import train, weights

CHECKPOINT_EVERY_UPDATE = "[{name: CheckpointCallback, every_n_updates: 1, save_weights: false}]"
KILLER = "{kind: ddp_components.KillingCallback, every_n_updates: 1}"


def losses(run_dir: pathlib.Path) -> dict[int, float]:
    """Update -> logged online loss of a run."""
    found = {}
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        for key, value in record.items():
            if key.startswith("loss/online/total/"):
                found[record["update"]] = value
    return found


def optimizer_state(tmp_path: pathlib.Path, run_id: str) -> dict:
    """The AdamW state saved with the run's latest checkpoint."""
    return torch.load(tmp_path / "out" / run_id / "checkpoints" / "mlp_cp=latest_optim.th", weights_only=True)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_sigkill_then_resume_is_bit_exact(tmp_path: pathlib.Path, num_workers: int) -> None:
    """Killed during a random update's callbacks (shuffled data, dropout-free MLP, AdamW), resumed from latest:
    equal weights, optimizer state and online losses of every update after the resume point."""
    kill_at = random.Random(num_workers).randrange(2, 8)
    common = (f"num_workers={num_workers}", "trainer.track_every_n_updates=1")
    full = train(tmp_path, "full", 1, *common, callbacks=CHECKPOINT_EVERY_UPDATE)
    assert full.returncode == 0, full.stderr
    callbacks = CHECKPOINT_EVERY_UPDATE[:-1] + ", " + KILLER + "]"
    killed = train(tmp_path, "killed", 1, *common, callbacks=callbacks, environment={"KILL_AT_UPDATE": str(kill_at)})
    assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stderr)
    resumed = train(tmp_path, "resumed", 1, *common, "resume_run_id=killed", callbacks=CHECKPOINT_EVERY_UPDATE)
    assert resumed.returncode == 0, resumed.stderr
    # the kill comes from a callback of update kill_at, before that update's checkpoint (written once all of its
    # callbacks ran): the resume starts from the previous update's
    resumed_at = kill_at - 1
    assert f"resuming killed at E{resumed_at // 4}_U{resumed_at}_S{resumed_at * 16}" in resumed.stdout
    assert all(torch.equal(a, b) for a, b in zip(weights(tmp_path, "full").values(), weights(tmp_path, "resumed").values()))
    full_state, resumed_state = optimizer_state(tmp_path, "full"), optimizer_state(tmp_path, "resumed")
    for index, state in full_state["state"].items():
        assert all(torch.equal(value, resumed_state["state"][index][key]) for key, value in state.items())
    full_losses, resumed_losses = losses(tmp_path / "out" / "full"), losses(tmp_path / "out" / "resumed")
    assert sorted(resumed_losses) == list(range(resumed_at + 1, 9))
    assert {update: full_losses[update] for update in resumed_losses} == resumed_losses


def test_a_torn_latest_falls_back_to_the_previous_checkpoint(tmp_path: pathlib.Path) -> None:
    """A latest checkpoint whose file does not match its manifest (a crash mid-write) is skipped with a warning
    naming it; the resume continues from the newest verified checkpoint."""
    result = train(tmp_path, "source", 1, callbacks="[{name: CheckpointCallback, every_n_updates: 2, save_optim: true}]")
    assert result.returncode == 0, result.stderr
    checkpoints = tmp_path / "out" / "source" / "checkpoints"
    torn = checkpoints / "mlp_cp=latest_model.th"
    payload = bytearray(torn.read_bytes())
    payload[-1] ^= 0xFF
    torn.write_bytes(bytes(payload))
    resumed = train(tmp_path, "resumed", 1, "resume_run_id=source", "trainer.max_epochs=3")
    assert resumed.returncode == 0, resumed.stderr
    assert "mlp_cp=latest_model.th" in resumed.stderr
    assert "resuming source at E2_U8_S128" in resumed.stdout  # the last periodic checkpoint (E2_U8_S128) verifies


@pytest.mark.parametrize(("name", "status", "extra"), [("SIGTERM", 143, ()), ("SIGINT", 130, ("trainer.save_on_sigint=true",))])
def test_a_stop_signal_finishes_the_update_and_resumes_exactly(tmp_path: pathlib.Path, name: str, status: int,
                                                               extra: tuple[str, ...]) -> None:
    """SIGTERM (or SIGINT with save_on_sigint) after update 5 ends the run after that update with exit 143 (130),
    a resumable latest checkpoint and after_training run (the CheckpointCallback wrote 'last'); resuming it gives
    the weights of an uninterrupted run."""
    callbacks = "[{name: CheckpointCallback, every_n_epochs: 1}, {kind: ddp_components.TerminatingCallback, every_n_updates: 1}]"
    environment = {"TERMINATE_RANK": "0", "TERMINATE_AT_UPDATE": "5", "TERMINATE_SIGNAL": name}
    stopped = train(tmp_path, "stopped", 1, *extra, callbacks=callbacks, environment=environment)
    assert stopped.returncode == status, stopped.stderr
    assert f"stopped by {name} at E1_U5_S80; resumable checkpoint 'latest'" in stopped.stdout
    assert f"received {name}: stopping after the current update" in stopped.stderr
    names = sorted(path.name for path in (tmp_path / "out" / "stopped" / "checkpoints").glob("*manifest.json"))
    assert names == ["mlp_cp=E1_U4_S64_manifest.json", "mlp_cp=last_manifest.json", "mlp_cp=latest_manifest.json"]
    resumed = train(tmp_path, "resumed", 1, "resume_run_id=stopped")
    assert resumed.returncode == 0, resumed.stderr
    uninterrupted = train(tmp_path, "uninterrupted", 1)
    assert uninterrupted.returncode == 0, uninterrupted.stderr
    assert all(torch.equal(a, b) for a, b in zip(weights(tmp_path, "resumed").values(), weights(tmp_path, "uninterrupted").values()))


def test_resume_from_a_tag_that_does_not_exist_lists_the_tags(tmp_path: pathlib.Path) -> None:
    """A resume tag that does not exist is one error line listing the tags that do."""
    result = train(tmp_path, "source", 1, callbacks="[{name: CheckpointCallback, every_n_epochs: 1}]")
    assert result.returncode == 0, result.stderr
    missing = train(tmp_path, "again", 1, "resume_run_id=source", "resume_checkpoint=E7")
    assert missing.returncode == 2
    assert missing.stderr.splitlines()[-1] == ("resume_checkpoint: no verified checkpoint 'E7' to resume from "
                                              "(available: E1_U4_S64, E2_U8_S128, last, latest)")


def test_unsafe_change_on_resume_is_refused(tmp_path: pathlib.Path) -> None:
    """Changing the optimizer kind on resume is refused with the difference; the schedule change is printed."""
    result = train(tmp_path, "source", 1)
    assert result.returncode == 0, result.stderr
    refused = train(tmp_path, "again", 1, "resume_run_id=source", "model.optimizer_config.kind=torch.optim.SGD",
                    "trainer.max_epochs=3")
    assert refused.returncode == 2
    assert refused.stderr.splitlines()[-1] == (
        "model.optimizer_config.kind: differs from the run being resumed ('torch.optim.AdamW' -> 'torch.optim.SGD'); "
        "the stored weights or optimizer state may not fit: resume with --allow-unsafe-resume "
        "(engine.run(..., allow_unsafe_resume=True)) to accept it  [override 3 "
        "'model.optimizer_config.kind=torch.optim.SGD']")
    accepted = train(tmp_path, "again", 1, "resume_run_id=source", "trainer.max_epochs=3")
    assert accepted.returncode == 0, accepted.stderr
    assert "schedule-changing changes:\n  trainer.max_epochs: 2 -> 3" in accepted.stdout
