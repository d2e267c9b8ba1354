"""Initializers: start a model from another run's checkpoint, and read what a config asks to resume from.

A model lists initializers in ``model.initializers`` (``PreviousRunInitializer``, ``CheckpointInitializer``);
``apply_model_initializers`` loads each one's weights file from
``<output_path>/<run_id>[/<stage_name>]/checkpoints/{model}[_{info}]_cp={tag}_model.th`` into the model, in
order, after the model is built. A ``CompositeModel``'s initializers apply to every submodel (file names
``{model_name}.{attribute}``), before the submodels' own. Files covered by a manifest are verified against
their checksum before they are loaded; a directory without manifests (written by Noether) is read as it is.

``ResumeInitializer`` belongs to ``trainer.initializer`` and means the same as ``resume_run_id`` /
``resume_stage_name`` / ``resume_checkpoint``: ``resume_request`` reads either.
"""

from __future__ import annotations

import pathlib
import warnings
from collections.abc import Iterator, Mapping
from typing import Any

import attrs
import torch

from noether.core.config import ConfigError, Issue
from noether.core.schemas import (
    CheckpointInitializerConfig,
    PreviousRunInitializerConfig,
    ResumeInitializerConfig,
)
from noether.core.training import TrainingIteration

from engine.checkpoint import MANIFEST_SUFFIX, candidate_tags, file_checksum, file_stem, load_part, manifest_record
from engine.models import CompositeModel, Model, named_models, trained_models

_FIELDS = {"E": "epoch", "U": "update", "S": "sample"}
_RENAME_KEYS = {"src", "dst"}


class CorruptCheckpointError(RuntimeError):
    """A checkpoint file does not match the checksum its manifest recorded."""


def checkpoint_directory(output_path: pathlib.Path, run_id: str, stage_name: str | None) -> pathlib.Path:
    """``<output_path>/<run_id>[/<stage_name>]/checkpoints``.

    >>> checkpoint_directory(pathlib.Path("out"), "run1", "train").as_posix()
    'out/run1/train/checkpoints'
    """
    run_dir = pathlib.Path(output_path) / run_id
    return (run_dir / stage_name if stage_name else run_dir) / "checkpoints"


# ------------------------------------------------------------------------------------------------- resume
def resume_request(config: Any) -> tuple[str, str | None, str] | None:
    """What this run resumes from: ``(run_id, stage_name, tag)``, or ``None`` for a fresh run.

    Read from ``trainer.initializer`` (a ``ResumeInitializer``) or from the root fields ``resume_run_id``,
    ``resume_stage_name`` and ``resume_checkpoint``; not both. The stage defaults to this run's
    ``stage_name`` (as a resume within a staged pipeline expects), the tag to ``latest``. A dict tag becomes
    ``E3`` (``{epoch: 3}``) or ``E1_U4_S16`` (all three counts), the forms ``find_resume_point`` accepts.

    Raises:
        ConfigError: both ways are used; ``trainer.initializer`` is not a ``ResumeInitializer``; the
            initializer asks for something a resume cannot do; ``resume_checkpoint`` without ``resume_run_id``.

    >>> from types import SimpleNamespace as C
    >>> resume_request(C(trainer=C(initializer=None), resume_run_id="r1", resume_stage_name=None,
    ...                  resume_checkpoint=None, stage_name=None, model=C(name="m")))
    ('r1', None, 'latest')
    """
    initializer = config.trainer.initializer
    stage_default = config.stage_name
    if initializer is None:
        if config.resume_run_id is None:
            stray = [name for name in ("resume_stage_name", "resume_checkpoint") if getattr(config, name) is not None]
            if stray:
                raise ConfigError([Issue(name, f"needs resume_run_id (got {getattr(config, name)!r})") for name in stray])
            return None
        return config.resume_run_id, config.resume_stage_name or stage_default, config.resume_checkpoint or "latest"
    path = "trainer.initializer"
    if not isinstance(initializer, ResumeInitializerConfig):
        raise ConfigError([Issue(f"{path}.kind", "the trainer-level initializer must be a ResumeInitializer; "
                                 f"load weights with model.initializers instead (got {initializer.kind!r})")])
    issues = []
    if config.resume_run_id is not None:
        issues.append(Issue(path, f"resumes run {initializer.run_id!r} while resume_run_id asks for "
                            f"{config.resume_run_id!r}; use one of them"))
    if initializer.model_name != config.model.name:
        issues.append(Issue(f"{path}.model_name", f"a resume loads the checkpoints of this run's model "
                            f"{config.model.name!r} (got {initializer.model_name!r})"))
    if not initializer.load_optim:
        issues.append(Issue(f"{path}.load_optim", "a resume always loads the optimizer state (got false); "
                            "use model.initializers with a PreviousRunInitializer to load weights only"))
    if initializer.model_info is not None:
        issues.append(Issue(f"{path}.model_info", "a resume loads the trained weights, not EMA or other variants "
                            f"(got {initializer.model_info!r}); use model.initializers to start from them"))
    tag = "latest"
    if isinstance(initializer.checkpoint_tag, str):
        tag = initializer.checkpoint_tag
    elif initializer.checkpoint_tag is not None:
        try:
            iteration = _iteration_of(initializer.checkpoint_tag)
        except ValueError as exc:
            issues.append(Issue(f"{path}.checkpoint_tag", str(exc)))
        else:
            field = iteration.specified_fields[0]
            tag = str(iteration) if iteration.is_fully_specified else f"{field[0].upper()}{getattr(iteration, field)}"
    if issues:
        raise ConfigError(issues)
    return initializer.run_id, initializer.stage_name or stage_default, tag


