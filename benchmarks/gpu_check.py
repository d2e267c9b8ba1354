"""The CUDA checks of issue 19, for a machine with a GPU (run through ``benchmarks/gpu_check.sh``).

1. precision: the Poisson example trains in float16 (with a ``GradScaler``) and in bfloat16 with
   ``skip_nan_loss``; an Inf loss injected into one micro-batch leaves that update's weights bit-identical,
   every logged loss is finite, and training goes on;
2. overhead: the engine's training loop beside a hand-written loop on the GPU at the example's size (batches of
   64 in micro-batches of 32, AdamW, float32), medians of interleaved repeats; target at most 1.03x;
3. syncs: ``torch.cuda.set_sync_debug_mode("warn")`` counts the host synchronisations per update (updates that
   log nothing, the first and the last excluded), with and without ``skip_nan_loss``, foreach and fused AdamW;
4. pipelines: the point-cloud example (point sampling + padding with a mask) trains in bfloat16 on the GPU with
   two DataLoader workers (pinned memory, prefetch to the device) and its validation loss falls;
5. nccl: the example under torchrun (one process, nccl process group on the GPU) trains and saves its weights.

Prints one table per check and ends with ``gpu_check: PASS`` or ``gpu_check: FAIL (...)`` and a non-zero exit.
Usage: ``PYTHONPATH=. python benchmarks/gpu_check.py [--repeats 5] [--updates 300]``.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import json
import math
import os
import pathlib
import statistics
import sys
import tempfile
import time
import traceback
import warnings

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

# Run as a script, this module is __main__; the run's config names its classes as benchmarks.gpu_check, which must
# be this same module (one CLOCK, SNAPSHOTS and SYNCS), not a second import of the file.
sys.modules.setdefault("benchmarks.gpu_check", sys.modules[__name__])

import engine  # noqa: E402
from benchmarks._components import first_batches  # noqa: E402
from examples.poisson.trainer import PoissonTrainer  # noqa: E402
from noether.core.training import Interval, TrainingIteration  # noqa: E402

EXAMPLE = ROOT / "examples" / "poisson" / "train.yaml"
POINTCLOUD = ROOT / "examples" / "pointcloud" / "train.yaml"
INF_MICRO_BATCH = 10
"""The training micro-batch (0-based) whose loss is multiplied by Inf: the second of update 5 (0-based)."""
SNAPSHOTS: dict[int, dict[str, torch.Tensor]] = {}
"""Update (1-based, after it) -> the model's weights, filled by ``WeightSnapshots``."""
CLOCK: dict[str, float] = {}
HAND_DEVICE = "cuda"
"""Where the hand-written loop runs (a CPU dry run of this script sets "cpu")."""
SYNCS: dict[int, list[str]] = collections.defaultdict(list)
LAST_RUN_DIR: list[pathlib.Path] = []
"""The run directory of the last ``engine_seconds`` run."""
CURRENT_UPDATE = [0]


