"""Tests for ``engine.slurm``: the rendered sbatch script, quoting, the SIGTERM/requeue path and ``noether-submit``."""

from __future__ import annotations

import os
import pathlib
import shlex
import signal
import socket
import subprocess
import time

import attrs
import pytest

from engine.run import load_config
from engine.slurm import render_sbatch, sbatch_directives, submit_main
from noether.core.config import ConfigError
from noether.core.schemas.slurm import SlurmConfig

REPOSITORY = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE = "examples/poisson/train.yaml"
SLURM_OVERRIDES = [
    "+slurm.job_name=poisson", "+slurm.nodes=2", "+slurm.gpus_per_node=a100:4", "+slurm.cpus_per_task=16",
    "+slurm.time=12:00:00", "+slurm.output=logs/%x-%j.out", "+slurm.env_path=.venv/bin/activate",
]

GOLDEN = r"""#!/bin/bash
# Rendered by noether-submit: srun starts one torchrun per node, torchrun starts the workers.
#SBATCH --job-name=poisson
#SBATCH --nodes=2
#SBATCH --cpus-per-task=16
#SBATCH --gpus-per-node=a100:4
#SBATCH --time=12:00:00
#SBATCH --output=logs/%x-%j.out
#SBATCH --signal=B:TERM@120
#SBATCH --requeue
#SBATCH --open-mode=append

source .venv/bin/activate

RUN_ID="poisson-$SLURM_JOB_ID"
ATTEMPT="${SLURM_RESTART_COUNT:-0}"
RUN_OVERRIDES="run_id=$RUN_ID-$ATTEMPT"
if [ "$ATTEMPT" -gt 0 ]; then  # requeued: continue the previous attempt from its latest checkpoint
    RUN_OVERRIDES="$RUN_OVERRIDES resume_run_id=$RUN_ID-$((ATTEMPT - 1))"
fi

MASTER_ADDR=$(scontrol show hostnames "$SLURM_JOB_NODELIST" | head -n 1)
MASTER_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])')
export MASTER_ADDR MASTER_PORT

srun --nodes="$SLURM_NNODES" --ntasks="$SLURM_NNODES" --ntasks-per-node=1 --kill-on-bad-exit=1 --cpus-per-task=16 \
    torchrun --nnodes="$SLURM_NNODES" --nproc-per-node=4 \
    --rdzv-id="$SLURM_JOB_ID" --rdzv-backend=c10d --rdzv-endpoint="$MASTER_ADDR:$MASTER_PORT" \
    -m engine.cli examples/poisson/train.yaml +slurm.job_name=poisson +slurm.nodes=2 +slurm.gpus_per_node=a100:4 +slurm.cpus_per_task=16 +slurm.time=12:00:00 +slurm.output=logs/%x-%j.out +slurm.env_path=.venv/bin/activate trainer.max_epochs=20 $RUN_OVERRIDES &
srun_pid=$!

# 120 s before the time limit SLURM sends SIGTERM to this shell only (B:). Forward it to srun
# (and so to torchrun and the workers): the run finishes its update and writes a resumable checkpoint.
interrupted=0
trap 'interrupted=1; kill -TERM "$srun_pid" 2>/dev/null' TERM
wait "$srun_pid"
status=$?
if [ "$interrupted" = 1 ]; then
    wait "$srun_pid"  # the first wait returns when the signal arrives; this one waits for the checkpoint
    status=$?
    if [ "$status" -ne 0 ]; then
        scontrol requeue "$SLURM_JOB_ID"
        exit 143  # 128 + SIGTERM: interrupted and requeued
    fi
fi
exit "$status"
"""


@pytest.fixture(autouse=True)
def in_repository(monkeypatch: pytest.MonkeyPatch) -> None:
    """The example's components import from the working directory, as on a cluster's submit node."""
    monkeypatch.chdir(REPOSITORY)


def example(*overrides: str):
    return load_config(EXAMPLE, [*SLURM_OVERRIDES, *overrides])


def write_executable(path: pathlib.Path, text: str) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    path.chmod(0o755)
    return path


def fake_sbatch(directory: pathlib.Path, output: str = "4242;cluster", status: int = 0) -> pathlib.Path:
    """An ``sbatch`` that records its arguments and prints what ``sbatch --parsable`` prints."""
    return write_executable(directory / "sbatch", f'#!/bin/sh\necho "$@" > "{directory}/sbatch_args"\n'
                                                  f"echo {shlex.quote(output)}\nexit {status}\n")