# ------------------------------------------------------------------------------------- model initializers
@attrs.frozen
class _Target:
    """One initializer applied to one leaf model."""

    path: str
    """Config path of the initializer, e.g. ``model.initializers[0]``."""
    initializer: CheckpointInitializerConfig
    """Its config."""
    name: str
    """The leaf's checkpoint name in this run (the key of the optimizer state to load)."""
    source_name: str
    """The leaf's model name in the source run's file names."""
    leaf: torch.nn.Module
    """The model that receives the weights."""


def apply_model_initializers(
    model: torch.nn.Module, output_path: pathlib.Path, *, path_prefix: str = "model"
) -> dict[str, dict[str, Any]]:
    """Load the weights every ``initializers`` entry of the model (and of its submodels) asks for, in order.

    For each ``PreviousRunInitializer`` / ``CheckpointInitializer``: find
    ``{model_name}[_{model_info}]_cp={tag}_model.th`` in ``<output_path>/<run_id>[/<stage_name>]/checkpoints``
    (``model_name`` defaults to the model's checkpoint name; a ``CompositeModel``'s initializer loads
    ``{model_name}.{attribute}`` for each submodel), verify it against its manifest, apply ``keys_to_remove``
    (exact keys), ``patterns_to_remove`` (substring), ``patterns_to_rename`` (``{src, dst}``: every occurrence of
    the substring ``src`` replaced by ``dst``), ``patterns_to_instantiate`` (model keys containing the substring
    keep their current, freshly initialised values), then load strictly.

    Tags: ``latest`` (the newest verified checkpoint), ``last``, ``best_model.<metric>``, ``E10_U320_S20480``,
    or ``E10`` / ``U320`` / ``{epoch: 10}`` (the earliest checkpoint with that count;
    the rule is ``engine.checkpoint.candidate_tags``).

    Args:
        model: the built model (before the optimizers load any state and before DDP wraps it).
        output_path: the root ``output_path`` of the runs.
        path_prefix: config path of ``model`` in error messages.

    Returns:
        Checkpoint name -> optimizer state to load into that model's ``OptimizerWrapper``, for every
        ``CheckpointInitializer`` with ``load_optim: true`` (empty when none asks).

    Raises:
        ConfigError: a missing run, stage, model or tag (the message lists what exists), a malformed option,
            an initializer that does not fit (missing / unexpected keys, shape mismatches), ``load_optim`` on
            a model without optimizer.
        CorruptCheckpointError: a file does not match its manifest's checksum (the message names it).
    """
    targets = list(_targets(model, path_prefix))
    _check(targets, model)
    optimizer_states: dict[str, dict[str, Any]] = {}
    manifests: dict[pathlib.Path, dict[str, _Covered]] = {}
    for target in targets:
        init = target.initializer
        directory = _source_directory(pathlib.Path(output_path), init, target.path)
        if directory not in manifests:
            manifests[directory] = _manifest_index(directory)
        covered = manifests[directory]
        tag, weights_file = _resolve(directory, covered, target, init.model_info, "model")
        payload = load_part(weights_file)
        if not isinstance(payload, Mapping) or "state_dict" not in payload:
            raise ConfigError([Issue(target.path, f"{weights_file} holds no 'state_dict'; is it a weights file?")])
        state = _transform(dict(payload["state_dict"]), target)
        _load_strictly(target, state, weights_file)
        if init.load_optim:
            name = f"{file_stem(target.source_name, tag)}_optim.th"
            optim_file = directory / name
            if not optim_file.is_file():
                raise ConfigError([Issue(f"{target.path}.load_optim", f"checkpoint {tag!r} has no optimizer state of "
                                         f"model {target.source_name!r} ({optim_file} does not exist; was it saved "
                                         "with save_optim: false?)")])
            _verify(optim_file, covered)
            optimizer_states[target.name] = load_part(optim_file)
    return optimizer_states


