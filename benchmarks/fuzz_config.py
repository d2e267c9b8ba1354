"""Fuzz run: 10^4 generated inputs through ``load_config``, ``compose`` and ``noether-check``.

Not a test: it prints one line per input family and a summary line
``fuzz_config: N inputs, E escapes, H hangs, B blow-ups, S s`` (an *escape* is an exception other than
``ConfigError``, a *hang* an input over ``CPU_SECONDS`` of CPU time or ``WALL_SECONDS`` of wall time, a *blow-up*
a ``MemoryError`` under the address-space limit set here or resident memory growing by more than
``RSS_GROWTH_BYTES`` during one input), then the first few failing inputs of each kind. The families and the
check are those of ``tests/noether/core/config/test_fuzz.py`` (``fuzz_inputs.py``), with many more inputs and
without ``tracemalloc`` (which would triple the run time).

Run: ``.venv/bin/python benchmarks/fuzz_config.py [--inputs 10000] [--seed 0]``.
"""

from __future__ import annotations

import argparse
import collections
import pathlib
import resource
import sys
import time
import warnings

from hypothesis import Phase, given, seed, settings, HealthCheck

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1] / "tests" / "noether" / "core" / "config"))
from fuzz_inputs import FAMILIES, Outcome, run_input, warm_up  # noqa: E402

RSS_GROWTH_BYTES = 512 * 1024 * 1024
"""Resident-memory growth during one input that counts as a blow-up."""
ADDRESS_SPACE_HEADROOM = 4 * 1024 * 1024 * 1024
"""Address space allowed above what the process maps after warming up; beyond it allocations fail."""


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * resource.getpagesize()


def _mapped() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * resource.getpagesize()


def run_family(name: str, count: int, random_seed: int) -> list[tuple[object, Outcome]]:
    """Run ``count`` inputs of one family; return every input with its outcome."""
    results: list[tuple[object, Outcome]] = []

    @seed(random_seed)
    @settings(max_examples=count, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(FAMILIES[name])
    def one(item: object) -> None:
        before = _rss()
        outcome = run_input(item, trace_memory=False)
        if outcome.kind in ("config", "error") and _rss() - before > RSS_GROWTH_BYTES:
            outcome = Outcome("blowup", f"resident memory grew by {(_rss() - before) >> 20} MiB", outcome.cpu_seconds)
        results.append((item, outcome))

    one()
    return results


def main() -> None:
    """Run the families, print a line per family and the summary line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000, help="inputs in all, spread over the families")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    warm_up()
    limit = _mapped() + ADDRESS_SPACE_HEADROOM
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.getrlimit(resource.RLIMIT_AS)[1]))
    names = sorted(FAMILIES)
    shares = [args.inputs // len(names) + (index < args.inputs % len(names)) for index in range(len(names))]
    start = time.perf_counter()
    failures: dict[str, list[tuple[object, Outcome]]] = collections.defaultdict(list)
    total = collections.Counter()
    print(f"{'family':<16}{'inputs':>8}{'configs':>9}{'errors':>8}{'escapes':>9}{'hangs':>7}{'blow-ups':>10}"
          f"{'max CPU s':>11}")
    for name, share in zip(names, shares):
        results = run_family(name, share, args.seed)
        counts = collections.Counter(outcome.kind for _, outcome in results)
        total.update(counts)
        total["inputs"] += len(results)
        for item, outcome in results:
            if outcome.kind not in ("config", "error"):
                failures[outcome.kind].append((item, outcome))
        slowest = max((outcome.cpu_seconds for _, outcome in results), default=0.0)
        print(f"{name:<16}{len(results):>8}{counts['config']:>9}{counts['error']:>8}{counts['escape']:>9}"
              f"{counts['hang']:>7}{counts['blowup']:>10}{slowest:>11.3f}")
    seconds = time.perf_counter() - start
    for kind, items in failures.items():
        for item, outcome in items[:3]:
            print(f"{kind}: {outcome.detail}\n  input: {item!r}"[:2000])
    print(f"fuzz_config: {total['inputs']} inputs, {total['escape']} escapes, {total['hang']} hangs, "
          f"{total['blowup']} blow-ups, {seconds:.0f} s")


if __name__ == "__main__":
    main()