# ------------------------------------------------------------------------------------------------ rendering
def test_render_sbatch_for_the_example_is_the_golden_script() -> None:
    """The example with a slurm section renders exactly the golden script."""
    overrides = [*SLURM_OVERRIDES, "trainer.max_epochs=20"]
    config = load_config(EXAMPLE, overrides)
    assert render_sbatch(config, EXAMPLE, overrides) == GOLDEN


def test_render_sbatch_uses_master_port_and_counts_gpus_of_the_whole_job() -> None:
    """``master_port`` is used as is; ``gpus=8`` on 2 nodes starts 4 workers per node."""
    config = attrs.evolve(example("master_port=29500"), slurm=SlurmConfig(nodes=2, gpus=8))
    script = render_sbatch(config, EXAMPLE)
    assert "MASTER_PORT=29500\n" in script
    assert "--nproc-per-node=4 " in script
    assert "#SBATCH --nodes=2\n#SBATCH --gpus=8\n#SBATCH --signal=B:TERM@120\n" in script
    assert "source" not in script and "--cpus-per-task" not in script


def test_render_sbatch_is_a_valid_bash_script() -> None:
    """``bash -n`` accepts the rendered script."""
    subprocess.run(["bash", "-n"], input=render_sbatch(example(), EXAMPLE, ["a=b c"]), text=True, check=True)


@pytest.mark.parametrize("slurm", [
    SlurmConfig(job_name="exp", partition="gpu", nodes=2, ntasks_per_node=4, cpus_per_task=8, mem="64G",
                gpus_per_node="a100:4", time="12:00:00", env_path="env.sh", chdir="/scratch/exp"),
    SlurmConfig(reservation="r", nodes="2-4", ntasks=8, gpus=2, gres="gpu:2,shard:1", begin="now+1hour",
                output="%x-%j.out", error="%x-%j.err", array="1-7%2", nice=-5),
], ids=["reference", "other-fields"])
def test_directives_have_the_flags_of_to_srun_args(slurm: SlurmConfig) -> None:
    """Without values that need quoting, the directives are ``to_srun_args()``, one per line."""
    directives = [line.removeprefix("#SBATCH ") for line in sbatch_directives(slurm)]
    assert " ".join(directives) == slurm.to_srun_args()


@pytest.mark.parametrize(("value", "line"), [(True, "--kill-on-invalid-dep=yes"), (False, "--kill-on-invalid-dep=no")])
def test_kill_on_invalid_dep_gets_the_value_sbatch_requires(value: bool, line: str) -> None:
    """sbatch's ``--kill-on-invalid-dep`` takes yes/no, unlike the bare flag of ``to_srun_args``."""
    assert sbatch_directives(SlurmConfig(kill_on_invalid_dep=value)) == [f"#SBATCH {line}"]


def test_odd_values_are_quoted_for_sbatch_and_for_bash(tmp_path: pathlib.Path) -> None:
    """Directive values are double-quoted for sbatch's parser; the env path, config and overrides for bash."""
    slurm = SlurmConfig(job_name='my "big" job #1', partition="a b", output="/tmp/o\\u $x.out",
                        env_path="/opt/my env/$HOME/it's/activate")
    config_path = "/data/my configs/train's.yaml"
    overrides = ["name=it's $(rm -rf ~)", "trainer.max_epochs=3"]
    script = render_sbatch(attrs.evolve(example(), slurm=slurm), config_path, overrides)
    assert '#SBATCH --job-name="my \\"big\\" job #1"\n' in script
    assert '#SBATCH --partition="a b"\n' in script
    assert '#SBATCH --output="/tmp/o\\\\u $x.out"\n' in script
    assert "source '/opt/my env/$HOME/it'\"'\"'s/activate'\n" in script
    # bash hands the config path and the overrides to engine.cli unchanged
    train_line = next(line for line in script.splitlines() if line.lstrip().startswith("-m engine.cli"))
    assert shlex.split(train_line.removesuffix(" &")) == ["-m", "engine.cli", config_path, *overrides, "$RUN_OVERRIDES"]
    assert 'RUN_ID="my_big_job_1-$SLURM_JOB_ID"\n' in script  # the job name, made safe for a run id


def test_a_config_that_names_its_runs_keeps_them() -> None:
    """With ``run_id`` or ``resume_run_id`` set, the script passes no run ids of its own."""
    script = render_sbatch(example("run_id=mine"), EXAMPLE)
    assert "RUN_OVERRIDES" not in script and "RUN_ID" not in script


