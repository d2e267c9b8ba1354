"""``noether-submit CONFIG [key=value ...] [--dry-run]``: an sbatch script from a config's ``slurm`` section.

The config is loaded and validated first, exactly as ``noether-train`` loads it; only a valid config is rendered.
The script asks SLURM for the resources of ``config.slurm`` (one ``#SBATCH`` line per set field, the flags of
``SlurmConfig.to_srun_args``), starts one ``torchrun`` per node with ``srun``, and ``torchrun`` starts the
workers that run ``python -m engine.cli CONFIG [overrides]``. Before the time limit SLURM sends SIGTERM to the
batch shell; the script forwards it to the run, which writes a resumable checkpoint, and then requeues the job.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
import attrs

from noether.core.config import ConfigError, Issue
from noether.core.schemas import ConfigSchema
from noether.core.schemas.slurm import SlurmConfig

from engine.cli import add_config_arguments, print_problems

SIGNAL_SECONDS_BEFORE_END = 120
"""SLURM sends SIGTERM to the batch shell this many seconds before the time limit (time to write a checkpoint)."""
FREE_PORT = """$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')"""
"""Without ``master_port``: a port the first node has free right now (the batch script runs on that node, the
one that hosts the rendezvous), so two jobs sharing a node never collide."""

FREE_PORT_IN_RANGE = """$(python3 -c 'import random, socket, sys
low, high = map(int, sys.argv[1:])
ports = list(range(low, high + 1))
random.shuffle(ports)
for port in ports:
    with socket.socket() as probe:
        try:
            probe.bind(("", port))
        except OSError:
            continue
    print(port)
    break
else:
    sys.exit("no free port in master_port [%d, %d] on " % (low, high) + socket.gethostname())' {low} {high}) || exit 1"""
"""With ``master_port: [low, high]``: a port of the range, chosen at random as Noether does, that is free on
the first node when the job starts; the job fails at once, saying so, when none is."""


def master_port_value(master_port: int | tuple[int, int] | None) -> str:
    """The right-hand side of the batch script's ``MASTER_PORT=`` line."""
    if master_port is None:
        return FREE_PORT
    if isinstance(master_port, tuple):
        return FREE_PORT_IN_RANGE.format(low=master_port[0], high=master_port[1])
    return str(master_port)

_DIRECTIVE_SAFE = re.compile(r"[\w@%+=:,./-]+")
"""Characters sbatch's ``#SBATCH`` parser takes literally (the same set as ``shlex.quote``'s)."""


def directive_value(text: str) -> str:
    """``text`` as sbatch reads it on an ``#SBATCH`` line: bare when plain, else double-quoted with escapes.

    sbatch parses directive lines itself (not the shell): quotes group words, a backslash escapes the next
    character and an unquoted ``#`` starts a comment. ``shlex.quote`` would be wrong here, because sbatch also
    drops the backslash of ``'a\\b'``.

    >>> directive_value("gpu"), directive_value("%x-%j.out")
    ('gpu', '%x-%j.out')
    >>> print(directive_value('my "big" job #1'))
    "my \\"big\\" job #1"
    """
    if _DIRECTIVE_SAFE.fullmatch(text):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def sbatch_directives(slurm: SlurmConfig) -> list[str]:
    """The ``#SBATCH`` lines of every set field of ``slurm``, in declaration order.

    The flags are those of ``slurm.to_srun_args()`` (``--flag=value``, ``_`` turned into ``-``, ``env_path``
    skipped), one per line and quoted for sbatch. One difference: sbatch's ``--kill-on-invalid-dep`` needs a
    value, so ``True`` / ``False`` become ``=yes`` / ``=no`` where ``to_srun_args`` writes a bare flag.

    Raises:
        ConfigError: a value with a line break (a directive is one line).

    >>> sbatch_directives(SlurmConfig(job_name="exp", nodes=2, kill_on_invalid_dep=True, env_path="env.sh"))
    ['#SBATCH --job-name=exp', '#SBATCH --nodes=2', '#SBATCH --kill-on-invalid-dep=yes']
    """
    lines, issues = [], []
    for field in attrs.fields(SlurmConfig):
        value = getattr(slurm, field.name)
        if value is None or field.name == "env_path":
            continue
        flag = "--" + field.name.replace("_", "-")
        if isinstance(value, bool):
            if field.name != "kill_on_invalid_dep":
                if value:
                    lines.append(f"#SBATCH {flag}")
                continue
            value = "yes" if value else "no"
        text = str(value)
        if "\n" in text or "\r" in text:
            issues.append(Issue(f"slurm.{field.name}", f"must be one line for an #SBATCH directive (got {text!r})"))
            continue
        lines.append(f"#SBATCH {flag}={directive_value(text)}")
    if issues:
        raise ConfigError(issues)
    return lines


