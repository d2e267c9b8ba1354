"""Make the repository root importable (the bundled ``examples`` package is not installed) and run torch
single-threaded while these tests run."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator

import pytest
import torch

REPO = pathlib.Path(__file__).resolve().parents[2]
"""The repository root."""
HERE = pathlib.Path(__file__).resolve().parent
"""This directory: ``subprocess_runs`` and ``ddp_components`` are imported from here."""
for path in (REPO, HERE):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))


@pytest.fixture(autouse=True, scope="session")
def single_threaded_torch() -> Iterator[None]:
    """One intra-op thread: the models here are tiny, and on a busy 2-core machine torch's thread pool spends more
    time spinning than computing."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
