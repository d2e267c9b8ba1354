"""Data pipelines: how a dataset's samples become a batch (``datasets.<key>.pipeline``).

A pipeline is any callable ``pipeline(samples: list[dict]) -> dict``, built by the engine once per dataset as
``cls(config)`` and run in the training loader and every evaluation loader of the dataset (in the main process
or in DataLoader workers). The pieces here are usable from Python and from YAML (``kind:
engine.data.pipeline.PadCollator`` or Noether's ``noether.data.pipeline.collators...`` names). See
``docs/data.md``.
"""

from engine.data.pipeline.collators import (
    Collator,
    ConcatCollator,
    ConcatSparseTensorCollator,
    DefaultCollator,
    PadCollator,
)
from engine.data.pipeline.errors import PipelineError
from engine.data.pipeline.multistage import MultiStagePipeline, build_stage
from engine.data.pipeline.processors import BatchProcessor, DuplicateKeys, PointSampling, RenameKeys, SampleProcessor

__all__ = [
    "BatchProcessor",
    "Collator",
    "ConcatCollator",
    "ConcatSparseTensorCollator",
    "DefaultCollator",
    "DuplicateKeys",
    "MultiStagePipeline",
    "PadCollator",
    "PipelineError",
    "PointSampling",
    "RenameKeys",
    "SampleProcessor",
    "build_stage",
]