def gpu_count(spec: str | int | None) -> int | None:
    """The number in a GPU spec (``4``, ``"4"``, ``"a100:4"``); ``None`` when unset.

    >>> gpu_count("a100:4"), gpu_count(2), gpu_count(None)
    (4, 2, None)
    """
    if spec is None:
        return None
    return int(str(spec).rsplit(":", 1)[-1])


def processes_per_node(slurm: SlurmConfig) -> int:
    """Workers torchrun starts on each node: one per GPU, else one per SLURM task, else one.

    The GPU count per node is ``gpus_per_node``, or ``gpus / nodes`` when both are numbers and divide evenly;
    without GPUs it is ``ntasks_per_node`` (e.g. CPU processes with gloo), and ``1`` otherwise.

    >>> processes_per_node(SlurmConfig(gpus_per_node="a100:4")), processes_per_node(SlurmConfig(gpus=8, nodes=2))
    (4, 4)
    >>> processes_per_node(SlurmConfig(ntasks_per_node=3)), processes_per_node(SlurmConfig())
    (3, 1)
    """
    per_node = gpu_count(slurm.gpus_per_node)
    total = gpu_count(slurm.gpus)
    if not per_node and total and isinstance(slurm.nodes, int) and total % slurm.nodes == 0:
        per_node = total // slurm.nodes
    return per_node or slurm.ntasks_per_node or 1


