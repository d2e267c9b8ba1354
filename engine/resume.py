"""Exact resume: the random-number state of the process, finding the checkpoint a config asks to resume from,
and restoring weights, optimizer, trainer and callback state so the run continues bit-for-bit.

What makes a resume exact: the data order is a pure function of (seed, epoch) and the update number (the
sampler starts at any update), and everything else that influences the next update is saved in
``trainer.th``: counters, Python / NumPy / torch (and CUDA) random states, the grad scaler, callback
states (EMA shadows, best values, early-stopping patience) and the non-finite counter.
"""

from __future__ import annotations

import pathlib
import random
import warnings
from typing import Any

import attrs
import numpy as np
import torch

from noether.core.config import ConfigError, Issue
from noether.core.config.diff import UNSAFE, config_differences, describe_differences
from noether.core.training import TrainingIteration

from engine.checkpoint import (
    MANIFEST_SUFFIX,
    candidate_tags,
    checkpoint_problem,
    file_stem,
    load_part,
    manifest_record,
)


def rng_state() -> dict[str, Any]:
    """The process's random states as tensors and plain values (loadable with ``weights_only=True``)."""
    version, mt_state, gauss = random.getstate()
    kind, keys, position, has_gauss, cached_gaussian = np.random.get_state()
    state = {
        "python": {"version": version, "state": torch.tensor(mt_state, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "position": int(position),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng_state(state: dict[str, Any]) -> None:
    """Restore what ``rng_state`` returned."""
    python = state["python"]
    random.setstate((python["version"], tuple(python["state"].tolist()), python["gauss"]))
    numpy = state["numpy"]
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["position"],
                         numpy["has_gauss"], numpy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def rank_rng_state(states: list[dict[str, Any]] | dict[str, Any]) -> dict[str, Any]:
    """This rank's stored random state; a run resumed with more ranks than it had re-seeds the extra ranks
    from the first's state and their rank (deterministic, but not a continuation of anything)."""
    from engine.distributed import rank

    if isinstance(states, dict):  # one process's state
        return states
    if rank() < len(states):
        return states[rank()]
    torch.manual_seed(int(states[0]["torch"][:8].sum()) + rank())
    return rng_state()


@attrs.frozen
class ResumePoint:
    """A verified checkpoint to continue from."""

    directory: pathlib.Path
    """The ancestor run's ``checkpoints`` directory."""
    tag: str
    """The checkpoint's tag (``latest`` resolved to the actual one)."""
    files: dict[str, pathlib.Path]
    """File name -> path of every file of the checkpoint."""
    trainer_state: dict[str, Any] | None
    """The ancestor's ``trainer.th`` (``None`` for a weights-only checkpoint such as ``best_model...``)."""
    iteration: TrainingIteration
    """Where the ancestor stopped."""


def find_resume_point(directory: pathlib.Path, root_model: str, tag: str) -> ResumePoint:
    """Resolve ``resume_checkpoint`` to a verified checkpoint of ``root_model`` in ``directory``.

    ``latest``: the newest verified checkpoint that holds trainer state, preferring one that also holds the
    optimizer state. ``E3`` / ``U120`` / ``S4096``: the earliest such checkpoint at that epoch / update /
    sample. Any other tag (``last``, ``E1_U4_S16``, ``best_model.loss.val.total``) must exist exactly. The
    rule is ``engine.checkpoint.candidate_tags``'s. A checkpoint that fails verification is skipped with a
    warning naming the file.

    Raises:
        ConfigError: at ``resume_checkpoint`` (or ``resume_run_id`` when the run has no checkpoints), listing
            the tags that exist.
    """
    prefix = file_stem(root_model, "")
    records = {}
    for manifest in sorted(directory.glob(f"{prefix}*{MANIFEST_SUFFIX}")) if directory.is_dir() else []:
        record = manifest_record(manifest)
        if record is not None:
            records[manifest.name[len(prefix):-len(MANIFEST_SUFFIX)]] = record

    def holds(candidate: str, part: str) -> bool:
        return any(name.endswith(f"_cp={candidate}_{part}.th") for name in records[candidate][1])

    # `latest` and a count choose among the checkpoints that can continue a run; an exact tag may name any
    stored = {candidate: record[0] for candidate, record in records.items()
              if candidate == tag or holds(candidate, "trainer")}
    candidates = candidate_tags(stored, tag, prefer=lambda candidate: holds(candidate, "optim"))
    for candidate in candidates:
        manifest = directory / f"{prefix}{candidate}{MANIFEST_SUFFIX}"
        problem = checkpoint_problem(manifest)
        if problem is not None:
            warnings.warn(f"skipping checkpoint {candidate!r}: {problem}", stacklevel=2)
            continue
        files = {name: directory / name for name in records[candidate][1]}  # just verified: no second pass
        trainer_file = files.get(f"{file_stem(root_model, candidate)}_trainer.th")
        trainer_state = load_part(trainer_file) if trainer_file else None
        return ResumePoint(directory, candidate, files, trainer_state, records[candidate][0])
    if not records:
        others = sorted({manifest.name.split("_cp=", 1)[0] for manifest in directory.glob(f"*_cp=*{MANIFEST_SUFFIX}")})
        if others:  # the checkpoints of another model: the model's name changed, or another config was given
            raise ConfigError([Issue("model.name", f"the run being resumed has no checkpoint of model {root_model!r} "
                                     f"in {directory} (models there: {', '.join(others)})")])
    path = "resume_checkpoint" if records else "resume_run_id"
    known = ", ".join(sorted(records)) or f"none: {directory} holds no verified checkpoint"
    raise ConfigError([Issue(path, f"no verified checkpoint {tag!r} to resume from (available: {known})")])


RUN_IDENTITY = ("run_id", "resume_run_id", "resume_stage_name", "resume_checkpoint")
"""Root keys that differ on every resume by design."""


def check_resumable_config(stored: dict[str, Any], current: dict[str, Any], *, allow_unsafe: bool) -> str:
    """Compare the ancestor's config with this run's; return the grouped differences as text.

    Raises:
        ConfigError: unsafe differences (model, optimizer kind, ...) unless ``allow_unsafe``.
    """
    # a resumed run always has a new run id and names its ancestor: not worth reporting
    differences = [d for d in config_differences(stored, current) if d.path not in RUN_IDENTITY]
    unsafe = [difference for difference in differences if difference.category == UNSAFE]
    if unsafe and not allow_unsafe:
        raise ConfigError([
            Issue(difference.path, f"differs from the run being resumed ({difference.old!r} -> {difference.new!r}); "
                  "the stored weights or optimizer state may not fit: resume with --allow-unsafe-resume "
                  "(engine.run(..., allow_unsafe_resume=True)) to accept it")
            for difference in unsafe
        ])
    return describe_differences(differences)


def load_weights(point: ResumePoint, models: dict[str, torch.nn.Module]) -> None:
    """Load every model's weights from the checkpoint (strict: missing or unexpected keys are errors)."""
    for name, model in models.items():
        file = point.files.get(f"{file_stem(name, point.tag)}_model.th")
        if file is None:
            raise FileNotFoundError(f"checkpoint {point.tag!r} in {point.directory} has no weights of model {name!r}")
        model.load_state_dict(load_part(file)["state_dict"])


def load_optimizers(point: ResumePoint, optimizers: dict[str, Any]) -> bool:
    """Load every optimizer's state; return False (with a warning) when the checkpoint holds none."""
    complete = True
    for name, optimizer in optimizers.items():
        file = point.files.get(f"{file_stem(name, point.tag)}_optim.th")
        if file is None:
            complete = False
            continue
        optimizer.load_state_dict(load_part(file))
    if not complete:
        warnings.warn(f"checkpoint {point.tag!r} holds no optimizer state for some models; their optimizers "
                      "start fresh, so this resume is not exact", stacklevel=2)
    return complete
