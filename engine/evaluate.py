"""After training: load a trained model in one call, evaluate a checkpoint, write predictions.

``load_model(run, checkpoint)`` rebuilds the model from the run's own resolved ``config.yaml`` and loads a
verified checkpoint into it. ``evaluate(run, inference_config)`` merges the run's resolved config with a small
inference config, loads the chosen checkpoint and runs the evaluation callbacks once (``max_*: 0``) in a new
stage directory of the run; nothing of the training run's files is touched.
"""

from __future__ import annotations

import os
import pathlib
from typing import Any

import torch

from noether.core.config import ConfigError, Issue
from noether.core.config.kinds import resolve_kind

from engine.checkpoint import MANIFEST_SUFFIX, file_stem, find_checkpoint, load_part
from engine.models import freeze, named_models

CONFIG_FILE = "config.yaml"
"""The resolved config a run writes into its directory; what ``load_model`` and ``evaluate`` rebuild from."""


def find_run_directory(run: str | os.PathLike, output_path: str | os.PathLike | None = None,
                       stage_name: str | None = None) -> pathlib.Path:
    """The directory of a finished run: ``run`` itself when it is a directory with a ``config.yaml``, else the
    run id ``run`` under ``output_path`` (and ``stage_name``).

    Args:
        run: A run directory (``outputs/2026-11-21_14-03-59_a3f9``) or a run id.
        output_path: Where run ids are looked up (the config's ``output_path``); ``None``: ``run`` must be a path.
        stage_name: The stage of the run (``<run>/<stage_name>``); ``None``: the run directory itself.

    Returns:
        The directory that holds the run's ``config.yaml`` and ``checkpoints``.

    Raises:
        FileNotFoundError: the run does not exist (listing the runs under ``output_path``), or has no
            ``config.yaml`` there (listing its stages that have one).
    """
    given = pathlib.Path(run)
    if output_path is not None and not (given.is_dir() and given.is_absolute()):
        root = pathlib.Path(output_path)
        if not (root / given).is_dir():
            runs = sorted(entry.name for entry in root.iterdir() if entry.is_dir()) if root.is_dir() else []
            raise FileNotFoundError(f"no run {str(run)!r} in {root} (runs there: {', '.join(runs[-20:]) or 'none'})")
        given = root / given
    elif not given.is_dir():
        hint = "" if output_path is not None else "; pass output_path to look a run id up"
        raise FileNotFoundError(f"no run directory {str(run)!r}{hint}")
    directory = given / stage_name if stage_name else given
    if not (directory / CONFIG_FILE).is_file():
        stages = sorted(entry.parent.name for entry in given.glob(f"*/{CONFIG_FILE}"))
        raise FileNotFoundError(f"{directory} holds no {CONFIG_FILE} of a run"
                                + (f" (stages with one: {', '.join(stages)}; pass stage_name)" if stages else ""))
    return directory


def normalized_tag(checkpoint: str) -> str:
    """A checkpoint tag as files name it: a ``best_model`` tag may be written with the metric key's ``/``.

    >>> normalized_tag("best_model.loss/val/total"), normalized_tag("E3")
    ('best_model.loss.val.total', 'E3')
    """
    return checkpoint.replace("/", ".") if checkpoint.startswith("best_model.") else checkpoint


def stored_model_infos(directory: pathlib.Path, root_name: str) -> list[str]:
    """The ``model_info`` values (``ema=0.999``) with checkpoints of ``root_name`` in ``directory``."""
    prefix = f"{root_name}_"
    infos = {manifest.name[len(prefix):].split("_cp=", 1)[0]
             for manifest in directory.glob(f"{prefix}*_cp=*{MANIFEST_SUFFIX}")} if directory.is_dir() else set()
    return sorted(info for info in infos if "=" in info and not info.startswith("cp="))