def render_sbatch(config: ConfigSchema, config_path: str | os.PathLike, overrides: Sequence[str] = (), *,
                  signal_seconds: int = SIGNAL_SECONDS_BEFORE_END) -> str:
    """The sbatch script that trains ``config`` on the nodes SLURM allocates (pure: no files, no environment).

    Args:
        config: a validated ``ConfigSchema`` (or subclass) with a ``slurm`` section.
        config_path: the YAML file the job loads again on the nodes (make it absolute when ``slurm.chdir`` is set).
        overrides: the ``key=value`` overrides the job passes on, as given on the command line.
        signal_seconds: seconds before the time limit at which SLURM sends SIGTERM to the batch shell.

    Returns:
        The script: ``#SBATCH`` lines, ``source <env_path>``, the rendezvous address, ``srun torchrun`` and the
        SIGTERM trap that requeues an interrupted run. Every user value is quoted (for sbatch or for bash).

    Raises:
        ConfigError: ``slurm`` is missing, or a value cannot be written on one ``#SBATCH`` line.
    """
    slurm = config.slurm
    if slurm is None:
        raise ConfigError([Issue("slurm", "noether-submit needs a slurm section, e.g. `slurm: {nodes: 1, "
                                          "gpus_per_node: 4, time: '12:00:00'}` in the YAML or +slurm.nodes=1 "
                                          "on the command line")])
    port = master_port_value(config.master_port)
    srun = ['srun --nodes="$SLURM_NNODES" --ntasks="$SLURM_NNODES" --ntasks-per-node=1 --kill-on-bad-exit=1']
    if slurm.cpus_per_task is not None:  # srun does not inherit sbatch's value (SLURM >= 22.05)
        srun.append(f"--cpus-per-task={slurm.cpus_per_task * (slurm.ntasks_per_node or 1)}")
    torchrun = ["torchrun", '--nnodes="$SLURM_NNODES"', f"--nproc-per-node={processes_per_node(slurm)}"]
    rendezvous = ['--rdzv-id="$SLURM_JOB_ID"', "--rdzv-backend=c10d", '--rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT"']
    train = ["-m", "engine.cli", shlex.quote(os.fspath(config_path)), *(shlex.quote(item) for item in overrides)]
    # unless the config names its runs, every attempt of the job gets a run id and a requeued attempt resumes
    # the previous one (from its latest checkpoint, exactly)
    names_runs = config.run_id is not None or config.resume_run_id is not None
    if not names_runs:
        train.append("$RUN_OVERRIDES")
    command = " \\\n    ".join(" ".join(part) for part in (srun, torchrun, rendezvous, train))
    lines = [
        "#!/bin/bash",
        "# Rendered by noether-submit: srun starts one torchrun per node, torchrun starts the workers.",
        *sbatch_directives(slurm),
        f"#SBATCH --signal=B:TERM@{signal_seconds}",
        "#SBATCH --requeue",
        "#SBATCH --open-mode=append",
        "",
    ]
    if slurm.env_path is not None:
        lines += [f"source {shlex.quote(slurm.env_path)}", ""]
    if not names_runs:
        run_name = re.sub(r"[^\w.-]+", "_", slurm.job_name or config.name or "run")
        lines += [
            f'RUN_ID="{run_name}-$SLURM_JOB_ID"',
            'ATTEMPT="${SLURM_RESTART_COUNT:-0}"',
            'RUN_OVERRIDES="run_id=$RUN_ID-$ATTEMPT"',
            'if [ "$ATTEMPT" -gt 0 ]; then  # requeued: continue the previous attempt from its latest checkpoint',
            '    RUN_OVERRIDES="$RUN_OVERRIDES resume_run_id=$RUN_ID-$((ATTEMPT - 1))"',
            "fi",
            "",
        ]
    lines += [
        'MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)',
        f"MASTER_PORT={port}",
        "export MASTER_ADDR MASTER_PORT",
        "",
        f"{command} &",
        "srun_pid=$!",
        "",
        f"# {signal_seconds} s before the time limit SLURM sends SIGTERM to this shell only (B:). Forward it to srun",
        "# (and so to torchrun and the workers): the run finishes its update and writes a resumable checkpoint.",
        "interrupted=0",
        "trap 'interrupted=1; kill -TERM \"$srun_pid\" 2>/dev/null' TERM",
        'wait "$srun_pid"',
        "status=$?",
        'if [ "$interrupted" = 1 ]; then',
        '    wait "$srun_pid"  # the first wait returns when the signal arrives; this one waits for the checkpoint',
        "    status=$?",
        '    if [ "$status" -ne 0 ]; then',
        '        scontrol requeue "$SLURM_JOB_ID"',
        "        exit 143  # 128 + SIGTERM: interrupted and requeued",
        "    fi",
        "fi",
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def script_path(config: ConfigSchema, config_path: str | os.PathLike) -> pathlib.Path:
    """A new file ``<output_path>/sbatch/<job name, run name or config stem>-<local time>.sh`` (not created)."""
    name = (config.slurm.job_name if config.slurm else None) or config.name or pathlib.Path(config_path).stem
    stem = re.sub(r"[^\w.-]+", "_", name) + "-" + time.strftime("%Y-%m-%d_%H-%M-%S")
    directory = pathlib.Path(config.output_path) / "sbatch"
    path, number = directory / f"{stem}.sh", 1
    while path.exists():
        path, number = directory / f"{stem}-{number}.sh", number + 1
    return path


def submit_main(argv: Sequence[str] | None = None) -> int:
    """Validate a config, render its sbatch script and submit it (``--dry-run``: print it); status 2 on problems."""
    parser = argparse.ArgumentParser(
        prog="noether-submit",
        description="Validate a config, render an sbatch script from its slurm section and submit it with sbatch. "
        "The script is written to <output_path>/sbatch/. Overrides are as for noether-train and are passed on "
        "to the job; add a slurm section on the command line with +slurm.nodes=2 +slurm.gpus_per_node=4.",
    )
    add_config_arguments(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the script instead of writing and submitting it")
    arguments = parser.parse_intermixed_args(argv)
    sys.path.insert(0, os.getcwd())  # components named by kind (my_project.model.Net) import from here
    from engine.run import load_config

    try:
        config = load_config(arguments.config, arguments.overrides)
        # the job runs in the submit directory or slurm.chdir: an absolute path is right in both
        script = render_sbatch(config, os.path.abspath(arguments.config), arguments.overrides)
    except ConfigError as exc:
        print_problems(arguments.config, exc)
        return 2
    except FileNotFoundError as exc:
        print(f"noether-submit: {exc}", file=sys.stderr)
        return 2
    if arguments.dry_run:
        print(script, end="")
        return 0
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        print("noether-submit: sbatch not found on PATH; use --dry-run to print the script", file=sys.stderr)
        return 2
    path = script_path(config, arguments.config)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(script, encoding="utf-8")
    result = subprocess.run([sbatch, "--parsable", str(path)], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        message = (result.stderr or result.stdout).strip()
        print(f"noether-submit: sbatch failed with exit status {result.returncode}: {message}", file=sys.stderr)
        print(f"script: {path}", file=sys.stderr)
        return 1
    job_id = result.stdout.strip().split(";", 1)[0]  # --parsable prints "<job id>[;<cluster>]"
    print(f"job_id: {job_id}\nscript: {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(submit_main())