class InfOnceTrainer(PoissonTrainer):
    """The example's trainer with an Inf loss in training micro-batch ``INF_MICRO_BATCH``."""

    def __init__(self, config: object) -> None:
        super().__init__(config)
        self.micro_batches = 0

    def loss_compute(self, outputs: torch.Tensor, targets: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean squared error, times Inf once."""
        loss = super().loss_compute(outputs, targets)
        if torch.is_grad_enabled():
            factor = float("inf") if self.micro_batches == INF_MICRO_BATCH else 1.0
            self.micro_batches += 1
            loss = loss * factor
        return loss


class WeightSnapshots(engine.PeriodicCallback):
    """Copy the weights after every update into ``SNAPSHOTS`` (a host read per update: precision check only)."""

    def __init__(self, config: object = None) -> None:
        super().__init__(config, interval=Interval(every_n_updates=1))

    def after_update(self, iteration: TrainingIteration) -> None:
        """Snapshot."""
        SNAPSHOTS[iteration.update] = {k: v.detach().cpu().clone() for k, v in self.run.model.state_dict().items()}


class GpuClockTrainer(PoissonTrainer):
    """The example's trainer, adding ``GpuClock`` last (after the default callbacks)."""

    def trainer_callbacks(self) -> list:
        """The clock."""
        return [GpuClock()]


class GpuClock(engine.PeriodicCallback):
    """``CLOCK["start"]`` after ``before_training``, ``CLOCK["stop"]`` after the last update, both after a
    ``torch.cuda.synchronize``; also tells the sync counter which update is running."""

    def __init__(self) -> None:
        super().__init__(interval=Interval(every_n_updates=1))

    def before_training(self, iteration: TrainingIteration) -> None:
        """Start."""
        torch.cuda.synchronize()
        CLOCK["start"] = time.perf_counter()
        CURRENT_UPDATE[0] = iteration.update

    def after_update(self, iteration: TrainingIteration) -> None:
        """Stop after the last update; count the next update's syncs under its index."""
        CURRENT_UPDATE[0] = iteration.update
        if iteration.update == self.run.plan.total_updates:
            torch.cuda.synchronize()
            CLOCK["stop"] = time.perf_counter()


def overrides(output: pathlib.Path, updates: int, *extra: str) -> list[str]:
    """The example shortened to ``updates`` updates on the GPU, without its evaluation callbacks."""
    return [f"output_path={output}", "accelerator=gpu", "~trainer.max_epochs", f"+trainer.max_updates={updates}",
            "~trainer.log_every_n_epochs", "+trainer.log_every_n_updates=25", "trainer.track_every_n_updates=25",
            "trainer.callbacks=[]", *extra]


def check_precision(output: pathlib.Path) -> list[str]:
    """Float16 and bfloat16 runs with an injected Inf; the problems found."""
    problems = []
    print("\n## precision (example, 24 updates of 2 micro-batches, Inf in micro-batch 10 = update 6)\n")
    print("| precision | scaler | final online loss | inf update unchanged | next update trains | result |")
    print("|---|---|---:|---|---|---|")
    for precision in ("float16", "bfloat16"):
        SNAPSHOTS.clear()
        try:
            result = engine.run(str(EXAMPLE), overrides=[
                *overrides(output / precision, 24), f"trainer.precision={precision}", "trainer.skip_nan_loss=true",
                "trainer.kind=benchmarks.gpu_check.InfOnceTrainer", "trainer.track_every_n_updates=1",
                "trainer.callbacks=[{kind: benchmarks.gpu_check.WeightSnapshots, every_n_updates: 1}]"])
        except Exception as exc:  # noqa: BLE001 - reported, and the check fails
            traceback.print_exc()
            problems.append(f"{precision}: {type(exc).__name__}: {exc}")
            print(f"| {precision} | | | | | **{type(exc).__name__}** |")
            continue
        losses = {k: v for k, v in result.metrics.items() if k.startswith("loss/online/")}
        finite = all(math.isfinite(v) for v in losses.values())
        unchanged = all(torch.equal(SNAPSHOTS[6][k], SNAPSHOTS[5][k]) for k in SNAPSHOTS[5])
        trains = any(not torch.equal(SNAPSHOTS[7][k], SNAPSHOTS[6][k]) for k in SNAPSHOTS[6])
        ok = finite and unchanged and trains and result.iteration.update == 24
        scaler = "GradScaler" if precision == "float16" else "none"
        print(f"| {precision} | {scaler} | {losses.get('loss/online/total/U1', float('nan')):.4g} | {unchanged} | "
              f"{trains} | {'ok' if ok else '**FAIL**'} |")
        if not ok:
            problems.append(f"{precision}: finite={finite} unchanged={unchanged} trains={trains}")
    return problems


def engine_seconds(output: pathlib.Path, updates: int, *extra: str) -> float:
    """Seconds per update of the engine's loop on the example."""
    CLOCK.clear()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        result = engine.run(str(EXAMPLE), overrides=[*overrides(output, updates),
                                                     "trainer.kind=benchmarks.gpu_check.GpuClockTrainer", *extra])
    LAST_RUN_DIR[:] = [result.run_dir]
    return (CLOCK["stop"] - CLOCK["start"]) / updates


def hand_seconds(output: pathlib.Path, updates: int) -> float:
    """Seconds per update of a hand-written loop over the same data, model and optimizer (micro-batches of 32)."""
    from engine.run import build_components, load_config

    config = load_config(EXAMPLE, [*overrides(output, updates)])
    device = torch.device(HAND_DEVICE)
    datasets, model, _ = build_components(config, device)
    train = datasets["train"]
    data = torch.utils.data.TensorDataset(train.sources, train.solutions)
    loader = torch.utils.data.DataLoader(data, batch_size=64, shuffle=True, drop_last=True, pin_memory=True)
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.model.optimizer_config.lr)
    model.train()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for source, solution in first_batches(loader, updates):
        source = source.to(device, non_blocking=True)
        solution = solution.to(device, non_blocking=True)
        for half in (slice(0, 32), slice(32, 64)):
            loss = torch.nn.functional.mse_loss(model(source=source[half]), solution[half]) * 0.5
            loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    torch.cuda.synchronize()
    return (time.perf_counter() - started) / updates


