"""Console scripts: ``noether-train CONFIG [key=value ...]``, ``noether-schedule``, ``noether-eval RUN [inference.yaml] [key=value ...]``."""

from __future__ import annotations

import argparse
import os
import pathlib
import shutil
import sys
from collections.abc import Sequence

from noether.core.config import ConfigError


def print_problems(config_path: str, exc: ConfigError) -> None:
    """Print a config's problems to stderr: a ``<file>: N problems`` header, then one line per problem."""
    count = len(exc.issues)
    print(f"{config_path}: {count} problem{'s' if count != 1 else ''}", file=sys.stderr)
    print(str(exc), file=sys.stderr)


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    """The positional arguments every command shares: the config file and its overrides."""
    parser.add_argument("config", help="the YAML config file, e.g. examples/poisson/train.yaml")
    parser.add_argument("overrides", nargs="*", help="dotted key=value overrides applied after composition "
                        "(trainer.max_epochs=5, optimizer=sgd, +new.key=1, ~key)")


def tensorboard_command() -> str:
    """How to start TensorBoard from here: the ``tensorboard`` next to this Python (a virtual environment's
    ``.venv/bin/tensorboard``, which is not on ``PATH`` unless the environment is activated), else ``tensorboard``."""
    beside = pathlib.Path(sys.executable).parent / "tensorboard"
    if not beside.is_file() or shutil.which("tensorboard") == str(beside):
        return "tensorboard"
    relative = os.path.relpath(beside)
    return str(beside) if relative.startswith("..") else relative


TRAIN_EPILOG = """examples:
  noether-train examples/poisson/train.yaml trainer.max_epochs=3 optimizer=sgd
  noether-train examples/poisson/train.yaml resume_run_id=RUN_ID [the run's overrides]
      continue a stopped run from its latest checkpoint, bit for bit (a new run id; config changes are listed)
  noether-train examples/poisson/train.yaml resume_run_id=RUN_ID resume_checkpoint=E5

stopping: SIGTERM (and Ctrl-C with trainer.save_on_sigint: true) finishes the current update, writes a
resumable 'latest' checkpoint and exits with status 143 (130 for Ctrl-C), printing the run id to resume.
exit status: 0 done, 2 config problems (one line each: path: message  [file:line:col]), 130/143 stopped."""


