"""Fuzzing the config loader: every input ends in a config or a ``ConfigError``, within time and memory bounds.

The inputs (``fuzz_inputs.py``) are generated YAML documents, YAML-like text, random bytes, overrides, and
mutations of the bundled example configs; each goes through ``load_config``, ``compose`` and ``noether-check``
with ``CPU_SECONDS`` of CPU time and ``PEAK_BYTES`` of traced memory. ``benchmarks/fuzz_config.py`` runs the same
families with 10^4 inputs.
"""

from __future__ import annotations

import pathlib
import sys

import pytest
from hypothesis import HealthCheck, given, settings

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from fuzz_inputs import FAMILIES, FuzzInput, run_input, warm_up  # noqa: E402

EXAMPLES_PER_FAMILY = 40
"""Inputs per family in the test suite (the benchmark runs many more)."""

FUZZ_SETTINGS = settings(max_examples=EXAMPLES_PER_FAMILY, derandomize=True, database=None,
                         suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                                HealthCheck.data_too_large])


@pytest.fixture(scope="module", autouse=True)
def _warm() -> None:
    warm_up()


def _check(item: FuzzInput) -> None:
    outcome = run_input(item)
    assert outcome.kind in ("config", "error"), f"{outcome.kind}: {outcome.detail}\ninput: {item!r}"


@pytest.mark.parametrize("family", sorted(FAMILIES))
def test_every_input_ends_in_a_config_or_a_config_error(family: str) -> None:
    """Generated inputs of each family never escape as another exception, hang or exhaust memory."""

    @FUZZ_SETTINGS
    @given(FAMILIES[family])
    def check(item: FuzzInput) -> None:
        _check(item)

    check()


def test_the_bounds_catch_what_they_should() -> None:
    """The harness itself: an alias bomb is refused cleanly, and a real escape would be reported as one."""
    bomb = b"a: &a [x,x,x,x,x,x,x,x,x,x]\n" + b"".join(
        b"%c: &%c [%s]\n" % (98 + i, 98 + i, b", ".join([b"*%c" % (97 + i)] * 10)) for i in range(8))
    trivial = run_input(FuzzInput({"main.yaml": b"a: 1\n"}))
    outcome = run_input(FuzzInput({"main.yaml": bomb}))  # 10^9 nodes if expanded
    assert (outcome.kind, outcome.cpu_seconds < 0.5) == ("error", True)
    assert outcome.peak_bytes < trivial.peak_bytes + 1024 * 1024  # no more memory than a one-line file
    assert run_input(FuzzInput({"main.yaml": b"a: 1\n"}, overrides=("--help",))).kind == "error"
