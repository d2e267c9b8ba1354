"""The progress line's loss under DDP is the loss over every rank's samples, as one process with the whole batch
would print it."""

from __future__ import annotations

import re

from subprocess_runs import train

LOSS = re.compile(r"(E\d+/\d+ U\d+/\d+) \| loss (\S+)")


def test_the_progress_loss_is_the_all_rank_value(tmp_path):
    """Two gloo ranks with 8 samples each print, at every log point, the loss one process with 16 prints."""
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    single = train(tmp_path / "one", "single", 1)
    double = train(tmp_path / "two", "double", 2)
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr
    expected = LOSS.findall(single.stdout)
    assert [position for position, _ in expected] == ["E1/2 U4/8", "E2/2 U8/8"]
    assert LOSS.findall(double.stdout) == expected


def test_ema_metrics_under_ddp_equal_one_process(tmp_path):
    """An offline loss of the EMA weights (``model_info: ema=0.9``) under two gloo ranks, whose averages live on
    rank 0 and are broadcast for the evaluation, equals the one-process value at every interval."""
    import json

    callbacks = ("[{name: EmaCallback, target_factors: [0.9], every_n_updates: 4}, "
                 "{name: OfflineLossCallback, dataset_key: train, every_n_updates: 4, model_info: ema=0.9}]")
    for name in ("one", "two"):
        (tmp_path / name).mkdir()
    single = train(tmp_path / "one", "single", 1, callbacks=callbacks)
    double = train(tmp_path / "two", "double", 2, callbacks=callbacks)
    assert single.returncode == 0, single.stderr
    assert double.returncode == 0, double.stderr

    def ema_losses(directory, run_id):
        lines = (directory / "out" / run_id / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
        return {record["update"]: record["ema=0.9/loss/train/total"] for record in map(json.loads, lines)
                if "ema=0.9/loss/train/total" in record}

    one, two = ema_losses(tmp_path / "one", "single"), ema_losses(tmp_path / "two", "double")
    assert sorted(one) == sorted(two) == [4, 8]
    assert all(abs(two[update] - one[update]) <= 1e-6 * abs(one[update]) for update in one)
