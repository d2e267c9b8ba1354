"""``MultiStagePipeline``: sample processors per sample, collators into one batch, batch processors on it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from noether.core.config import ConfigError, Issue
from noether.core.config.errors import did_you_mean
from noether.core.config.kinds import import_kind
from noether.core.schemas.pipeline import MultiStagePipelineConfig

from engine.data.collate import collate
from engine.data.pipeline.errors import PipelineError

__all__ = ["MultiStagePipeline", "build_stage"]

STAGES = ("sample_processors", "collators", "batch_processors")
"""The stage lists of a multi-stage pipeline, in the order they run."""


def build_stage(spec: Mapping[str, Any], *, path: str) -> Callable[[Any], Any]:
    """Build one stage from ``{kind: <class path>, <argument>: <value>, ...}``: import the class, check the
    arguments against its signature, construct it.

    Args:
        spec: The stage's config.
        path: Its config path, e.g. ``datasets.train.pipeline.collators[0]``, for errors.

    Returns:
        The stage (a callable).

    Raises:
        ConfigError: The class cannot be imported, is not callable, or does not take these arguments; every
            problem of the stage at once.
    """
    kind = spec["kind"]
    cls = import_kind(kind, path=f"{path}.kind")
    arguments = {key: value for key, value in spec.items() if key != "kind"}
    if not callable(cls):
        raise ConfigError([Issue(f"{path}.kind", f"expected a class or function (got {type(cls).__name__} {kind!r})")])
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    if signature is not None:
        parameters = signature.parameters
        takes_any = any(p.kind is p.VAR_KEYWORD for p in parameters.values())
        named = [name for name, p in parameters.items() if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)]
        issues = [Issue(f"{path}.{key}", f"{kind} takes no argument {key!r}{did_you_mean(key, named)} "
                        f"(it takes {', '.join(named) or 'none'})")
                  for key in arguments if not takes_any and key not in parameters]
        issues += [Issue(path, f"{kind} needs the argument {name!r} (got {', '.join(arguments) or 'none'})")
                   for name in named if parameters[name].default is inspect.Parameter.empty
                   and name not in arguments and parameters[name].kind is not inspect.Parameter.VAR_POSITIONAL]
        if issues:
            raise ConfigError(issues)
    try:
        stage = cls(**{key: _thawed(value) for key, value in arguments.items()})
    except (ValueError, TypeError) as exc:
        raise ConfigError([argument_issue(str(exc), arguments, path, kind)]) from None
    if not callable(stage):
        raise ConfigError([Issue(f"{path}.kind", f"{kind}(...) built a {type(stage).__name__}, which is not callable")])
    return stage


def argument_issue(message: str, arguments: Mapping[str, Any], path: str, kind: str) -> Issue:
    """A constructor's complaint as an issue: at the argument it starts with (``num_points must be >= 1``),
    else at the stage."""
    first, _, rest = message.partition(" ")
    if first in arguments and rest:
        return Issue(f"{path}.{first}", rest)
    return Issue(path, f"{kind}: {message}")


def _thawed(value: Any) -> Any:
    """Config lists are tuples; stages get lists (and plain dicts), as from Python."""
    if isinstance(value, tuple):
        return [_thawed(item) for item in value]
    if isinstance(value, Mapping):
        return {key: _thawed(item) for key, item in value.items()}
    return value


def overlap_message(collators: Sequence[Any], key: str, first: int, second: int) -> str:
    """Two collators that produce the same key, named by position and class."""
    return (f"collators[{first}] ({_name(collators[first])}) and collators[{second}] "
            f"({_name(collators[second])}) both produce {key!r}; each key must come from one collator")


def _name(stage: Any) -> str:
    return getattr(stage, "__name__", None) or type(stage).__name__


class MultiStagePipeline:
    """Turn a micro-batch of samples into a batch in three stages, each a list applied in order:

    1. ``sample_processors``: each maps every sample to a new sample (point sampling, renaming, ...);
    2. ``collators``: each turns the samples into part of the batch, for its own keys; two collators that
       produce the same key are an error naming both. Without collators, every item is stacked
       (:func:`engine.data.collate`). Items that no collator lists are not in the batch;
    3. ``batch_processors``: each maps the batch to a new batch.

    Samples are not copied: processors return new dicts and never modify their input in place.

    Built from Python with the stage lists, or from a config (``cls(config)``, the way the engine builds a
    dataset's pipeline) whose stage lists hold ``{kind, arguments}`` mappings. A subclass may build its stages
    in ``__init__`` from its own config and pass them to ``super().__init__``, as in Noether.

    Args:
        config: A :class:`~noether.core.schemas.MultiStagePipelineConfig` (stages from ``kind`` mappings).
        sample_processors: Stage 1.
        collators: Stage 2.
        batch_processors: Stage 3.

    Raises:
        ConfigError: A stage of ``config`` cannot be built (paths relative to the pipeline).
        ValueError: Two collators declare the same output key.

    >>> import torch
    >>> from engine.data.pipeline import PadCollator, RenameKeys
    >>> pipeline = MultiStagePipeline(sample_processors=[RenameKeys({"x": "points"})],
    ...                               collators=[PadCollator(items=["points"], mask_key="mask")])
    >>> batch = pipeline([{"x": torch.ones(3, 2)}, {"x": torch.ones(1, 2)}])
    >>> sorted(batch), tuple(batch["points"].shape)
    (['mask', 'points'], (2, 3, 2))
    """

    config_schema = MultiStagePipelineConfig
    """The config class of the pipeline (stage lists of ``{kind, arguments}`` mappings)."""

    def __init__(self, config: MultiStagePipelineConfig | None = None, *,
                 sample_processors: Sequence[Callable] | None = None, collators: Sequence[Callable] | None = None,
                 batch_processors: Sequence[Callable] | None = None, **_noether_kwargs: Any) -> None:
        given = {"sample_processors": sample_processors, "collators": collators, "batch_processors": batch_processors}
        if isinstance(config, MultiStagePipelineConfig):
            issues: list[Issue] = []
            for stage_list in STAGES:
                if given[stage_list] is not None:
                    continue
                built = []
                for index, spec in enumerate(getattr(config, stage_list)):
                    try:
                        built.append(build_stage(spec, path=f"{stage_list}[{index}]"))
                    except ConfigError as exc:
                        issues.extend(exc.issues)
                given[stage_list] = built
            if issues:
                raise ConfigError(issues)
            overlap = self._collator_overlap(given["collators"])
            if overlap is not None:
                raise ConfigError([Issue(f"collators[{overlap[0]}]", overlap[1])])
        self.config = config
        """The config the pipeline was built from, or ``None``."""
        self.sample_processors = list(given["sample_processors"] or ())
        """Stage 1: per-sample processors."""
        self.collators = list(given["collators"] or ())
        """Stage 2: collators (empty: every item stacked)."""
        self.batch_processors = list(given["batch_processors"] or ())
        """Stage 3: batch processors."""
        for stage_list in STAGES:
            for index, stage in enumerate(getattr(self, stage_list)):
                if not callable(stage):
                    raise ValueError(f"{stage_list}[{index}] is not callable (got {type(stage).__name__})")
        overlap = self._collator_overlap(self.collators)
        if overlap is not None:
            raise ValueError(overlap[1])

    @staticmethod
    def _collator_overlap(collators: Sequence[Any]) -> tuple[int, str] | None:
        """The first collator that declares a key an earlier one declares, and the message naming both."""
        owners: dict[str, int] = {}
        for index, collator in enumerate(collators):
            for key in getattr(collator, "output_keys", None) or ():
                if key in owners:
                    return index, overlap_message(collators, key, owners[key], index)
                owners[key] = index
        return None

    def get_sample_processor(self, predicate: Callable[[Any], bool]) -> Any:
        """The one sample processor for which ``predicate`` is True (Noether's lookup).

        Raises:
            ValueError: None or several match.
        """
        found = [processor for processor in self.sample_processors if predicate(processor)]
        if len(found) != 1:
            raise ValueError(f"{len(found)} sample processors match the predicate (expected 1): {found}")
        return found[0]

    def __call__(self, samples: list[dict[str, Any]]) -> dict[str, Any]:
        """Process, collate and post-process one micro-batch.

        Raises:
            PipelineError: A stage failed or returned something other than a dict; the message names the stage,
                the item and the sample where they are known.
        """
        for index, processor in enumerate(self.sample_processors):
            stage = f"sample_processors[{index}] ({_name(processor)})"
            processed = []
            for position, sample in enumerate(samples):
                try:
                    out = processor(sample)
                except PipelineError as exc:
                    exc.sample = position if exc.sample is None else exc.sample
                    raise exc.located(stage=stage) from None
                except Exception as exc:  # noqa: BLE001 - a user stage's error, with where it happened
                    raise PipelineError(f"{type(exc).__name__}: {exc}", stage=stage, sample=position) from exc
                if not isinstance(out, dict):
                    raise PipelineError(f"returned a {type(out).__name__}, expected a dict (the processed sample)",
                                        stage=stage, sample=position)
                processed.append(out)
            samples = processed
        if self.collators:
            batch: dict[str, Any] = {}
            owners: dict[str, int] = {}
            for index, collator in enumerate(self.collators):
                stage = f"collators[{index}] ({_name(collator)})"
                part = self._run(collator, samples, stage, "the batch part")
                for key, value in part.items():
                    if key in owners:
                        raise PipelineError(overlap_message(self.collators, key, owners[key], index))
                    owners[key] = index
                    batch[key] = value
        else:
            batch = self._run(collate, samples, "default collation", "the batch")
        for index, processor in enumerate(self.batch_processors):
            batch = self._run(processor, batch, f"batch_processors[{index}] ({_name(processor)})", "the batch")
        return batch

    @staticmethod
    def _run(stage_fn: Callable[[Any], Any], data: Any, stage: str, expected: str) -> dict[str, Any]:
        try:
            out = stage_fn(data)
        except PipelineError as exc:
            raise exc.located(stage=stage) from None
        except Exception as exc:  # noqa: BLE001 - a user stage's error, with where it happened
            raise PipelineError(f"{type(exc).__name__}: {exc}", stage=stage) from exc
        if not isinstance(out, dict):
            raise PipelineError(f"returned a {type(out).__name__}, expected a dict ({expected})", stage=stage)
        return out

    def __repr__(self) -> str:
        return (f"MultiStagePipeline(sample_processors={self.sample_processors}, collators={self.collators}, "
                f"batch_processors={self.batch_processors})")
