"""Pipeline configs: how a dataset's samples become a batch (``datasets.<key>.pipeline``).

A pipeline is a component like a model: ``kind`` names its class, which is built once per dataset as
``cls(config)`` and called as ``pipeline(samples) -> batch``. A pipeline class narrows the config to its own
attrs subclass of :class:`PipelineConfig` through its ``config_schema``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from noether.core.schemas._checks import FieldProblem, frozen_value


@attrs.frozen(kw_only=True)
class PipelineConfig:
    """The pipeline of one dataset: its class; subclasses (a pipeline's ``config_schema``) add its fields."""

    kind: str
    """The pipeline class path, e.g. ``engine.data.pipeline.MultiStagePipeline`` or ``my_project.MyPipeline``."""


def _stage_specs(_instance: Any, attribute: Any, stages: Any) -> None:
    """Field rule: every stage is a mapping with a ``kind`` (a dotted class path) and that class's arguments."""
    for index, stage in enumerate(stages):
        kind = stage.get("kind") if isinstance(stage, Mapping) else None
        if not isinstance(kind, str) or "." not in kind:
            found = f"kind {kind!r}" if isinstance(stage, Mapping) else f"a {type(stage).__name__}"
            raise FieldProblem(f"expected a mapping with a 'kind' (a dotted class path) and the class's arguments "
                               f"(got {found})", f"{attribute.name}[{index}]")


def _frozen_stages(stages: Any) -> Any:
    """Field converter: the stage list as a tuple of stage mappings whose lists are tuples."""
    return tuple(frozen_value(stage) for stage in stages) if isinstance(stages, list | tuple) else stages


@attrs.frozen(kw_only=True)
class MultiStagePipelineConfig(PipelineConfig):
    """Noether's three-stage pipeline: sample processors per sample, collators into one batch, batch processors.

    Each stage entry is ``{kind: <class path>, <argument>: <value>, ...}``; the class is built with those keyword
    arguments (checked against its signature when the dataset is built).
    """

    kind: str = "engine.data.pipeline.MultiStagePipeline"
    """The pipeline class path (Noether's ``noether.data.pipeline.MultiStagePipeline`` names the same class)."""
    sample_processors: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=_frozen_stages, validator=_stage_specs)
    """Applied to every sample in order, each returning a new sample dict (point sampling, renaming, ...)."""
    collators: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=_frozen_stages, validator=_stage_specs)
    """Each turns the samples into part of the batch; their keys must not overlap. None: default collation."""
    batch_processors: tuple[dict[str, Any], ...] = attrs.field(default=(), converter=_frozen_stages, validator=_stage_specs)
    """Applied to the collated batch in order, each returning a new batch dict."""


def _noether_pipeline_kinds() -> dict[str, str]:
    """Noether's class paths of the pipeline pieces (package and module paths) and the engine's classes."""
    engine = "engine.data.pipeline."
    noether = "noether.data.pipeline."
    pieces = {
        ("", "multistage.", "MultiStagePipeline"): "MultiStagePipeline",
        ("", "sample_processor.", "SampleProcessor"): "SampleProcessor",
        ("", "batch_processor.", "BatchProcessor"): "BatchProcessor",
        ("", "collator.", "Collator"): "Collator",
        ("collators.", "collators.default.", "DefaultCollator"): "DefaultCollator",
        ("collators.", "collators.concat_sparse_tensor.", "ConcatSparseTensorCollator"): "ConcatSparseTensorCollator",
        ("sample_processors.", "sample_processors.point_sampling.", "PointSamplingSampleProcessor"): "PointSampling",
        ("sample_processors.", "sample_processors.rename_keys.", "RenameKeysSampleProcessor"): "RenameKeys",
        ("sample_processors.", "sample_processors.duplicate_keys.", "DuplicateKeysSampleProcessor"): "DuplicateKeys",
        ("batch_processors.", "batch_processors.rename_keys.", "RenameKeysBatchProcessor"): "RenameKeys",
    }
    return {noether + prefix + name: engine + target
            for (package, module, name), target in pieces.items() for prefix in (package, module)}


NOETHER_PIPELINE_KINDS: dict[str, str] = _noether_pipeline_kinds()
"""Noether's kind strings of pipeline pieces, resolved to the engine's classes of ``engine.data.pipeline``."""