def test_a_value_with_a_line_break_is_a_config_problem() -> None:
    """A directive is one line: a line break in a slurm value is reported with its path."""
    config = attrs.evolve(example(), slurm=SlurmConfig(job_name="a\nb", partition="x\ry"))
    with pytest.raises(ConfigError) as caught:
        render_sbatch(config, EXAMPLE)
    assert str(caught.value).splitlines() == [
        "slurm.job_name: must be one line for an #SBATCH directive (got 'a\\nb')",
        "slurm.partition: must be one line for an #SBATCH directive (got 'x\\ry')",
    ]


# ---------------------------------------------------------------------------------- the SIGTERM / requeue path
FAKE_SRUN = """#!/bin/bash
echo "$MASTER_ADDR:$MASTER_PORT $*" > "$FAKE_DIR/srun_args"
if [ -z "$FAKE_SRUN_BLOCK" ]; then exit "$FAKE_SRUN_STATUS"; fi
trap 'touch "$FAKE_DIR/srun_terminated"; exit "$FAKE_SRUN_STATUS"' TERM
touch "$FAKE_DIR/srun_started"
while true; do sleep 0.05; done
"""
FAKE_SCONTROL = """#!/bin/bash
echo "$*" >> "$FAKE_DIR/scontrol_calls"
if [ "$1" = show ]; then printf 'node7\\nnode8\\n'; fi
"""


def start_script(tmp_path: pathlib.Path, *, block: bool, srun_status: int, restarts: int = 0,
                 master_port: int | tuple[int, int] | None = None, stderr: int | None = None) -> subprocess.Popen:
    """Run the rendered script under bash with fake ``srun`` and ``scontrol`` and SLURM's variables."""
    write_executable(tmp_path / "bin" / "srun", FAKE_SRUN)
    write_executable(tmp_path / "bin" / "scontrol", FAKE_SCONTROL)
    script = tmp_path / "job.sh"
    config = attrs.evolve(example(), slurm=SlurmConfig(nodes=2), master_port=master_port)
    script.write_text(render_sbatch(config, EXAMPLE), encoding="utf-8")
    environment = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
                   "FAKE_DIR": str(tmp_path), "FAKE_SRUN_BLOCK": "1" if block else "",
                   "FAKE_SRUN_STATUS": str(srun_status), "SLURM_JOB_ID": "4242",
                   "SLURM_JOB_NODELIST": "node[7-8]", "SLURM_NNODES": "2", "SLURM_RESTART_COUNT": str(restarts)}
    return subprocess.Popen(["bash", str(script)], env=environment, stderr=stderr, text=True)