def train_main(argv: Sequence[str] | None = None) -> int:
    """Train from a YAML config; problems with the config are printed one per line (exit status 2)."""
    parser = argparse.ArgumentParser(
        prog="noether-train",
        description="Train a model from a YAML config. Overrides use dotted paths: trainer.max_epochs=5, "
        "optimizer=sgd (a config group), +new.key=1, ~key (delete).",
        epilog=TRAIN_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_config_arguments(parser)
    parser.add_argument("--allow-unsafe-resume", action="store_true",
                        help="resume even if the model, optimizer kind or a dataset kind changed")
    parser.add_argument("--nproc-per-node", type=int, metavar="N",
                        help="start N processes on this machine with torchrun (DDP: gloo on CPU, nccl on GPUs)")
    arguments = parser.parse_intermixed_args(argv)
    if arguments.nproc_per_node is not None and "WORLD_SIZE" not in os.environ:
        return launch_torchrun(arguments)
    sys.path.insert(0, os.getcwd())  # components named by kind (my_project.model.Net) import from here
    from engine.data.pipeline import PipelineError
    from engine.distributed import LaunchError
    from engine.run import run

    try:
        result = run(arguments.config, arguments.overrides, allow_unsafe_resume=arguments.allow_unsafe_resume)
    except ConfigError as exc:
        print_problems(arguments.config, exc)
        return 2
    except (FileNotFoundError, LaunchError) as exc:
        print(f"noether-train: {exc}", file=sys.stderr)
        return 2
    except PipelineError as exc:  # a sample the dataset's pipeline cannot batch: one line, not a traceback
        print(f"noether-train: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("noether-train: interrupted; no checkpoint was written for this point (set trainer.save_on_sigint: "
              "true to finish the update and save a resumable checkpoint on Ctrl-C)", file=sys.stderr)
        return 130
    if os.environ.get("RANK", "0") == "0":  # under torchrun, the other ranks print nothing
        print(f"run_id: {result.run_id}\nrun_dir: {result.run_dir}\n{tensorboard_command()} --logdir "
              f"{result.tensorboard_dir.parent if result.tensorboard_dir else result.run_dir}")
    return SIGNAL_EXIT_STATUS.get(result.stopped_by, 0)


def launch_torchrun(arguments: argparse.Namespace) -> int:
    """Replace this process by ``torchrun --standalone --nproc-per-node N`` running the same command, so that
    signals (SIGTERM from a scheduler, Ctrl-C) reach torchrun, which forwards them to the workers."""
    if arguments.nproc_per_node < 1:
        print(f"noether-train: --nproc-per-node must be >= 1 (got {arguments.nproc_per_node})", file=sys.stderr)
        return 2
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone",
               f"--nproc-per-node={arguments.nproc_per_node}", "-m", "engine.cli", arguments.config,
               *arguments.overrides, *(["--allow-unsafe-resume"] if arguments.allow_unsafe_resume else [])]
    sys.stdout.flush()
    sys.stderr.flush()
    os.execv(sys.executable, command)
    return 1  # not reached: execv does not return


SIGNAL_EXIT_STATUS = {"SIGTERM": 143, "SIGINT": 130}
"""Exit status after a stop signal (128 + signal number), as shells and SLURM expect."""


def schedule_main(argv: Sequence[str] | None = None) -> int:
    """Preview a run's learning-rate and weight-decay curves per model and param group, without training."""
    parser = argparse.ArgumentParser(
        prog="noether-schedule",
        description="Print the learning rate and weight decay of every param group at the first, warmup-end, "
        "middle and last updates of the run a config describes; optionally write all updates as CSV and a PNG plot.",
    )
    add_config_arguments(parser)
    parser.add_argument("--dataset-length", type=int, metavar="N",
                        help="samples in the train dataset (default: build the dataset and ask it)")
    parser.add_argument("--csv", metavar="FILE", help="write every update's values to this CSV file")
    parser.add_argument("--plot", metavar="FILE.png", help="plot the curves to this PNG file (needs matplotlib)")
    arguments = parser.parse_intermixed_args(argv)
    sys.path.insert(0, os.getcwd())
    if arguments.plot:
        import importlib.util

        if importlib.util.find_spec("matplotlib") is None:
            print("noether-schedule: --plot needs matplotlib; install it with: pip install 'noether-engine[plot]'",
                  file=sys.stderr)
            return 2
    from engine.preview import schedule_preview

    try:
        curves, plan = schedule_preview(arguments.config, arguments.overrides, dataset_length=arguments.dataset_length)
    except ConfigError as exc:
        print_problems(arguments.config, exc)
        return 2
    from noether.core.schedules.preview import curves_csv, preview_table

    print(preview_table(curves, plan), end="")
    if arguments.csv:
        with open(arguments.csv, "w", encoding="utf-8") as file:
            file.write(curves_csv(curves, plan))
        print(f"wrote {arguments.csv}")
    if arguments.plot:
        from engine.preview import plot_curves

        plot_curves(curves, plan, arguments.plot)
        print(f"wrote {arguments.plot}")
    return 0


EVAL_EPILOG = """examples:
  noether-eval outputs/RUN_ID
      evaluate the run's latest checkpoint with its own evaluation callbacks (offline losses)
  noether-eval outputs/RUN_ID inference.yaml evaluation.checkpoint=best_model.loss/val/total
  noether-eval RUN_ID --output-path outputs evaluation.model_info=ema=0.999 'evaluation.predict=[val]'

the inference config is merged over the run's resolved config.yaml (mappings merge, lists such as
trainer.callbacks replace); its 'evaluation' section picks the checkpoint (checkpoint, model_info) and the datasets
whose outputs are written per sample (predict). Results go to a new stage directory <run>/eval (eval_2, ...):
config.yaml, metrics.jsonl, summary.json, TensorBoard events, predictions/<dataset>.th; nothing is trained.
exit status: 0 done, 2 config problems or a run / checkpoint that does not exist."""


def eval_main(argv: Sequence[str] | None = None) -> int:
    """Evaluate a trained run's checkpoint (and write predictions); problems are printed one per line (status 2)."""
    parser = argparse.ArgumentParser(
        prog="noether-eval",
        description="Evaluate a trained run: its resolved config merged with an inference config, a checkpoint "
        "loaded, only the evaluation callbacks run once, into a new stage directory of the run.",
        epilog=EVAL_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("run", help="the run directory (outputs/RUN_ID), or a run id with --output-path")
    parser.add_argument("arguments", nargs="*", metavar="[inference.yaml] [overrides]",
                        help="an optional inference YAML file, then dotted key=value overrides")
    parser.add_argument("--output-path", metavar="DIR", help="where run ids are looked up (the config's output_path)")
    parser.add_argument("--stage-name", metavar="STAGE", help="the stage of the run that trained the model")
    arguments = parser.parse_intermixed_args(argv)
    inference, overrides = None, list(arguments.arguments)
    if overrides and "=" not in overrides[0] and not overrides[0].startswith("~"):
        inference = overrides.pop(0)
    sys.path.insert(0, os.getcwd())  # components named by kind import from here
    from engine.data.pipeline import PipelineError
    from engine.evaluate import evaluate

    try:
        result = evaluate(arguments.run, inference, overrides, output_path=arguments.output_path,
                          stage_name=arguments.stage_name)
    except ConfigError as exc:
        print_problems(inference or arguments.run, exc)
        return 2
    except FileNotFoundError as exc:
        print(f"noether-eval: {exc}", file=sys.stderr)
        return 2
    except (PipelineError, ValueError) as exc:
        print(f"noether-eval: {exc}", file=sys.stderr)
        return 1
    if os.environ.get("RANK", "0") == "0":
        metrics = "".join(f"{key}: {value:.6g}\n" for key, value in sorted(result.metrics.items()))
        print(f"{metrics}results: {result.run_dir}")
    return 0


if __name__ == "__main__":  # python -m engine.cli: what torchrun and the SLURM script run
    exit_status = train_main()
    from engine.distributed import exit_worker, launched_by_torchrun

    if launched_by_torchrun():  # a worker ends before the interpreter's teardown can meet gloo's threads
        exit_worker(exit_status)
    raise SystemExit(exit_status)
