"""DDP on CPU: updates per second with 1 and 2 gloo processes at the same effective batch size, and what the
gradient all-reduce costs.

Model: ``Linear(256, 1024) - GELU - Linear(1024, 1024) - GELU - Linear(1024, 1024) - GELU - Linear(1024, 1)``
(``--width``, ``--depth``: 2.36 M parameters, 9.4 MB of float32 gradients by default), MSE, ``torch.optim.AdamW``
(lr 1e-3), float32, in-memory random data (the same 8 global batches in turn: no data loading is timed).
Every update has ``--batch`` samples over all processes (default 256), so 2 processes take 128 each.
Processes are started with ``torch.multiprocessing`` (spawn), each with one torch thread (``OMP_NUM_THREADS=1``),
and joined with a deadline (``--timeout``); 2 processes form a gloo group. The model is wrapped by the engine's
own ``engine.distributed.wrap_model`` (DDP, default buckets) and micro-batches go through the engine's
``accumulation_context`` (``no_sync`` on all but the last micro-batch), as in ``engine.trainer.train``.

Rows, measured in the same processes, interleaved, ``--updates`` updates per measurement after a warm-up:

- ``1 process``: the plain model (the engine does not wrap it in DDP at world size 1), batch 256.
- ``1 process, half batch``: the same with 128 samples: what one rank of the 2-process run computes, alone on
  the machine (the ideal 2-process update, if communication and sharing the machine were free).
- ``2 processes, DDP``: 128 samples per rank, gradients all-reduced once per update (overlapped with backward
  by DDP's buckets, as far as two busy cores allow).
- ``2 processes, DDP, 2 micro-batches``: 2 x 64 per rank (``max_batch_size: 128``): ``no_sync`` on the first,
  still one all-reduce per update.
- ``2 processes, no_sync always``: the same DDP model with every micro-batch under ``no_sync``: no gradient
  communication at all (not a valid training: the replicas drift apart; a timing baseline only).

Communication, two ways:

- exposed: ``DDP - no_sync always`` (the time an update spends on the all-reduce beyond the compute it overlaps
  with, including the cost of gloo's threads competing for the cores), and its share of the DDP update;
- bare: a ``dist.all_reduce`` of one flat float32 tensor of the gradient's size, timed alone (``--updates``
  calls, both ranks idle otherwise): the cost of moving the gradient once with nothing to overlap.

A measurement's time is the slowest rank's (a MAX all-reduce of each rank's elapsed time after a barrier);
``--rounds`` alternating launches (1 process, then 2) of ``--repeats`` measurements
each are pooled and their medians printed, with the fastest and slowest measurement. Speed-up is against ``1 process`` (same effective batch).

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_ddp.py [--quick]``.
This is a script, not a test: it never fails on a time.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402
import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402

IN_FEATURES = 256
LR = 1e-3
SEED = 0
DATA_BATCHES = 8
"""Distinct global batches cycled through (in memory)."""


def make_model(width: int, depth: int) -> torch.nn.Sequential:
    """``depth`` hidden layers of ``width`` with GELU, one output."""
    layers: list[torch.nn.Module] = []
    features = IN_FEATURES
    for _ in range(depth):
        layers += [torch.nn.Linear(features, width), torch.nn.GELU()]
        features = width
    layers.append(torch.nn.Linear(features, 1))
    return torch.nn.Sequential(*layers)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def slowest(elapsed: float) -> float:
    """The largest ``elapsed`` over all ranks (identity in one process)."""
    if not dist.is_initialized():
        return elapsed
    value = torch.tensor([elapsed], dtype=torch.float64)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return float(value.item())


def timed(run_once: Callable[[int], None], updates: int) -> float:
    """Seconds per call of ``run_once(i)`` over ``updates`` calls, slowest rank, after a barrier."""
    if dist.is_initialized():
        dist.barrier()
    start = time.perf_counter()
    for index in range(updates):
        run_once(index)
    return slowest(time.perf_counter() - start) / updates


def worker(rank: int, world_size: int, port: int, options: dict, result_file: str) -> None:
    """One process: build the model, time every mode of this world size, rank 0 writes the medians as JSON."""
    torch.set_num_threads(1)
    sys.path.insert(0, str(ROOT))
    from engine.distributed import wrap_model
    from engine.trainer import accumulation_context, ddp_module

    if world_size > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
        dist.init_process_group("gloo", rank=rank, world_size=world_size)
    try:
        batch, updates, repeats = options["batch"], options["updates"], options["repeats"]
        torch.manual_seed(SEED)
        model = make_model(options["width"], options["depth"])
        parameters = sum(p.numel() for p in model.parameters())
        forward_model = wrap_model(model, torch.device("cpu"), find_unused_parameters=False, static_graph=False)
        optimizer = torch.optim.AdamW(model.parameters(), lr=LR)
        generator = torch.Generator().manual_seed(SEED)
        xs = torch.randn(DATA_BATCHES, batch, IN_FEATURES, generator=generator)
        ys = torch.randn(DATA_BATCHES, batch, 1, generator=generator)
        per_rank = batch // world_size

        def update(micro_batches: int, sync: bool, samples: int) -> Callable[[int], None]:
            size = samples // micro_batches

            def run_once(index: int) -> None:
                x = xs[index % DATA_BATCHES, rank * samples:(rank + 1) * samples]
                y = ys[index % DATA_BATCHES, rank * samples:(rank + 1) * samples]
                for micro in range(micro_batches):
                    last = sync and micro == micro_batches - 1
                    context = accumulation_context(ddp_module(forward_model), last) if sync else forward_model.no_sync()
                    with context:
                        out = forward_model(x[micro * size:(micro + 1) * size])
                        loss = torch.nn.functional.mse_loss(out, y[micro * size:(micro + 1) * size])
                        (loss / micro_batches).backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)

            return run_once

        if world_size == 1:
            modes = {"single": update(1, True, batch), "single_half": update(1, True, batch // 2)}
        else:
            flat = torch.zeros(parameters)

            def bare(_index: int) -> None:
                dist.all_reduce(flat)

            modes = {"ddp": update(1, True, per_rank), "ddp_micro2": update(2, True, per_rank),
                     "nosync": update(1, False, per_rank), "allreduce": bare}
        for run_once in modes.values():  # warm-up: allocator, gloo connections, DDP's first-iteration bucketing
            timed(run_once, options["warmup"])
        times: dict[str, list[float]] = {name: [] for name in modes}
        for _ in range(repeats):
            for name, run_once in modes.items():
                times[name].append(timed(run_once, updates))
        if rank == 0:
            pathlib.Path(result_file).write_text(json.dumps({"times": times, "parameters": parameters}))
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()


def launch(world_size: int, options: dict, timeout: float) -> dict:
    """Start ``world_size`` spawned processes, wait at most ``timeout`` seconds, return rank 0's results
    (``times``: mode -> seconds per update of every measurement; ``parameters``)."""
    with tempfile.TemporaryDirectory(prefix="bench_ddp_") as directory:
        result_file = str(pathlib.Path(directory) / "result.json")
        context = mp.start_processes(worker, args=(world_size, free_port(), options, result_file), nprocs=world_size,
                                     join=False, start_method="spawn")
        deadline = time.monotonic() + timeout
        try:
            while not context.join(timeout=1.0):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{world_size} process(es) did not finish within {timeout:.0f} s")
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.terminate()
            for process in context.processes:
                process.join(5)
        return json.loads(pathlib.Path(result_file).read_text())


def machine_lines() -> str:
    return (f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs "
            f"({platform.machine()}, {platform.system()}, {platform.processor() or 'unknown processor'}), "
            f"one torch thread per process, gloo {'available' if dist.is_gloo_available() else 'missing'}, "
            f"load average {load_average()} (other work on the machine distorts 2-process timings most: they need "
            f"every core at once)")


def load_average() -> str:
    try:
        return " / ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few updates, 3 repeats")
    parser.add_argument("--updates", type=int, default=None, help="updates per measurement (default 40)")
    parser.add_argument("--repeats", type=int, default=None, help="measurements per row and launch (default 5)")
    parser.add_argument("--rounds", type=int, default=None, help="alternating (1-process, 2-process) launches "
                        "(default 3, --quick 1)")
    parser.add_argument("--batch", type=int, default=256, help="effective batch size over all processes")
    parser.add_argument("--width", type=int, default=1024, help="hidden width (default 1024)")
    parser.add_argument("--depth", type=int, default=3, help="hidden layers (default 3)")
    parser.add_argument("--timeout", type=float, default=None, help="seconds per launch before the processes are "
                        "terminated (default 600, --quick 180)")
    args = parser.parse_args()
    if args.batch % 4:
        parser.error("--batch must be a multiple of 4 (2 processes x 2 micro-batches)")
    options = {"batch": args.batch, "width": args.width, "depth": args.depth,
               "updates": args.updates or (10 if args.quick else 40), "repeats": args.repeats or (3 if args.quick else 5),
               "warmup": 3 if args.quick else 10}
    timeout = args.timeout or (180.0 if args.quick else 600.0)
    rounds = args.rounds or (1 if args.quick else 3)
    os.environ["OMP_NUM_THREADS"] = "1"  # inherited by the spawned processes before they import torch
    torch.set_num_threads(1)
    print(machine_lines())
    started = time.perf_counter()
    pooled: dict[str, list[float]] = {}
    for _ in range(rounds):  # alternate 1- and 2-process launches so that drift in the machine hits both
        for world_size in (1, 2):
            result = launch(world_size, options, timeout)
            for name, values in result["times"].items():
                pooled.setdefault(name, []).extend(values)
    parameters = result["parameters"]
    summary = {name: {"median": statistics.median(values), "min": min(values), "max": max(values)}
               for name, values in pooled.items()}
    single = double = summary
    print(f"MLP {IN_FEATURES} -> {args.depth} x {args.width} -> 1: {parameters:,} parameters "
          f"({parameters * 4 / 1e6:.1f} MB of float32 gradients), AdamW, MSE, effective batch {args.batch}, "
          f"{options['updates']} updates per measurement, {rounds} round(s) of (1-process launch, 2-process launch) "
          f"with {options['repeats']} interleaved repeats each, medians of the slowest rank; "
          f"{time.perf_counter() - started:.0f} s; load average afterwards {load_average()}\n")

    base = single["single"]["median"]
    exposed = double["ddp"]["median"] - double["nosync"]["median"]
    exposed_micro = double["ddp_micro2"]["median"] - double["nosync"]["median"]
    bare = double["allreduce"]["median"]
    rows = [
        ("1", f"{args.batch}", "1 process (no DDP)", single["single"], "-"),
        ("1", f"{args.batch // 2}", "1 process, half batch (one rank's compute, machine to itself)",
         single["single_half"], "-"),
        ("2", f"{args.batch // 2}", "2 processes, DDP", double["ddp"],
         f"{exposed * 1e3:.1f} ({exposed / double['ddp']['median']:.0%})"),
        ("2", f"2 x {args.batch // 4}", "2 processes, DDP, 2 micro-batches (no_sync on the first)",
         double["ddp_micro2"], f"{exposed_micro * 1e3:.1f} ({exposed_micro / double['ddp_micro2']['median']:.0%})"),
        ("2", f"{args.batch // 2}", "2 processes, no_sync always (no communication; not a valid training)",
         double["nosync"], "0"),
    ]
    print("| processes | batch per process | run | updates/s | ms/update | speed-up vs 1 process "
          "| exposed communication ms (share of update) | spread min-max ms |")
    print("|---:|---:|---|---:|---:|---:|---:|---|")
    for processes, per_process, label, timing, communication in rows:
        median = timing["median"]
        print(f"| {processes} | {per_process} | {label} | {1 / median:.1f} | {median * 1e3:.1f} | {base / median:.2f}x | "
              f"{communication} | {timing['min'] * 1e3:.1f}-{timing['max'] * 1e3:.1f} |")
    print(f"\nBare `dist.all_reduce` of {parameters:,} float32 values ({parameters * 4 / 1e6:.1f} MB), 2 gloo "
          f"processes, nothing else running in them: {bare * 1e3:.1f} ms (spread {double['allreduce']['min'] * 1e3:.1f}-"
          f"{double['allreduce']['max'] * 1e3:.1f}), i.e. {bare / double['ddp']['median']:.0%} of a DDP update; "
          f"{parameters * 4 / bare / 1e9:.2f} GB/s of gradient reduced.")
    print(f"Ideal 2-process update (one rank's half-batch compute with the machine to itself, free communication): "
          f"{single['single_half']['median'] * 1e3:.1f} ms, {base / single['single_half']['median']:.2f}x; "
          f"2 processes without communication: {double['nosync']['median'] * 1e3:.1f} ms, "
          f"{base / double['nosync']['median']:.2f}x (the difference: two processes sharing {os.cpu_count()} cores, "
          f"caches and memory bandwidth); with DDP's all-reduce: {base / double['ddp']['median']:.2f}x.")

if __name__ == "__main__":
    main()
