"""SLURM submission config: sbatch directives and the environment to source."""

from __future__ import annotations

import re

import attrs

from noether.core.schemas._checks import at_least, value_rule

_TIME = re.compile(r"(\d+-)?(\d+:)?\d+(:\d+)?")
_MEMORY = re.compile(r"\d+(\.\d+)?[KMGT]?B?", re.IGNORECASE)
_ARRAY = re.compile(r"[\d,\-:]+(%\d+)?")
_GPUS = re.compile(r"(\w+:)?\d+")
_NODES = re.compile(r"\d+(-\d+)?")


def validate_time_format(value: str | None) -> str | None:
    """Validate a SLURM time: ``minutes``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``, ``UNLIMITED``."""
    if value is None or value.upper() in ("UNLIMITED", "INFINITE") or _TIME.fullmatch(value):
        return value
    raise ValueError(
        "must be a SLURM time such as 30, 30:00, 12:00:00, 1-12, 1-12:30 or 1-12:30:15 " f"(got {value!r})"
    )


def validate_memory_format(value: str | None) -> str | None:
    """Validate a SLURM memory size: a number with an optional K/M/G/T suffix (``4G``, ``512M``, ``0``)."""
    if value is None or _MEMORY.fullmatch(value):
        return value
    raise ValueError(f"must be a memory size such as 4G, 512M, 1.5G or 0 (got {value!r})")


def validate_array_format(value: str | None) -> str | None:
    """Validate a SLURM job array: ``0-15``, ``1,3,5,7``, ``1-7%2``, ``1-7:2%4``."""
    if value is None or _ARRAY.fullmatch(value):
        return value
    raise ValueError(f"must be a job array such as 0-15, 1,3,5,7 or 1-7%2 (got {value!r})")


def validate_gpu_spec(value: str | int | None) -> str | int | None:
    """Validate a GPU count or ``type:count`` (``4``, ``a100:4``)."""
    if value is None:
        return value
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"must be >= 0 (got {value!r})")
        return value
    if _GPUS.fullmatch(value):
        return value
    raise ValueError(f"must be a GPU count or type:count such as 4 or a100:4 (got {value!r})")


def validate_nodes(value: str | int | None) -> str | int | None:
    """Validate a node count (>= 1) or range ``2-4``."""
    if value is None:
        return value
    if isinstance(value, int):
        if value < 1:
            raise ValueError(f"must be >= 1 (got {value!r})")
        return value
    if _NODES.fullmatch(value):
        return value
    raise ValueError(f"must be a node count or range such as 2 or 2-4 (got {value!r})")


@attrs.frozen(kw_only=True)
class SlurmConfig:
    """Configuration for SLURM job submission via sbatch; every field ``None`` means the cluster default."""

    job_name: str | None = None
    """Name of the job (``--job-name``)."""
    partition: str | None = None
    """Partition(s) to submit to (``--partition``), comma-separated."""
    reservation: str | None = None
    """Reserve resources from a named reservation (``--reservation``)."""
    nodes: int | str | None = attrs.field(default=None, validator=value_rule(validate_nodes))
    """Number of nodes (``--nodes``): a count or a range like ``2-4``."""
    ntasks: int | None = attrs.field(default=None, validator=at_least(1))
    """Total number of tasks (``--ntasks``)."""
    ntasks_per_node: int | None = attrs.field(default=None, validator=at_least(1))
    """Tasks per node (``--ntasks-per-node``)."""
    cpus_per_task: int | None = attrs.field(default=None, validator=at_least(1))
    """CPUs per task (``--cpus-per-task``)."""
    mem: str | None = attrs.field(default=None, validator=value_rule(validate_memory_format))
    """Memory per node (``--mem``), e.g. ``4G``, ``512M``, ``0`` for all."""
    gpus: str | int | None = attrs.field(default=None, validator=value_rule(validate_gpu_spec))
    """GPUs for the whole job (``--gpus``): a count or ``type:count`` like ``v100:2``."""
    gpus_per_node: str | int | None = attrs.field(default=None, validator=value_rule(validate_gpu_spec))
    """GPUs per node (``--gpus-per-node``): a count or ``type:count`` like ``a100:4``."""
    gres: str | None = None
    """Generic consumable resources (``--gres``), e.g. ``gpu:2,shard:1``."""
    time: str | None = attrs.field(default=None, validator=value_rule(validate_time_format))
    """Wall-clock limit (``--time``): ``minutes``, ``MM:SS``, ``HH:MM:SS``, ``D-HH``, ``D-HH:MM``, ``D-HH:MM:SS``."""
    begin: str | None = None
    """Defer the start (``--begin``), e.g. ``2024-01-15T10:00:00`` or ``now+1hour``."""
    output: str | None = None
    """File for stdout (``--output``); supports ``%j %x %A %a %N %u``."""
    error: str | None = None
    """File for stderr (``--error``); same symbols as ``output``."""
    array: str | None = attrs.field(default=None, validator=value_rule(validate_array_format))
    """Job array (``--array``), e.g. ``0-15``, ``1,3,5,7``, ``1-7%2``."""
    kill_on_invalid_dep: bool | None = None
    """Kill the job if a dependency is invalid (``--kill-on-invalid-dep``)."""
    nice: int | None = None
    """Scheduling priority adjustment (``--nice``); positive values lower the priority."""
    chdir: str | None = None
    """Working directory of the job (``--chdir``)."""
    env_path: str | None = None
    """Script sourced before the job runs (``source <env_path>``), e.g. a virtual environment's activate."""

    validate_time_format = staticmethod(validate_time_format)
    validate_memory_format = staticmethod(validate_memory_format)
    validate_array_format = staticmethod(validate_array_format)
    validate_gpu_spec = staticmethod(validate_gpu_spec)

    def to_srun_args(self) -> str:
        """Return the srun/sbatch arguments of every set field, in declaration order.

        ``env_path`` is not a directive and is skipped; booleans become bare flags when true and are
        omitted when false; everything else is ``--flag=value`` with ``_`` turned into ``-``.

        >>> SlurmConfig(job_name="exp", nodes=2, kill_on_invalid_dep=True, env_path="env.sh").to_srun_args()
        '--job-name=exp --nodes=2 --kill-on-invalid-dep'
        """
        args = []
        for field in attrs.fields(SlurmConfig):
            value = getattr(self, field.name)
            if value is None or field.name == "env_path" or value is False:
                continue
            flag = "--" + field.name.replace("_", "-")
            args.append(flag if value is True else f"{flag}={value}")
        return " ".join(args)
