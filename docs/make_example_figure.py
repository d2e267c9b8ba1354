"""Draw the TensorBoard scalars of a run of the bundled example (``make demo``) into ``docs/img/poisson_run.png``.

The README shows this figure; it is drawn from the run's TensorBoard event files, read with TensorBoard's own
event reader, so it shows exactly what ``tensorboard --logdir outputs`` shows.

Usage: ``make demo`` then ``.venv/bin/python docs/make_example_figure.py [RUN_DIR]`` (default: the newest run
under ``outputs/``).
"""

from __future__ import annotations

import pathlib
import sys

ROOT = pathlib.Path(__file__).resolve().parent.parent
PANELS = (("training loss (online)", "loss/online/total/"), ("validation loss", "loss/val/total"),
          ("learning rate", "optim/lr/surrogate/default"))


def scalars(run_dir: pathlib.Path) -> dict[str, tuple[list[int], list[float]]]:
    """Tag -> (updates, values) from the run's TensorBoard events."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "runs"))
    events.Reload()
    return {tag: ([e.step for e in events.Scalars(tag)], [e.value for e in events.Scalars(tag)])
            for tag in events.Tags()["scalars"]}


def main() -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = sorted((ROOT / "outputs").glob("*/runs"), key=lambda path: path.stat().st_mtime)
    run_dir = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else runs[-1].parent
    found = scalars(run_dir)
    figure, axes = plt.subplots(1, 3, figsize=(10, 2.8))
    for axis, (title, prefix) in zip(axes, PANELS):
        for tag, (steps, values) in found.items():
            if tag.startswith(prefix):
                axis.plot(steps, values, marker="." if len(steps) < 20 else None, label=tag)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel("update")
        if "loss" in prefix:
            axis.set_yscale("log")
        axis.legend(fontsize=7)
    figure.tight_layout()
    target = ROOT / "docs" / "img" / "poisson_run.png"
    figure.savefig(target, dpi=100, metadata={"Software": None})
    print(f"wrote {target} from {run_dir}")


if __name__ == "__main__":
    main()
