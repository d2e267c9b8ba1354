"""What ``engine.run`` costs per update beside a hand-written PyTorch loop on the same model and data.

Both sides train ``Linear(64, w) - GELU - Linear(w, w) - GELU - Linear(w, 1)`` (widths 32, 256, 1024) on the
same in-memory regression set (64 features, ``--samples`` samples) with batches of 64, the mean squared error
and ``torch.optim.AdamW`` (lr 1e-3, the engine's param groups: weight decay 0.01 on weights, 0 on biases),
on one torch thread, for ``--updates`` updates per measurement.

- engine: ``engine.run(config)`` with the default callbacks (progress lines, train time, lr and online-loss
  logging, parameter and dataset counts) and the default tracker (TensorBoard), stdout sent to /dev/null.
  Timed: the training loop alone, from the last ``before_training`` hook to the last ``after_update`` hook
  of the last update (``benchmarks/_components.py: LoopClock``). The run's one-off setup (building
  components, config files, the TensorBoard writer), its end-of-run checkpoint and teardown are not in it.
- hand: ``DataLoader(TensorDataset(x, y), batch_size=64, shuffle=True, drop_last=True)``; per batch
  forward, ``mse_loss``, ``backward``, ``optimizer.step()``, ``optimizer.zero_grad(set_to_none=True)``.
  Timed: the loop over the loader (starting each epoch's iterator included), model and optimizer built before.
- lightning (only when ``lightning`` or ``pytorch_lightning`` is installed): the same module in a
  ``LightningModule`` that logs its loss, ``Trainer(max_steps=...)`` with its defaults (TensorBoard logger,
  progress bar) except checkpointing; timed from ``on_train_start`` to ``on_train_end``.

Both (all) sides include data loading, forward, backward and the optimizer step. Measurements alternate
(engine, hand, [lightning], engine, hand, ...) after one untimed warm-up of each; medians are printed, with
ratios of the medians. Also printed: the engine's own update timer (``train_time/total_seconds``, which
covers data, forward, backward and step but not the lr schedule, callbacks and tracker).

``--profile`` adds a cProfile of one engine run at the smallest width, as microseconds per update per
function (cProfile inflates Python-level costs; read it for where, not how much).

Usage: ``PYTHONPATH=. .venv/bin/python benchmarks/bench_engine_overhead.py [--quick] [--profile]``.
This is a script, not a test: it never fails on a time.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pathlib
import platform
import pstats
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable

ROOT = pathlib.Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import attrs  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, TensorDataset  # noqa: E402

import engine  # noqa: E402
from benchmarks import _components as components  # noqa: E402
from engine import demos  # noqa: E402
from noether.core.optimizer import plan_param_groups  # noqa: E402
from noether.core.schemas import BaseTrainerConfig, ConfigSchema  # noqa: E402
from noether.core.schemas.optimizers import OptimizerConfig  # noqa: E402

IN_FEATURES = 64
BATCH = 64
LR = 1e-3
WEIGHT_DECAY = 0.01  # AdamW's default, which the engine fills in when the config leaves it unset
SEED = 0
TARGETS = {32: 1.05, 1024: 1.02}
"""Issue 5: engine / hand at most 1.05x at width 32 and 1.02x at width 1024."""


def optimizer_config() -> OptimizerConfig:
    return OptimizerConfig(kind="torch.optim.AdamW", lr=LR)


def engine_config(width: int, updates: int, samples: int, output_path: pathlib.Path) -> ConfigSchema:
    """The engine run: defaults everywhere (callbacks, TensorBoard tracker), CPU, float32."""
    prefix = components.__name__
    return ConfigSchema(
        name="bench_engine_overhead",
        accelerator="cpu",
        seed=SEED,
        output_path=output_path,
        datasets={"train": demos.RegressionConfig(kind="engine.demos.Regression",
                                                  num_samples=samples, in_features=IN_FEATURES)},
        model=demos.MlpConfig(kind="engine.demos.Mlp", name="mlp", in_features=IN_FEATURES, width=width,
                              optimizer_config=optimizer_config(), forward_properties=("x",)),
        trainer=BaseTrainerConfig(kind=f"{prefix}.MSETrainer", max_updates=updates, effective_batch_size=BATCH,
                                  target_properties=("y",)),
    )


VARIANTS = {
    "defaults (TensorBoard, default callbacks)": {},
    "tracker disabled": {"tracker": None},
    "TensorBoard, log and track every 100 updates": {"trainer": {"log_every_n_updates": 100,
                                                                 "track_every_n_updates": 100}},
    "no tracker, no default callbacks": {"tracker": None, "trainer": {"add_default_callbacks": False}},
}
"""Engine configurations of the attribution table: changes to ``engine_config``."""


def variant(config: ConfigSchema, changes: dict) -> ConfigSchema:
    trainer = attrs.evolve(config.trainer, **changes.get("trainer", {}))
    return attrs.evolve(config, trainer=trainer, **{k: v for k, v in changes.items() if k != "trainer"})


def time_engine(width: int, updates: int, samples: int, output_path: pathlib.Path,
                changes: dict | None = None) -> tuple[float, float]:
    """Seconds per update of the engine's training loop (wall clock) and of its own update timer."""
    config = variant(engine_config(width, updates, samples, output_path), changes or {})
    components.CLOCK.clear()
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        result = engine.run(config)
    assert result.iteration.update == updates, result.iteration
    wall = (components.CLOCK["stop"] - components.CLOCK["start"]) / updates
    summary_path = result.run_dir / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    inner = summary.get("train_time/total_seconds", float("nan")) / updates
    shutil.rmtree(result.run_dir)
    return wall, inner


