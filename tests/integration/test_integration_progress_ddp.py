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
