"""Checkpoint save and load: the crash-consistent path of ``engine.checkpoint`` beside bare ``torch.save`` /
``torch.load`` of the same content, to the same disk, in the same run.

For models of 1e5, 1e6 and 1e7 float32 parameters (a weights file as ``CheckpointWriter`` writes it: a
``state_dict`` of 10 equal tensors plus the tag, iteration and run id), measured in turn, ``--repeats`` times,
medians:

* ``torch.save`` to the final path (torch's defaults, no fsync: what a plain training script does), and
  ``torch.save`` + ``fsync``, for context only: what durability would add (``save_checkpoint`` does not
  fsync, see ``engine/checkpoint.py``);
* ``save_checkpoint``: ``torch.save`` into a temporary name through a writer that computes the file's CRC-32
  as the bytes go out (torch's own per-record CRC switched off for that save), rename, then the manifest
  (JSON with the CRC-32) written to a temporary name and renamed, last;
* ``torch.load(weights_only=True)`` and ``find_checkpoint(..., "latest")`` + ``load_part`` (manifest read,
  CRC-32 of the file in 1 MiB chunks, load). Loads read from the page cache (the file was just written;
  dropping the cache needs root), so they measure the CPU cost, not the disk.

Then a breakdown of one ``save_checkpoint`` into its steps (``torch.save`` with the streamed CRC into the
temporary file, rename, manifest), to show where the time goes. Target: verified atomic save at most 1.3x
bare ``torch.save``.

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_checkpoint.py [--quick] [--repeats 9] [--dir PATH]``.
A script, not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

from engine import checkpoint  # noqa: E402
from engine.checkpoint import file_stem, find_checkpoint, load_part, save_checkpoint  # noqa: E402
from noether.core.training import TrainingIteration  # noqa: E402

SIZES = (100_000, 1_000_000, 10_000_000)
TENSORS = 10
ITERATION = TrainingIteration(3, 120, 3840)
TARGET = 1.3


def content(parameters: int) -> dict:
    """A weights file as ``CheckpointWriter`` writes it, with ``parameters`` float32 values."""
    generator = torch.Generator().manual_seed(0)
    per_tensor = parameters // TENSORS
    state = {f"layers.{index}.weight": torch.randn(per_tensor, generator=generator) for index in range(TENSORS)}
    return {"state_dict": state, "checkpoint_tag": "latest", "training_iteration": ITERATION.as_dict(),
            "run_id": "bench", "model_config": None}


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def bare_save(data: dict, path: pathlib.Path) -> None:
    torch.save(data, path)


def bare_save_fsync(data: dict, path: pathlib.Path) -> None:
    with open(path, "wb") as file:
        torch.save(data, file)
        file.flush()
        os.fsync(file.fileno())


def verified_save(data: dict, directory: pathlib.Path) -> None:
    stem = file_stem("bench", "latest")
    save_checkpoint(directory, stem, {f"{stem}_model.th": data}, ITERATION)


def bare_load(path: pathlib.Path) -> None:
    torch.load(path, map_location="cpu", weights_only=True)


def verified_load(directory: pathlib.Path) -> None:
    files = find_checkpoint(directory, "bench", "latest")
    load_part(files[f"{file_stem('bench', 'latest')}_model.th"])


def breakdown(data: dict, directory: pathlib.Path) -> dict[str, float]:
    """One ``save_checkpoint``, step by step, with the module's own helpers (seconds)."""
    steps: dict[str, float] = {}
    name = "breakdown_cp=latest_model.th"
    temporary = directory / f".{name}.tmp"
    start = time.perf_counter()
    crc = checkpoint._save_and_checksum(data, temporary)
    steps["torch.save + streamed CRC to temp"] = time.perf_counter() - start
    start = time.perf_counter()
    checkpoint._move_into_place(temporary, directory / name)
    steps["move into place"] = time.perf_counter() - start
    start = time.perf_counter()
    record = {"iteration": str(ITERATION), "checksum": checkpoint.CHECKSUM, "files": {name: crc}}
    checkpoint._write_atomically(directory / f"breakdown_cp=latest{checkpoint.MANIFEST_SUFFIX}",
                                 (json.dumps(record, indent=2) + "\n").encode())
    steps["manifest (temp + rename)"] = time.perf_counter() - start
    return steps