def _targets(model: torch.nn.Module, path_prefix: str) -> Iterator[_Target]:
    """Every (initializer, leaf) pair in application order: a composite's own initializers before those of its
    submodels, each list in its order."""
    full_names = {id(leaf): name for name, leaf in named_models(model).items()}

    def walk(node: torch.nn.Module, path: str) -> Iterator[_Target]:
        if not isinstance(node, Model):
            return
        leaves = named_models(node)
        for index, initializer in enumerate(node.config.initializers or ()):
            for relative_name, leaf in leaves.items():
                full_name = full_names[id(leaf)]
                if initializer.model_name is None:
                    source = full_name
                elif isinstance(node, CompositeModel):
                    source = f"{initializer.model_name}.{relative_name.split('.', 1)[1]}"
                else:
                    source = initializer.model_name
                yield _Target(f"{path}.initializers[{index}]", initializer, full_name, source, leaf)
        if isinstance(node, CompositeModel):
            for attribute, submodel in node.submodels.items():
                yield from walk(submodel, f"{path}.{attribute}")

    yield from walk(model, path_prefix)


def _check(targets: list[_Target], model: torch.nn.Module) -> None:
    """Everything about the initializer configs that can be known without reading a file, all at once."""
    issues: list[Issue] = []
    seen: set[str] = set()
    trained = {id(leaf) for leaf in trained_models(model).values()}
    for target in targets:
        init, path = target.initializer, target.path
        first = path not in seen
        seen.add(path)
        if isinstance(init, ResumeInitializerConfig):
            if first:
                issues.append(Issue(f"{path}.kind", "a ResumeInitializer continues a whole run: set it as "
                                    "trainer.initializer or use resume_run_id; a model initializer loads weights "
                                    "with a PreviousRunInitializer"))
            continue
        if first:
            tag = init.checkpoint_tag
            if tag is None:
                issues.append(Issue(f"{path}.checkpoint_tag", "is required: latest, last, best_model.<metric>, "
                                    "E10_U320_S20480, E10 or {epoch: 10}"))
            elif isinstance(tag, Mapping):
                try:
                    _iteration_of(tag)
                except ValueError as exc:
                    issues.append(Issue(f"{path}.checkpoint_tag", str(exc)))
            for index, rename in enumerate(getattr(init, "patterns_to_rename", None) or ()):
                if "src" not in rename or not set(rename) <= _RENAME_KEYS or not rename["src"]:
                    issues.append(Issue(f"{path}.patterns_to_rename[{index}]", "must be {src: <old substring>, "
                                        f"dst: <new substring>}} with a non-empty src (got {dict(rename)!r})"))
        if init.load_optim and id(target.leaf) not in trained:
            issues.append(Issue(f"{path}.load_optim", f"model {target.name!r} has no optimizer (frozen or without "
                                "optimizer_config), so there is nothing to load the optimizer state into"))
    if issues:
        raise ConfigError(issues)


