"""Process-group helpers that are identities in a single process (the common case costs nothing)."""

from __future__ import annotations

import atexit
import os
import sys
from typing import NoReturn

import torch
import torch.distributed as dist


def is_distributed() -> bool:
    """True inside an initialised ``torch.distributed`` process group."""
    return dist.is_available() and dist.is_initialized()


def rank() -> int:
    """This process's global rank (0 when not distributed)."""
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    """Number of processes (1 when not distributed)."""
    return dist.get_world_size() if is_distributed() else 1


_HOST_GROUP: list[dist.ProcessGroup] = []
"""A gloo group beside an nccl default group (made by ``init_process_group``): host values never touch the GPU."""


def _all_reduce(tensor: torch.Tensor, op: dist.ReduceOp) -> torch.Tensor:
    # nccl reduces CUDA tensors only: CPU values (stop flags, counters, logged means) go through the gloo group,
    # since a round trip through the GPU would wait for its queue to drain (a host sync every update)
    if tensor.device.type == "cpu" and dist.get_backend() == "nccl":
        if _HOST_GROUP:
            dist.all_reduce(tensor, op=op, group=_HOST_GROUP[0])
        else:  # a process group initialised elsewhere, without the gloo group
            on_device = tensor.to(torch.device("cuda", torch.cuda.current_device()))
            dist.all_reduce(on_device, op=op)
            tensor.copy_(on_device.cpu())
    else:
        dist.all_reduce(tensor, op=op)
    return tensor


def all_reduce_sum(tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over all processes (in place) and return it."""
    return _all_reduce(tensor, dist.ReduceOp.SUM) if is_distributed() else tensor


def all_reduce_mean(tensor: torch.Tensor) -> torch.Tensor:
    """Average ``tensor`` over all processes (in place) and return it."""
    if is_distributed():
        _all_reduce(tensor, dist.ReduceOp.SUM)
        tensor /= dist.get_world_size()
    return tensor


class LaunchError(RuntimeError):
    """The processes were started in a way the engine cannot run (e.g. an incomplete torchrun environment)."""


TORCHRUN_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
"""What torchrun sets for every process it starts."""


def launched_by_torchrun(environ: dict[str, str] | None = None) -> bool:
    """True when the process was started by torchrun (``WORLD_SIZE`` is set)."""
    return "WORLD_SIZE" in (os.environ if environ is None else environ)


def init_process_group(device: torch.device, environ: dict[str, str] | None = None) -> bool:
    """Join torchrun's process group (gloo on CPU, nccl on CUDA); return True if this call initialised it.

    Raises:
        LaunchError: torchrun's environment is incomplete (one line naming the missing variables).
    """
    environ = os.environ if environ is None else environ
    if is_distributed() or not launched_by_torchrun(environ):
        return False
    missing = [name for name in TORCHRUN_VARIABLES if name not in environ]
    if missing:
        raise LaunchError(f"distributed launch without {', '.join(missing)}: start the run with torchrun "
                           "(or noether-train --nproc-per-node N), which sets them")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend=backend, device_id=device if device.type == "cuda" else None)
    if backend == "nccl":  # collective: every rank creates it here, in the same order
        _HOST_GROUP[:] = [dist.new_group(backend="gloo")]
    return True


def wrap_model(model: torch.nn.Module, device: torch.device, *, find_unused_parameters: bool,
               static_graph: bool) -> torch.nn.Module:
    """Wrap ``model`` in ``DistributedDataParallel`` when distributed (BatchNorm layers become SyncBatchNorm);
    otherwise return it unchanged. A model without trainable parameters is not wrapped (nothing to sync)."""
    if not is_distributed() or not any(p.requires_grad for p in model.parameters()):
        return model
    if device.type == "cuda" and any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in model.modules()):
        # SyncBatchNorm runs on GPUs only; on CPU, DDP broadcasts rank 0's BatchNorm buffers instead
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    return torch.nn.parallel.DistributedDataParallel(
        model, device_ids=[device.index] if device.type == "cuda" else None,
        find_unused_parameters=find_unused_parameters, static_graph=static_graph,
    )


def max_over_processes(value: int) -> int:
    """The largest ``value`` of all processes (one all-reduce when distributed), so all ranks decide alike."""
    return max_each_over_processes(value)[0]


def max_each_over_processes(*values: int) -> list[int]:
    """Element-wise maxima of ``values`` over all processes, in ONE all-reduce (identity when not distributed)."""
    if not is_distributed():
        return list(values)
    return _all_reduce(torch.tensor(values, dtype=torch.int64), dist.ReduceOp.MAX).tolist()


def any_process_on_device(flag: torch.Tensor) -> torch.Tensor:
    """``flag`` (a 0-d bool tensor) or'ed over all processes, without a host read: an all-reduce on its device.

    >>> any_process_on_device(torch.tensor(True))
    tensor(True)
    """
    if not is_distributed():
        return flag
    as_int = flag.to(torch.uint8)  # all-reduce MAX of bool is not in every backend
    dist.all_reduce(as_int, op=dist.ReduceOp.MAX)
    return as_int.bool()


def any_process(flag: bool) -> bool:
    """True if ``flag`` is True on any process."""
    return bool(max_over_processes(int(flag))) if is_distributed() else flag


def gather_from_all(value: object) -> list[object]:
    """Every process's ``value``, in rank order (``[value]`` when not distributed)."""
    if not is_distributed():
        return [value]
    gathered: list[object] = [None] * dist.get_world_size()
    dist.all_gather_object(gathered, value)
    return gathered


def broadcast_from_main(value: object) -> object:
    """Rank 0's ``value`` on every process (e.g. a freshly generated run id)."""
    if not is_distributed():
        return value
    holder = [value]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def exit_worker(status: int) -> NoReturn:
    """End a worker process of a multi-process run with ``status``, without the interpreter's finalization.

    Why: gloo's worker threads free a finished collective (and its tensors) a moment after the collective has
    returned, and freeing a tensor Python has seen takes the GIL. When that moment falls into interpreter
    finalization, CPython unwinds the thread inside a destructor and the process aborts ("terminate called without
    an active exception", SIGABRT), so a finished run fails. ``destroy_process_group`` does not stop those threads:
    once ``DistributedDataParallel`` has imported ``torch._dynamo``, PyTorch keeps the group alive until exit.
    The atexit handlers still run and the standard streams are flushed; only the module teardown is skipped."""
    atexit._run_exitfuncs()  # what a normal exit runs first: logging's flush, stopping child processes
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
