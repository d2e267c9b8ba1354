"""Checkpoint save and load: the crash-consistent path of ``engine.checkpoint`` beside bare ``torch.save`` /
``torch.load`` of the same content, to the same disk, in the same run.

For models of 1e5, 1e6 and 1e7 float32 parameters (a weights file as ``CheckpointWriter`` writes it: a
``state_dict`` of 10 equal tensors plus the tag, iteration and run id), measured in turn, ``--repeats`` times,
medians:

* ``torch.save`` to the final path (no fsync: what a plain training script does), and ``torch.save`` +
  ``fsync`` (the durability the verified path adds, by itself);
* ``save_checkpoint`` (``torch.save`` to a temporary name, fsync overlapped with the SHA-256 read back from
  the page cache, rename, then the manifest the same way and an fsync of the directory), and the previous
  implementation (serialise into a ``BytesIO``, copy, write, fsync, hash the bytes) for comparison;
* ``torch.load(weights_only=True)`` and ``find_checkpoint(..., "latest")`` + ``load_part`` (manifest read,
  SHA-256 of the file, load). Loads read from the page cache (the file was just written; dropping the cache
  needs root), so they measure the CPU cost, not the disk.

Then a breakdown of one verified save into its steps (serialise, hash, write, fsync, rename, manifest), to
show where the time goes. Target: verified atomic save at most 1.3x bare ``torch.save``.

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_checkpoint.py [--quick] [--repeats 9] [--dir PATH]``.
A script, not a test: it never fails on a timing.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import pathlib
import platform
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

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


def previous_save(data: dict, directory: pathlib.Path) -> None:
    """``save_checkpoint`` before this benchmark: serialise into a ``BytesIO``, copy it out, write, fsync,
    hash the bytes (kept to show what the change bought)."""
    stem = file_stem("bench", "previous")
    buffer = io.BytesIO()
    torch.save(data, buffer)
    payload = buffer.getvalue()
    _write_synced(directory / f"{stem}_model.th", payload)
    digest = hashlib.sha256(payload).hexdigest()
    _write_synced(directory / f"{stem}_manifest.json", f'{{"files": {{"x": "{digest}"}}}}\n'.encode())
    _fsync(directory, os.O_RDONLY)


def _write_synced(path: pathlib.Path, payload: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    with open(temporary, "wb") as file:
        file.write(payload)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)


def _fsync(path: pathlib.Path, flags: int = os.O_RDWR) -> None:
    descriptor = os.open(path, flags)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _sha256(path: pathlib.Path) -> str:
    with open(path, "rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def breakdown(data: dict, directory: pathlib.Path) -> dict[str, float]:
    """One verified save, step by step, each step alone (seconds): what ``save_checkpoint`` overlaps (fsync and
    hashing) is timed apart here, then together."""
    steps: dict[str, float] = {}
    temporary = directory / ".breakdown.th.tmp"
    start = time.perf_counter()
    torch.save(data, temporary)
    steps["torch.save to temp file"] = time.perf_counter() - start
    start = time.perf_counter()
    digest = _sha256(temporary)
    steps["sha256 (read back)"] = time.perf_counter() - start
    start = time.perf_counter()
    _fsync(temporary)
    steps["fsync file"] = time.perf_counter() - start
    torch.save(data, temporary)
    start = time.perf_counter()
    flusher = threading.Thread(target=_fsync, args=(temporary,))
    flusher.start()
    _sha256(temporary)
    flusher.join()
    steps["fsync with sha256 overlapped"] = time.perf_counter() - start
    start = time.perf_counter()
    os.replace(temporary, directory / "breakdown.th")
    _write_synced(directory / "breakdown_manifest.json", f'{{"files": {{"breakdown.th": "{digest}"}}}}\n'.encode())
    _fsync(directory, os.O_RDONLY)
    steps["rename + manifest + fsync dir"] = time.perf_counter() - start
    return steps


def measure(parameters: int, directory: pathlib.Path, repeats: int) -> dict[str, object]:
    data = content(parameters)
    bare_path = directory / "bare.th"
    verified_dir = directory / "checkpoints"
    operations = {
        "torch.save": lambda: bare_save(data, bare_path),
        "torch.save + fsync": lambda: bare_save_fsync(data, bare_path),
        "save_checkpoint": lambda: verified_save(data, verified_dir),
        "previous save_checkpoint": lambda: previous_save(data, directory),
        "torch.load": lambda: bare_load(bare_path),
        "find_checkpoint + load_part": lambda: verified_load(verified_dir),
    }
    for action in operations.values():  # warm up: allocate the files, import lazily loaded modules
        action()
    times: dict[str, list[float]] = {name: [] for name in operations}
    steps: dict[str, list[float]] = {}
    for repeat in range(repeats):
        names = list(operations)
        names = names[repeat % len(names):] + names[:repeat % len(names)]  # rotate: no operation always first
        for name in names:
            times[name].append(timed(operations[name]))
        for step, seconds in breakdown(data, directory).items():
            steps.setdefault(step, []).append(seconds)
    bare_size = bare_path.stat().st_size
    verified_size = sum(path.stat().st_size for path in verified_dir.iterdir() if not path.name.startswith("."))
    return {"median": {name: statistics.median(values) for name, values in times.items()},
            "steps": {name: statistics.median(values) for name, values in steps.items()},
            "bare_size": bare_size, "verified_size": verified_size}


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

    print("| parameters | file MB | torch.save ms | + fsync ms | save_checkpoint ms | ratio vs torch.save | "
          "ratio vs + fsync | previous save_checkpoint ms | torch.load ms | verified load ms | load ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for parameters, result in results.items():
        median = result["median"]
        save, save_fsync, verified = median["torch.save"], median["torch.save + fsync"], median["save_checkpoint"]
        load, verified_load_time = median["torch.load"], median["find_checkpoint + load_part"]
        print(f"| {parameters:.0e} | {result['bare_size'] / 1e6:.2f} | {save * 1e3:.2f} | {save_fsync * 1e3:.2f} | "
              f"{verified * 1e3:.2f} | {verified / save:.2f}x | {verified / save_fsync:.2f}x | "
              f"{median['previous save_checkpoint'] * 1e3:.2f} | {load * 1e3:.2f} | "
              f"{verified_load_time * 1e3:.2f} | {verified_load_time / load:.2f}x |")
    print("\nfile sizes: verified checkpoint = weights file + manifest: "
          + ", ".join(f"{p:.0e}: +{r['verified_size'] - r['bare_size']} bytes" for p, r in results.items()))
    print("\nwhere one verified save spends its time (ms, medians):\n")
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