def _iteration_of(tag: Mapping[str, Any]) -> TrainingIteration:
    """A dict tag as an iteration: one count (to be completed from the directory) or all three."""
    unknown = sorted(set(tag) - set(_FIELDS.values()))
    if unknown:
        raise ValueError(f"keys must be among epoch, update, sample (got {', '.join(map(str, unknown))})")
    if len(tag) not in (1, 3):
        raise ValueError(f"must set one of epoch, update, sample, or all three (got {dict(tag)!r})")
    try:
        return TrainingIteration(**tag)
    except TypeError as exc:
        raise ValueError(f"counts must be integers (got {dict(tag)!r})") from exc


def _source_directory(output_path: pathlib.Path, init: CheckpointInitializerConfig, path: str) -> pathlib.Path:
    """The source run's checkpoints directory; a missing run or stage lists what exists."""
    return run_checkpoint_directory(output_path, init.run_id, init.stage_name,
                                    run_id_path=f"{path}.run_id", stage_path=f"{path}.stage_name")


def run_checkpoint_directory(output_path: pathlib.Path, run_id: str, stage_name: str | None, *, run_id_path: str,
                             stage_path: str) -> pathlib.Path:
    """``<output_path>/<run_id>[/<stage_name>]/checkpoints`` of an earlier run (to resume or initialise from).

    Raises:
        ConfigError: at ``run_id_path`` when the run does not exist (listing the newest runs there), or at
            ``stage_path`` when it has no checkpoints for that stage (listing the stages that have some).
    """
    run_dir = output_path / run_id
    if not run_dir.is_dir():
        runs = sorted(entry.name for entry in output_path.iterdir() if entry.is_dir()) if output_path.is_dir() else []
        known = ", ".join(runs[-20:]) if runs else "none"
        raise ConfigError([Issue(run_id_path, f"no run {run_id!r} in {output_path} (runs there: {known})")])
    directory = checkpoint_directory(output_path, run_id, stage_name)
    if not directory.is_dir():
        stages = sorted(entry.parent.name for entry in run_dir.glob("*/checkpoints") if entry.is_dir())
        has_own = (run_dir / "checkpoints").is_dir()
        known = ", ".join([*(["<none: the run directory itself>"] if has_own else []), *stages]) or "none"
        where = stage_path if stage_name or stages else run_id_path
        raise ConfigError([Issue(where, f"run {run_id!r} has no checkpoints at {directory} "
                                 f"(stages with checkpoints: {known})")])
    return directory


@attrs.frozen
class _Covered:
    """A file named by a manifest."""

    manifest: pathlib.Path
    checksum: str
    iteration: TrainingIteration


def _manifest_index(directory: pathlib.Path) -> dict[str, _Covered]:
    """File name -> the manifest that covers it, over every readable manifest in ``directory``."""
    index: dict[str, _Covered] = {}
    for manifest in sorted(directory.glob(f"*{MANIFEST_SUFFIX}")):
        record = manifest_record(manifest)
        if record is None:
            continue  # a manifest is written atomically: an unreadable one is not ours
        iteration, files = record
        for name, checksum in files.items():
            index[name] = _Covered(manifest, checksum, iteration)
    return index


def _verify(file: pathlib.Path, covered: Mapping[str, _Covered]) -> None:
    record = covered.get(file.name)
    if record is not None and file_checksum(file) != record.checksum:
        raise CorruptCheckpointError(
            f"{file} does not match the checksum in {record.manifest.name}: the file is corrupted or was replaced "
            "by a save that did not finish; choose another checkpoint_tag")