def wait_for(path: pathlib.Path, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not path.exists():
        assert time.monotonic() < deadline, f"{path.name} did not appear"
        time.sleep(0.02)


def test_script_exports_the_rendezvous_and_passes_on_the_exit_status(tmp_path: pathlib.Path) -> None:
    """Without a signal the script exits with srun's status; MASTER_ADDR is the first node, the port a free one
    there; the first attempt of the job gets its run id."""
    process = start_script(tmp_path, block=False, srun_status=3)
    assert process.wait(timeout=20) == 3
    arguments = (tmp_path / "srun_args").read_text()
    address, _, rest = arguments.partition(" ")
    host, _, port = address.partition(":")
    assert host == "node7" and 1024 <= int(port) <= 65535
    assert rest.startswith("--nodes=2 --ntasks=2 --ntasks-per-node=1 ")
    assert arguments.endswith(" -m engine.cli examples/poisson/train.yaml run_id=poisson-4242-0\n")
    assert (tmp_path / "scontrol_calls").read_text() == "show hostnames node[7-8]\n"


def test_a_port_range_gives_a_free_port_of_the_range(tmp_path: pathlib.Path) -> None:
    """``master_port: [low, high]``: the script exports a port of the range that is free on the first node."""
    with socket.socket() as taken:
        taken.bind(("", 0))
        low = taken.getsockname()[1]
        taken.listen()
        process = start_script(tmp_path, block=False, srun_status=0, master_port=(low, low + 1))
        assert process.wait(timeout=20) == 0
    port = int((tmp_path / "srun_args").read_text().split(" ", 1)[0].rpartition(":")[2])
    assert port == low + 1  # low itself is taken


def test_a_port_range_with_no_free_port_fails_the_job_at_once(tmp_path: pathlib.Path) -> None:
    """Every port of the range taken: the job exits 1 with one line naming the range, before srun starts."""
    with socket.socket() as taken:
        taken.bind(("", 0))
        port = taken.getsockname()[1]
        taken.listen()
        process = start_script(tmp_path, block=False, srun_status=0, master_port=(port, port), stderr=subprocess.PIPE)
        _, stderr = process.communicate(timeout=20)
    assert process.returncode == 1
    assert stderr == f"no free port in master_port [{port}, {port}] on {socket.gethostname()}\n"
    assert not (tmp_path / "srun_args").exists()


def test_a_requeued_attempt_resumes_the_previous_one(tmp_path: pathlib.Path) -> None:
    """The second attempt of a job (SLURM_RESTART_COUNT=1) resumes the first attempt's run."""
    process = start_script(tmp_path, block=False, srun_status=0, restarts=1)
    assert process.wait(timeout=20) == 0
    assert (tmp_path / "srun_args").read_text().endswith(
        " -m engine.cli examples/poisson/train.yaml run_id=poisson-4242-1 resume_run_id=poisson-4242-0\n")


def test_sigterm_is_forwarded_and_the_job_requeued(tmp_path: pathlib.Path) -> None:
    """SIGTERM to the batch shell reaches srun; the interrupted run is requeued and the script exits 143."""
    process = start_script(tmp_path, block=True, srun_status=1)
    wait_for(tmp_path / "srun_started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 143
    assert (tmp_path / "srun_terminated").exists()
    assert (tmp_path / "scontrol_calls").read_text().splitlines() == ["show hostnames node[7-8]", "requeue 4242"]


def test_sigterm_after_a_successful_run_does_not_requeue(tmp_path: pathlib.Path) -> None:
    """When srun still ends with status 0 after the signal (training finished), the job is not requeued."""
    process = start_script(tmp_path, block=True, srun_status=0)
    wait_for(tmp_path / "srun_started")
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=20) == 0
    assert "requeue" not in (tmp_path / "scontrol_calls").read_text()


# ------------------------------------------------------------------------------------------------ noether-submit
def test_dry_run_prints_the_script_and_writes_nothing(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture) -> None:
    """``--dry-run`` prints the script for the absolute config path and writes no file."""
    overrides = [*SLURM_OVERRIDES, f"output_path={tmp_path}"]
    assert submit_main([EXAMPLE, *overrides, "--dry-run"]) == 0
    expected = render_sbatch(load_config(EXAMPLE, overrides), str(REPOSITORY / EXAMPLE), overrides)
    assert capsys.readouterr().out == expected
    assert not (tmp_path / "sbatch").exists()
    assert submit_main([EXAMPLE, "--dry-run", *overrides]) == 0  # options and overrides in any order
    assert capsys.readouterr().out == expected


def test_invalid_config_is_reported_before_anything_is_rendered(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
) -> None:
    """A bad config prints its problems and exits 2; no script is written and sbatch is not called."""
    fake_sbatch(tmp_path / "bin")
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    status = submit_main([EXAMPLE, *SLURM_OVERRIDES, f"output_path={tmp_path}", "trainer.max_epochs=x",
                          "slurm.time=1h"])
    assert status == 2
    assert capsys.readouterr().err.splitlines() == [
        f"{EXAMPLE}: 2 problems",
        "trainer.max_epochs: expected an integer (got str 'x')  [override 9 'trainer.max_epochs=x']",
        "slurm.time: must be a SLURM time such as 30, 30:00, 12:00:00, 1-12, 1-12:30 or 1-12:30:15 (got '1h')  "
        "[override 10 'slurm.time=1h']",
    ]
    assert not (tmp_path / "sbatch").exists() and not (tmp_path / "bin" / "sbatch_args").exists()


def test_missing_slurm_section_is_one_problem(tmp_path: pathlib.Path, capsys: pytest.CaptureFixture) -> None:
    """A config without ``slurm`` is one problem at path ``slurm`` with the remedy (exit 2)."""
    assert submit_main([EXAMPLE, f"output_path={tmp_path}", "--dry-run"]) == 2
    assert capsys.readouterr().err == (
        f"{EXAMPLE}: 1 problem\n"
        "slurm: noether-submit needs a slurm section, e.g. `slurm: {nodes: 1, gpus_per_node: 4, time: '12:00:00'}` "
        "in the YAML or +slurm.nodes=1 on the command line\n"
    )


def test_missing_config_file_exits_2(capsys: pytest.CaptureFixture) -> None:
    """A config file that does not exist is one line and exit status 2."""
    assert submit_main(["no/such/config.yaml", "--dry-run"]) == 2
    assert "no/such/config.yaml" in capsys.readouterr().err


def test_sbatch_missing_from_path_is_one_line(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
) -> None:
    """Without ``sbatch`` on PATH, one line names the remedy (exit 2) and no script is written."""
    (tmp_path / "empty").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert submit_main([EXAMPLE, *SLURM_OVERRIDES, f"output_path={tmp_path / 'out'}"]) == 2
    assert capsys.readouterr().err == "noether-submit: sbatch not found on PATH; use --dry-run to print the script\n"
    assert not (tmp_path / "out").exists()


def test_submission_writes_the_script_and_prints_the_job_id(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
) -> None:
    """With an ``sbatch`` on PATH the script lands under ``<output_path>/sbatch/`` and its job id is printed."""
    fake_sbatch(tmp_path / "bin")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    overrides = [*SLURM_OVERRIDES, f"output_path={tmp_path / 'out'}"]
    assert submit_main([EXAMPLE, *overrides]) == 0
    (script,) = (tmp_path / "out" / "sbatch").iterdir()
    assert script.name.startswith("poisson-") and script.suffix == ".sh"
    assert capsys.readouterr().out == f"job_id: 4242\nscript: {script}\n"
    assert script.read_text() == render_sbatch(load_config(EXAMPLE, overrides), str(REPOSITORY / EXAMPLE), overrides)
    assert (tmp_path / "bin" / "sbatch_args").read_text() == f"--parsable {script}\n"


def test_failing_sbatch_is_reported(
    tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture,
) -> None:
    """sbatch's own error is passed on with exit status 1; the written script is named for a manual retry."""
    fake_sbatch(tmp_path / "bin", output="sbatch: error: invalid partition specified", status=1)
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    assert submit_main([EXAMPLE, *SLURM_OVERRIDES, f"output_path={tmp_path / 'out'}"]) == 1
    (script,) = (tmp_path / "out" / "sbatch").iterdir()
    assert capsys.readouterr().err == (
        "noether-submit: sbatch failed with exit status 1: sbatch: error: invalid partition specified\n"
        f"script: {script}\n"
    )


def test_the_documented_script_is_the_golden_script() -> None:
    """``docs/distributed.md`` shows exactly what ``render_sbatch`` renders for its example command."""
    text = (REPOSITORY / "docs" / "distributed.md").read_text(encoding="utf-8")
    documented = text.split("```bash\n", 1)[1].split("```", 1)[0]
    assert documented == GOLDEN


def test_every_slurm_field_renders_its_directive_line_by_line() -> None:
    """With every ``SlurmConfig`` field set, the script's header is exactly one directive per field in declaration
    order (kill_on_invalid_dep as sbatch's yes/no), the requeue directives, and ``source`` for ``env_path``."""
    slurm = SlurmConfig(job_name="exp", partition="gpu,cpu", reservation="res", nodes="2-4", ntasks=8,
                        ntasks_per_node=4, cpus_per_task=8, mem="64G", gpus="a100:8", gpus_per_node=4,
                        gres="gpu:2,shard:1", time="1-12:00:00", begin="now+1hour", output="logs/%x-%j.out",
                        error="logs/%x-%j.err", array="0-15%4", kill_on_invalid_dep=True, nice=10,
                        env_path="env.sh", chdir="/scratch/exp")
    script = render_sbatch(attrs.evolve(example(), slurm=slurm), "/abs/train.yaml")
    assert script.splitlines()[:27] == [
        "#!/bin/bash",
        "# Rendered by noether-submit: srun starts one torchrun per node, torchrun starts the workers.",
        "#SBATCH --job-name=exp", "#SBATCH --partition=gpu,cpu", "#SBATCH --reservation=res", "#SBATCH --nodes=2-4",
        "#SBATCH --ntasks=8", "#SBATCH --ntasks-per-node=4", "#SBATCH --cpus-per-task=8", "#SBATCH --mem=64G",
        "#SBATCH --gpus=a100:8", "#SBATCH --gpus-per-node=4", "#SBATCH --gres=gpu:2,shard:1",
        "#SBATCH --time=1-12:00:00", "#SBATCH --begin=now+1hour", "#SBATCH --output=logs/%x-%j.out",
        "#SBATCH --error=logs/%x-%j.err", "#SBATCH --array=0-15%4", "#SBATCH --kill-on-invalid-dep=yes",
        "#SBATCH --nice=10", "#SBATCH --chdir=/scratch/exp", "#SBATCH --signal=B:TERM@120", "#SBATCH --requeue",
        "#SBATCH --open-mode=append", "", "source env.sh", "",
    ]
    assert ('srun --nodes="$SLURM_NNODES" --ntasks="$SLURM_NNODES" --ntasks-per-node=1 --kill-on-bad-exit=1 '
            "--cpus-per-task=32 \\\n    torchrun --nnodes=\"$SLURM_NNODES\" --nproc-per-node=4 \\\n") in script