def hand_optimizer(model: torch.nn.Module) -> torch.optim.Optimizer:
    """AdamW over the same param groups the engine plans (weights: decay 0.01, biases: 0)."""
    config = OptimizerConfig(kind="torch.optim.AdamW", lr=LR, weight_decay=WEIGHT_DECAY)
    named = dict(model.named_parameters())
    plan = plan_param_groups(((name, tuple(p.shape)) for name, p in named.items()), config)
    groups = [{"params": [named[name] for name in group.param_names], "weight_decay": group.weight_decay}
              for group in plan]
    return torch.optim.AdamW(groups, lr=LR, weight_decay=WEIGHT_DECAY)


def time_hand(width: int, updates: int, samples: int, profiler: cProfile.Profile | None = None) -> float:
    """Seconds per update of the hand-written loop (``profiler``: enabled around the timed loop)."""
    torch.manual_seed(SEED)
    model = demos.make_mlp(IN_FEATURES, width)
    optimizer = hand_optimizer(model)
    x, y = demos.make_regression(samples, IN_FEATURES, torch.float32, seed=0)
    loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, drop_last=True)
    loss_fn = torch.nn.functional.mse_loss
    model.train()
    if profiler is not None:
        profiler.enable()
    start = time.perf_counter()
    for xb, yb in components.first_batches(loader, updates):
        loss = loss_fn(model(xb), yb)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    elapsed = time.perf_counter() - start
    if profiler is not None:
        profiler.disable()
    return elapsed / updates


def lightning_timer() -> Callable[[int, int, int, pathlib.Path], float] | None:
    """``time_lightning(width, updates, samples, output_path)`` when Lightning is installed, else ``None``."""
    try:
        import lightning as L  # noqa: N812
    except ImportError:
        try:
            import pytorch_lightning as L  # noqa: N812
        except ImportError:
            return None

    class Module(L.LightningModule):
        def __init__(self, width: int) -> None:
            super().__init__()
            self.net = demos.make_mlp(IN_FEATURES, width)

        def training_step(self, batch, batch_index):  # noqa: ANN001, ANN201
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("loss", loss)
            return loss

        def configure_optimizers(self):  # noqa: ANN201
            return hand_optimizer(self.net)

    clock: dict[str, float] = {}

    class Clock(L.Callback):
        def on_train_start(self, trainer, module) -> None:  # noqa: ANN001
            clock["start"] = time.perf_counter()

        def on_train_end(self, trainer, module) -> None:  # noqa: ANN001
            clock["stop"] = time.perf_counter()

    def time_lightning(width: int, updates: int, samples: int, output_path: pathlib.Path) -> float:
        torch.manual_seed(SEED)
        module = Module(width)
        x, y = demos.make_regression(samples, IN_FEATURES, torch.float32, seed=0)
        loader = DataLoader(TensorDataset(x, y), batch_size=BATCH, shuffle=True, drop_last=True)
        root = pathlib.Path(tempfile.mkdtemp(dir=output_path))
        trainer = L.Trainer(max_steps=updates, max_epochs=-1, accelerator="cpu", devices=1, default_root_dir=str(root),
                            callbacks=[Clock()], enable_checkpointing=False, num_sanity_val_steps=0)
        sink = io.StringIO()
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            trainer.fit(module, loader)
        shutil.rmtree(root, ignore_errors=True)
        return (clock["stop"] - clock["start"]) / updates

    time_lightning.version = L.__version__  # type: ignore[attr-defined]
    return time_lightning