def _resolve(directory: pathlib.Path, covered: Mapping[str, _Covered], target: _Target, model_info: str | None,
             kind: str) -> tuple[str, pathlib.Path]:
    """The checkpoint tag and verified file the initializer's ``checkpoint_tag`` names."""
    init, path = target.initializer, target.path
    prefix, suffix = file_stem(target.source_name, "", model_info), f"_{kind}.th"
    present = {file.name[len(prefix):-len(suffix)]: file for file in directory.glob(f"{prefix}*{suffix}")
               if file.name.startswith(prefix)}
    if covered:  # our own run: a file no manifest names belongs to a save that did not finish
        present = {tag: file for tag, file in present.items() if file.name in covered}
    if not present:
        names = sorted({file.name.split("_cp=", 1)[0] for file in directory.glob("*_cp=*_model.th")})
        raise ConfigError([Issue(f"{path}.model_name" if init.model_name else path,
                                 f"no checkpoint of model {target.source_name!r}"
                                 + (f" with model_info {model_info!r}" if model_info else "")
                                 + f" in {directory} (models there: {', '.join(names) or 'none'})")])
    tag = init.checkpoint_tag
    iterations = {candidate: covered[file.name].iteration if covered else None for candidate, file in present.items()}
    candidates = candidate_tags(iterations, _iteration_of(tag) if isinstance(tag, Mapping) else tag)
    if not candidates:
        raise ConfigError([Issue(f"{path}.checkpoint_tag", f"no checkpoint {tag!r} of model "
                                 f"{target.source_name!r}" + (f" with model_info {model_info!r}" if model_info else "")
                                 + f" in {directory} (available: {', '.join(sorted(present))})")])
    if tag != "latest":
        _verify(present[candidates[0]], covered)
        return candidates[0], present[candidates[0]]
    skipped = []  # the newest checkpoint that verifies; a torn one (new file, old manifest) is skipped
    for candidate in candidates:
        try:
            _verify(present[candidate], covered)
        except CorruptCheckpointError as exc:
            skipped.append(str(exc))
            continue
        if skipped:
            warnings.warn("skipped checkpoints that do not verify: " + "; ".join(skipped), stacklevel=3)
        return candidate, present[candidate]
    raise CorruptCheckpointError(f"no checkpoint of model {target.source_name!r} verifies: " + "; ".join(skipped))


def _transform(state: dict[str, torch.Tensor], target: _Target) -> dict[str, torch.Tensor]:
    """``keys_to_remove``, ``patterns_to_remove``, ``patterns_to_rename``, ``patterns_to_instantiate``, in order."""
    init, path = target.initializer, target.path
    if not isinstance(init, PreviousRunInitializerConfig):
        return state
    if init.keys_to_remove:
        absent = [key for key in init.keys_to_remove if key not in state]
        if absent:
            raise ConfigError([Issue(f"{path}.keys_to_remove", f"not in the checkpoint: {', '.join(absent)} "
                                     f"(its keys: {_some(state)})")])
        for key in init.keys_to_remove:
            del state[key]
    for pattern in init.patterns_to_remove or ():
        state = {key: value for key, value in state.items() if pattern not in key}
    for rename in init.patterns_to_rename or ():
        source, destination = rename["src"], rename.get("dst", "")
        renamed: dict[str, torch.Tensor] = {}
        for key, value in state.items():
            if source in key:
                renamed[key.replace(source, destination)] = value  # overwrites an existing destination
            else:
                renamed.setdefault(key, value)
        state = renamed
    if init.patterns_to_instantiate:
        current = target.leaf.state_dict()
        for key, value in current.items():
            if any(pattern in key for pattern in init.patterns_to_instantiate):
                state[key] = value
    return state


def _some(keys: Mapping[str, Any] | list[str], limit: int = 12) -> str:
    names = list(keys)
    return ", ".join(names[:limit]) + (f", ... ({len(names)} in all)" if len(names) > limit else "")


def _load_strictly(target: _Target, state: dict[str, torch.Tensor], file: pathlib.Path) -> None:
    """``load_state_dict(strict=True)``, with every missing key, unexpected key and shape mismatch named."""
    current = target.leaf.state_dict()
    missing = [key for key in current if key not in state]
    unexpected = [key for key in state if key not in current]
    mismatched = [f"{key} (checkpoint {list(state[key].shape)}, model {list(value.shape)})"
                  for key, value in current.items() if key in state and state[key].shape != value.shape]
    if missing or unexpected or mismatched:
        parts = [f"missing keys: {_some(missing)}"] if missing else []
        parts += [f"unexpected keys: {_some(unexpected)}"] if unexpected else []
        parts += [f"shape mismatches: {_some(mismatched)}"] if mismatched else []
        raise ConfigError([Issue(target.path, f"{file.name} does not fit model {target.name!r}: " + "; ".join(parts)
                                 + " (adjust with keys_to_remove, patterns_to_remove, patterns_to_rename or "
                                 "patterns_to_instantiate)")])
    target.leaf.load_state_dict(state, strict=True)
