"""Host reads of tensor values per update of ``engine.run`` on the overhead benchmark's MLP (width 32, CPU).

On a GPU each such read (``.item()``, ``.cpu()``, ``.tolist()``, ``bool(tensor)``, ...) waits for the device's
queue to drain. Counted on the CPU with ``tests/integration/host_reads.HostReads`` (every Python entry point of such
a read patched, filed under the update in which it ran), less the reads of tensors that live on the host in
every run (``HOST_ONLY`` of ``tests/integration/test_integration_host_syncs.py``: torch's optimizer step counts,
the sampler's permutation). Printed: reads per update over the run (the last update, which also holds the
end-of-run work, left out) and per quiet update (no logging in it, first and last left out).

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_host_reads.py [--updates 400]``. Not a test.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
import shutil
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "tests" / "integration"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

import attrs  # noqa: E402
import torch  # noqa: E402

import engine  # noqa: E402
from benchmarks.bench_engine_overhead import BATCH, engine_config  # noqa: E402
from host_reads import HostReads  # noqa: E402
from test_integration_host_syncs import HOST_ONLY  # noqa: E402

VARIANTS = {
    "defaults": {},
    "skip_nan_loss": {"skip_nan_loss": True},
    "skip_nan_loss, micro-batches of 16": {"skip_nan_loss": True, "max_batch_size": 16},
    "logging every update": {"log_every_n_updates": 1, "track_every_n_updates": 1},
}


def count(updates: int, changes: dict, output: pathlib.Path) -> tuple[float, float, int]:
    """(reads per update, reads per quiet update, log interval) of one run."""
    config = engine_config(32, updates, BATCH * 200, output)
    config = attrs.evolve(config, trainer=attrs.evolve(config.trainer, **changes))
    reads = HostReads()
    reads.install()
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            result = engine.run(config)
    finally:
        reads.uninstall()
    shutil.rmtree(result.run_dir)
    per_update = [[read for read in window if read[1] not in HOST_ONLY] for window in reads.updates]
    every = changes.get("log_every_n_updates", 25)
    quiet = [window for index, window in enumerate(per_update[:-1]) if index > 0 and (index + 1) % every]
    counted = per_update[:-1]
    return (sum(map(len, counted)) / len(counted), sum(map(len, quiet)) / max(len(quiet), 1), every)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=400)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"torch {torch.__version__}; {args.updates} updates of {BATCH}, MLP width 32, AdamW, CPU\n")
    print("| configuration | host reads per update | per quiet update |")
    print("|---|---:|---:|")
    with tempfile.TemporaryDirectory() as directory:
        for name, changes in VARIANTS.items():
            overall, quiet, every = count(args.updates, changes, pathlib.Path(directory))
            print(f"| {name} | {overall:.2f} | {quiet:.2f}{'' if every > 1 else ' (every update logs)'} |")


if __name__ == "__main__":
    main()