def measure(parameters: int, directory: pathlib.Path, repeats: int) -> dict[str, object]:
    data = content(parameters)
    bare_path = directory / "bare.th"
    verified_dir = directory / "checkpoints"
    breakdown_dir = directory / "breakdown"
    breakdown_dir.mkdir()
    operations = {
        "torch.save": lambda: bare_save(data, bare_path),
        "torch.save + fsync": lambda: bare_save_fsync(data, bare_path),
        "save_checkpoint": lambda: verified_save(data, verified_dir),
        "torch.load": lambda: bare_load(bare_path),
        "find_checkpoint + load_part": lambda: verified_load(verified_dir),
    }
    for action in operations.values():  # warm up: allocate the files, import lazily loaded modules
        action()
    breakdown(data, breakdown_dir)
    times: dict[str, list[float]] = {name: [] for name in operations}
    steps: dict[str, list[float]] = {}
    for repeat in range(repeats):
        names = list(operations)
        names = names[repeat % len(names):] + names[:repeat % len(names)]  # rotate: no operation always first
        for name in names:
            times[name].append(timed(operations[name]))
        for step, seconds in breakdown(data, breakdown_dir).items():
            steps.setdefault(step, []).append(seconds)
    bare_size = bare_path.stat().st_size
    verified_files = [path for path in verified_dir.iterdir() if not path.name.startswith(".")]
    return {"median": {name: statistics.median(values) for name, values in times.items()},
            "steps": {name: statistics.median(values) for name, values in steps.items()},
            "bare_size": bare_size, "verified_size": sum(path.stat().st_size for path in verified_files)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repeats, sizes 1e5 and 1e6 only")
    parser.add_argument("--repeats", type=int, default=None, help="repetitions per operation (default 9)")
    parser.add_argument("--dir", type=pathlib.Path, default=None, help="where to write (default: a temp dir)")
    arguments = parser.parse_args()
    repeats = arguments.repeats or (3 if arguments.quick else 9)
    sizes = SIZES[:2] if arguments.quick else SIZES
    torch.set_num_threads(1)
    root = pathlib.Path(tempfile.mkdtemp(prefix="bench_checkpoint_", dir=arguments.dir))
    print(f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs, "
          f"writing to {root} ({repeats} repeats, medians)\n")
    results = {}
    try:
        for parameters in sizes:
            directory = root / str(parameters)
            directory.mkdir()
            results[parameters] = measure(parameters, directory, repeats)
    finally:
        shutil.rmtree(root, ignore_errors=True)

    print("| parameters | file MB | torch.save ms | torch.save + fsync ms | save_checkpoint ms | "
          "ratio vs torch.save | torch.load ms | verified load ms | load ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for parameters, result in results.items():
        median = result["median"]
        save, save_fsync, verified = median["torch.save"], median["torch.save + fsync"], median["save_checkpoint"]
        load, verified_load_time = median["torch.load"], median["find_checkpoint + load_part"]
        print(f"| {parameters:.0e} | {result['bare_size'] / 1e6:.2f} | {save * 1e3:.2f} | {save_fsync * 1e3:.2f} | "
              f"{verified * 1e3:.2f} | {verified / save:.2f}x | {load * 1e3:.2f} | "
              f"{verified_load_time * 1e3:.2f} | {verified_load_time / load:.2f}x |")
    print("\nfile sizes: verified checkpoint = weights file + manifest: "
          + ", ".join(f"{p:.0e}: +{r['verified_size'] - r['bare_size']} bytes" for p, r in results.items()))
    print("\nwhere one save_checkpoint spends its time (ms, medians):\n")
    step_names = list(next(iter(results.values()))["steps"])
    print("| parameters | " + " | ".join(step_names) + " |")
    print("|---:|" + "---:|" * len(step_names))
    for parameters, result in results.items():
        print(f"| {parameters:.0e} | " + " | ".join(f"{result['steps'][name] * 1e3:.2f}" for name in step_names) + " |")
    worst = max(r["median"]["save_checkpoint"] / r["median"]["torch.save"] for r in results.values())
    print(f"\ntarget: verified atomic save at most {TARGET}x bare torch.save: "
          + ("met" if worst <= TARGET else "NOT met") + f" (worst {worst:.2f}x)")


if __name__ == "__main__":
    main()