def _per_update(profiler: cProfile.Profile, updates: int) -> dict[str, tuple[float, float, float]]:
    """``function -> (calls, own µs, cumulative µs)`` per update."""
    rows = {}
    for (filename, line, name), (_, calls, own, cumulative, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        path = pathlib.Path(filename)
        where = f"{path.parent.name}/{path.name}:{line}({name})" if line else name
        rows[where] = (calls / updates, own / updates * 1e6, cumulative / updates * 1e6)
    return rows


def profile_engine(width: int, updates: int, samples: int, output_path: pathlib.Path, top: int) -> None:
    """cProfile the engine's training loop and the hand loop; print, in µs per update, the functions whose own
    time differs most, and the cumulative time of the engine's own functions."""
    config = engine_config(width, updates, samples, output_path)
    engine_profiler, hand_profiler = cProfile.Profile(), cProfile.Profile()
    components.ON_START[:] = [engine_profiler.enable]
    components.ON_STOP[:] = [engine_profiler.disable]
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
            result = engine.run(config)
    finally:
        components.ON_START.clear()
        components.ON_STOP.clear()
    shutil.rmtree(result.run_dir)
    time_hand(width, updates, samples, profiler=hand_profiler)
    ours, hand = _per_update(engine_profiler, updates), _per_update(hand_profiler, updates)
    total_ours = sum(own for _, own, _ in ours.values())
    total_hand = sum(own for _, own, _ in hand.values())
    print(f"\ncProfile, width {width}, {updates} updates (training loops only; cProfile inflates Python calls): "
          f"engine {total_ours:.0f} µs/update, hand {total_hand:.0f} µs/update. Own time, largest differences:\n")
    print("| function | calls/update engine | hand | own µs engine | hand | difference |")
    print("|---|---:|---:|---:|---:|---:|")
    differences = []
    for where in ours.keys() | hand.keys():
        a, b = ours.get(where, (0.0, 0.0, 0.0)), hand.get(where, (0.0, 0.0, 0.0))
        differences.append((a[1] - b[1], where, a, b))
    differences.sort(key=lambda row: -abs(row[0]))
    for difference, where, a, b in differences[:top]:
        print(f"| `{where}` | {a[0]:.1f} | {b[0]:.1f} | {a[1]:.1f} | {b[1]:.1f} | {difference:+.1f} |")
    print("\nCumulative µs per update of the engine's own functions (and what they call):\n")
    print("| function | calls/update | cumulative µs |")
    print("|---|---:|---:|")
    own_code = [(cumulative, where, calls) for where, (calls, _, cumulative) in ours.items()
                if where.split("/")[0] in ("engine", "callbacks", "trackers", "data", "benchmarks", "tensorboard",
                                          "writer")]
    own_code.sort(reverse=True)
    for cumulative, where, calls in own_code[:top]:
        print(f"| `{where}` | {calls:.1f} | {cumulative:.1f} |")


def attribute(width: int, updates: int, repeats: int, samples: int, output_path: pathlib.Path) -> None:
    """Time engine variants (tracker off, sparse logging, no default callbacks) beside the hand loop, interleaved."""
    times: dict[str, list[float]] = {label: [] for label in [*VARIANTS, "hand loop"]}
    for _ in range(repeats):
        for label, changes in VARIANTS.items():
            times[label].append(time_engine(width, updates, samples, output_path, changes)[0])
        times["hand loop"].append(time_hand(width, updates, samples))
    hand = statistics.median(times["hand loop"])
    print(f"\nWhere the engine's extra time goes, width {width} ({updates} updates, {repeats} interleaved repeats):\n")
    print("| engine configuration | ms/update | vs hand | extra µs/update | best of repeats ms/update |")
    print("|---|---:|---:|---:|---:|")
    for label, values in times.items():
        median = statistics.median(values)
        print(f"| {label} | {median * 1e3:.3f} | {median / hand:.3f}x | {(median - hand) * 1e6:+.0f} | "
              f"{min(values) * 1e3:.3f} |")


def machine_lines(extra: str = "") -> str:
    return (f"python {platform.python_version()}, torch {torch.__version__}, {os.cpu_count()} CPUs "
            f"({platform.machine()}, {platform.system()}), torch threads {torch.get_num_threads()}{extra}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 widths, few updates, 2 repeats")
    parser.add_argument("--updates", type=int, default=None, help="updates per measurement (default 400)")
    parser.add_argument("--repeats", type=int, default=None, help="timed measurements per side (default 7)")
    parser.add_argument("--samples", type=int, default=BATCH * 200, help="dataset size (default 64 * 200)")
    parser.add_argument("--widths", type=int, nargs="+", default=None, help="hidden widths (default 32 256 1024)")
    parser.add_argument("--profile", action="store_true", help="also cProfile one engine run at the first width")
    parser.add_argument("--no-attribution", action="store_true", help="skip the engine-variant table")
    parser.add_argument("--top", type=int, default=25, help="functions shown by --profile")
    args = parser.parse_args()
    widths = args.widths or ([32, 256] if args.quick else [32, 256, 1024])
    updates = args.updates or (40 if args.quick else 400)
    repeats = args.repeats or (2 if args.quick else 7)
    torch.set_num_threads(1)
    time_lightning = lightning_timer()
    lightning_note = f", lightning {time_lightning.version}" if time_lightning else ", lightning not installed"
    print(machine_lines(lightning_note))
    print(f"{updates} updates of {BATCH} samples per measurement, {repeats} interleaved repeats per side, "
          f"dataset {args.samples} x {IN_FEATURES} in memory, AdamW, MSE, float32\n")

    output_path = pathlib.Path(tempfile.mkdtemp(prefix="bench_engine_overhead_"))
    try:
        results = {}
        for width in widths:
            time_engine(width, min(updates, 20), args.samples, output_path)  # warm-up: imports, allocator
            time_hand(width, min(updates, 20), args.samples)
            if time_lightning:
                time_lightning(width, min(updates, 20), args.samples, output_path)
            engine_times, inner_times, hand_times, lightning_times = [], [], [], []
            for _ in range(repeats):
                wall, inner = time_engine(width, updates, args.samples, output_path)
                engine_times.append(wall)
                inner_times.append(inner)
                hand_times.append(time_hand(width, updates, args.samples))
                if time_lightning:
                    lightning_times.append(time_lightning(width, updates, args.samples, output_path))
            results[width] = {
                "engine": statistics.median(engine_times), "inner": statistics.median(inner_times),
                "hand": statistics.median(hand_times),
                "lightning": statistics.median(lightning_times) if lightning_times else None,
                "spread": (max(engine_times) / min(engine_times) - 1, max(hand_times) / min(hand_times) - 1),
            }

        header = "| width | params | hand ms/update | engine ms/update | engine / hand | engine - hand µs | target |"
        rule = "|---:|---:|---:|---:|---:|---:|---|"
        if time_lightning:
            header += " lightning ms/update | lightning / hand |"
            rule += "---:|---:|"
        print(header)
        print(rule)
        for width, r in results.items():
            ratio = r["engine"] / r["hand"]
            params = sum(p.numel() for p in demos.make_mlp(IN_FEATURES, width).parameters())
            target = TARGETS.get(width)
            verdict = f"<= {target:.2f}x: {'met' if ratio <= target else '**not met**'}" if target else ""
            line = (f"| {width} | {params:,} | {r['hand'] * 1e3:.3f} | {r['engine'] * 1e3:.3f} | {ratio:.3f}x | "
                    f"{(r['engine'] - r['hand']) * 1e6:+.0f} | {verdict} |")
            if time_lightning:
                line += f" {r['lightning'] * 1e3:.3f} | {r['lightning'] / r['hand']:.3f}x |"
            print(line)
        print("\n| width | engine's own update timer ms/update | engine loop - own timer µs/update "
              "| spread engine / hand (max/min - 1) |")
        print("|---:|---:|---:|---|")
        for width, r in results.items():
            print(f"| {width} | {r['inner'] * 1e3:.3f} | {(r['engine'] - r['inner']) * 1e6:.0f} | "
                  f"{r['spread'][0]:.1%} / {r['spread'][1]:.1%} |")
        if not args.no_attribution:
            attribute(widths[0], updates, repeats, args.samples, output_path)
        if args.profile:
            profile_engine(widths[0], updates, args.samples, output_path, args.top)
    finally:
        shutil.rmtree(output_path, ignore_errors=True)


if __name__ == "__main__":
    main()
