"""Make ``engine_components`` (the tiny user components the engine tests name by kind) importable in any
pytest import mode, and run torch single-threaded while these tests run."""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Iterator

import pytest
import torch

HERE = str(pathlib.Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


@pytest.fixture(autouse=True, scope="session")
def single_threaded_torch() -> Iterator[None]:
    """One intra-op thread: the tensors here are tiny, and on a busy 2-core machine torch's thread pool turns a
    0.1 ms backward pass into 25 ms of spinning."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


collect_ignore = ["data/noether_project"]
"""A project written for Noether (its imports exist only after ``noether-migrate``): data, not test modules."""