def check_overhead(output: pathlib.Path, updates: int, repeats: int) -> list[str]:
    """Engine / hand on the GPU; a problem when the median ratio is above 1.03."""
    engine_seconds(output / "warm", 20)
    hand_seconds(output / "warm", 20)
    engine_times, hand_times = [], []
    for repeat in range(repeats):
        engine_times.append(engine_seconds(output / f"engine{repeat}", updates))
        hand_times.append(hand_seconds(output / f"hand{repeat}", updates))
    engine_ms, hand_ms = statistics.median(engine_times) * 1e3, statistics.median(hand_times) * 1e3
    ratio = engine_ms / hand_ms
    print(f"\n## overhead (example, {updates} updates of 64 in micro-batches of 32, float32, AdamW; "
          f"medians of {repeats} interleaved repeats)\n")
    print("| hand ms/update | engine ms/update | engine / hand | target |")
    print("|---:|---:|---:|---|")
    print(f"| {hand_ms:.3f} | {engine_ms:.3f} | {ratio:.3f}x | <= 1.03x: {'met' if ratio <= 1.03 else '**not met**'} |")
    return [] if ratio <= 1.03 else [f"overhead {ratio:.3f}x > 1.03x"]


def metrics_records(run_dir: pathlib.Path) -> list[dict]:
    """The records of a run's ``metrics.jsonl`` (one per logging update), in order."""
    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def count_syncs(output: pathlib.Path, updates: int, *extra: str) -> tuple[float, float, collections.Counter]:
    """Syncs per update: in updates that log nothing (first and last excluded), and over all updates."""
    SYNCS.clear()

    def record(message, category, filename, lineno, file=None, line=None) -> None:  # noqa: ANN001
        if "synchroniz" in str(message):  # "called a synchronizing CUDA operation"
            SYNCS[CURRENT_UPDATE[0]].append(f"{pathlib.Path(filename).name}:{lineno}")

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = record  # restored by catch_warnings
        torch.cuda.set_sync_debug_mode("warn")
        try:
            engine_seconds(output, updates, *extra)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    # Syncs count under the update whose GpuClock.after_update ran last: a logging update L's callbacks count
    # under L - 1, and what the loop does after the callbacks (the skip-limit check, the flush) under L. Quiet
    # updates are those that neither log nor precede one (the logging updates read from metrics.jsonl).
    logged = {record["update"] for record in metrics_records(LAST_RUN_DIR[0])}
    quiet = [u for u in range(1, updates - 1) if u not in logged and u + 1 not in logged]
    where = collections.Counter(site for u in quiet for site in SYNCS.get(u, []))
    return (sum(len(SYNCS.get(u, [])) for u in quiet) / len(quiet),
            sum(len(v) for v in SYNCS.values()) / updates, where)


def check_syncs(output: pathlib.Path) -> list[str]:
    """The sync table; a problem for any sync in a quiet update of the configurations that promise none."""
    problems = []
    variants = {
        "defaults (AdamW foreach)": ([], True),
        "skip_nan_loss, AdamW foreach (CPU step counts: one read per update expected)": (
            ["trainer.skip_nan_loss=true"], False),
        "skip_nan_loss, AdamW fused": (["trainer.skip_nan_loss=true",
                                        "+optimizer.optimizer_kwargs={fused: true}"], True),
        "skip_nan_loss, AdamW capturable": (["trainer.skip_nan_loss=true",
                                             "+optimizer.optimizer_kwargs={capturable: true}"], True),
    }
    print("\n## host syncs (torch.cuda.set_sync_debug_mode('warn'), 100 updates, log every 25)\n")
    print("| configuration | syncs per quiet update | syncs per update, all | where (quiet updates) |")
    print("|---|---:|---:|---|")
    for name, (extra, promised) in variants.items():
        quiet, overall, where = count_syncs(output / f"syncs{len(problems)}{len(name)}", 100, *extra)
        print(f"| {name} | {quiet:.2f} | {overall:.2f} | {', '.join(f'{k} x{v}' for k, v in where.most_common(4))} |")
        if promised and quiet > 0:
            problems.append(f"{name}: {quiet:.2f} syncs per quiet update")
    return problems