def load_weights_into(model: torch.nn.Module, directory: pathlib.Path, checkpoint: str,
                      model_info: str | None = None) -> str:
    """Load the verified checkpoint ``checkpoint`` (``latest``, ``last``, ``E3``, ``best_model.<metric>``, ...)
    of ``model`` (every submodel of a composite) from a run's ``checkpoints`` directory, strictly.

    Args:
        model: The model, built from the run's config.
        directory: The run's ``checkpoints`` directory.
        checkpoint: The tag (``engine.checkpoint.candidate_tags`` resolves ``latest`` and counts).
        model_info: ``ema=<factor>`` for the EMA weights; ``None``: the trained weights.

    Returns:
        The tag the checkpoint was found under (``latest`` resolved).

    Raises:
        FileNotFoundError: no such checkpoint (listing the tags that exist, and the ``model_info`` values that
            have checkpoints), or it holds no weights of one of the models.
        ValueError: the weights do not fit the model built from the config.
    """
    models = named_models(model)
    root_name = getattr(model, "name", None) or "model"
    tag = normalized_tag(checkpoint)
    try:
        files = find_checkpoint(directory, root_name, tag, model_info)
    except FileNotFoundError:
        prefix = file_stem(root_name, "", model_info)
        tags = sorted(manifest.name[len(prefix):-len(MANIFEST_SUFFIX)]
                      for manifest in directory.glob(f"{prefix}*{MANIFEST_SUFFIX}")) if directory.is_dir() else []
        others = [info for info in stored_model_infos(directory, root_name) if info != model_info]
        with_info = f" with model_info {model_info!r}" if model_info else ""
        message = (f"no verified checkpoint {tag!r} of model {root_name!r}{with_info} in {directory}; "
                   + (f"available: {', '.join(tags)}" if tags else f"there are no checkpoints{with_info}"))
        if others:
            message += f"; checkpoints with model_info: {', '.join(others)}"
        if model_info is not None:
            message += "; without model_info: the trained weights"
        raise FileNotFoundError(message) from None
    info = f"_{model_info}" if model_info else ""
    found_tag = tag
    for name, leaf in models.items():
        prefix = f"{name}{info}_cp="
        matches = [file for file in files if file.startswith(prefix) and file.endswith("_model.th")]
        if not matches:
            held = sorted(file.split("_cp=", 1)[0] for file in files if file.endswith("_model.th"))
            raise FileNotFoundError(f"checkpoint {tag!r} in {directory} holds no weights of model {name!r} "
                                    f"(it holds: {', '.join(held) or 'no weights'})")
        found_tag = matches[0][len(prefix):-len("_model.th")]
        state = load_part(files[matches[0]])["state_dict"]
        try:
            leaf.load_state_dict(state)
        except RuntimeError as exc:
            detail = " ".join(line.strip() for line in str(exc).splitlines()[1:] if line.strip())
            raise ValueError(f"checkpoint {found_tag!r} of model {name!r} does not fit the model built from the "
                             f"config: {detail or exc}") from None
    return found_tag


def build_model(config: Any, device: torch.device | str = "cpu") -> torch.nn.Module:
    """The model a run's config describes (frozen submodels frozen), on ``device``, with fresh weights.

    Raises:
        ConfigError: at ``model.kind`` when the class cannot be imported or is not a ``torch.nn.Module``.
    """
    model_class = resolve_kind(config.model.kind, torch.nn.Module, path="model.kind")
    model = model_class(config.model).to(device)
    for leaf in named_models(model).values():
        if getattr(leaf, "is_frozen", False):
            freeze(leaf)
    return model


def load_model(
    run: str | os.PathLike,
    checkpoint: str = "latest",
    *,
    model_info: str | None = None,
    device: torch.device | str = "cpu",
    output_path: str | os.PathLike | None = None,
    stage_name: str | None = None,
) -> torch.nn.Module:
    """The trained model of a run, in eval mode: built from the run's resolved ``config.yaml``, with the weights
    of one verified checkpoint (every submodel of a composite model, under its ``<composite>.<attribute>`` name).

    Args:
        run: The run directory, or its run id (then ``output_path`` says where runs are).
        checkpoint: ``latest`` (the newest verified checkpoint), ``last``, ``best_model.<metric>`` (``/`` or
            ``.`` between the metric's parts), an exact tag ``E1_U4_S16``, or one count ``E3`` / ``U120`` / ``S4096``.
        model_info: ``ema=<factor>`` to load the EMA weights an ``EmaCallback`` saved; ``None``: the trained ones.
        device: Where the model is put.
        output_path: The directory under which run ids are looked up.
        stage_name: The stage of the run that trained the model (``None``: the run directory itself).

    Returns:
        The model (``model.config`` is its config), in eval mode.

    Raises:
        FileNotFoundError: the run or the checkpoint does not exist; the message lists the runs or tags that do.
        ConfigError: the run's config names a model class that cannot be imported.
        ValueError: the checkpoint's weights do not fit the model.

    >>> load_model("no/such/run")
    Traceback (most recent call last):
    ...
    FileNotFoundError: no run directory 'no/such/run'; pass output_path to look a run id up
    """
    from engine.run import load_config

    directory = find_run_directory(run, output_path, stage_name)
    config = load_config(directory / CONFIG_FILE)
    model = build_model(config, device)
    load_weights_into(model, directory / "checkpoints", checkpoint, model_info)
    return model.eval()