def val_losses(run_dir: pathlib.Path) -> list[float]:
    """Every ``loss/val/total`` value of a run's ``metrics.jsonl``, in order."""
    return [float(record["loss/val/total"]) for record in metrics_records(run_dir) if "loss/val/total" in record]


def check_pipeline(output: pathlib.Path) -> list[str]:
    """The point-cloud example in bfloat16 on the GPU with 2 workers; a problem unless its val loss falls."""
    print("\n## pipelines (point-cloud example, 4 epochs, bfloat16, 2 workers, pinned memory + prefetch)\n")
    print("| val loss after epoch 1 | val loss after epoch 4 | seconds | result |")
    print("|---:|---:|---:|---|")
    started = time.perf_counter()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        result = engine.run(str(POINTCLOUD), overrides=[
            f"output_path={output / 'pointcloud'}", "accelerator=gpu", "trainer.max_epochs=4", "num_workers=2",
            "trainer.precision=bfloat16"])
    seconds = time.perf_counter() - started
    losses = val_losses(result.run_dir)
    ok = len(losses) == 4 and all(map(math.isfinite, losses)) and losses[-1] < losses[0]
    first, last = (losses[0], losses[-1]) if losses else (float("nan"), float("nan"))
    print(f"| {first:.4g} | {last:.4g} | {seconds:.1f} | {'ok' if ok else '**FAIL**'} |")
    return [] if ok else [f"pipeline: val losses {losses}"]


def check_nccl(output: pathlib.Path) -> list[str]:
    """The example under torchrun with one process (an nccl group on the GPU); a problem unless it trains."""
    import subprocess

    print("\n## nccl (example under torchrun, 1 process, 40 updates)\n")
    print("| exit status | backend | weights saved | seconds | result |")
    print("|---:|---|---|---:|---|")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "1",
               "-m", "engine.cli", str(EXAMPLE), *overrides(output / "nccl", 40), "run_id=nccl"]
    probe = ("import torch.distributed as _dist\n_init = _dist.init_process_group\n"
             "def _spy(*args, **kwargs):\n    print('BACKEND', kwargs.get('backend'), flush=True)\n"
             "    return _init(*args, **kwargs)\n_dist.init_process_group = _spy\n")
    environment = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as site:
        pathlib.Path(site, "sitecustomize.py").write_text(probe, encoding="utf-8")
        environment["PYTHONPATH"] = os.pathsep.join([site, environment["PYTHONPATH"]])
        done = subprocess.run(command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=240)
    seconds = time.perf_counter() - started
    backends = sorted({line.split()[1] for line in done.stdout.splitlines() if line.startswith("BACKEND ")})
    saved = sorted((output / "nccl" / "nccl" / "checkpoints").glob("*latest_model.th"))
    ok = done.returncode == 0 and backends == ["nccl"] and bool(saved)
    print(f"| {done.returncode} | {', '.join(backends) or '?'} | {bool(saved)} | {seconds:.1f} | "
          f"{'ok' if ok else '**FAIL**'} |")
    if not ok:
        print("```\n" + (done.stdout + done.stderr)[-3000:] + "\n```")
    return [] if ok else [f"nccl: exit {done.returncode}, backends {backends}, saved {bool(saved)}"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--updates", type=int, default=300)
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit(f"gpu_check: FAIL: torch {torch.__version__} sees no CUDA device (a CPU wheel, or no GPU here)")
    print(f"torch {torch.__version__}, CUDA {torch.version.cuda}, {torch.cuda.get_device_name()}, "
          f"python {sys.version.split()[0]}")
    problems = []
    with tempfile.TemporaryDirectory() as directory:
        output = pathlib.Path(directory)
        for check in (lambda: check_precision(output), lambda: check_syncs(output),
                      lambda: check_pipeline(output), lambda: check_nccl(output),
                      lambda: check_overhead(output, args.updates, args.repeats)):
            try:
                problems += check()
            except Exception as exc:  # noqa: BLE001 - the other checks still run
                traceback.print_exc()
                problems.append(f"{type(exc).__name__}: {exc}")
    print("\ngpu_check: " + ("PASS" if not problems else "FAIL (" + "; ".join(problems) + ")"))
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
