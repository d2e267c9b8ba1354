"""Where Noether's runtime classes live here: the table ``noether-migrate`` rewrites imports with.

Config schemas (``noether.core.schemas...``) need no rewrite: the same modules and names exist in this project's
``noether`` package. Runtime classes (trainer, model, dataset, callbacks, pipeline stages) live in ``engine``.
"""

from __future__ import annotations

import importlib

import attrs


@attrs.frozen
class Target:
    """Where one Noether runtime name is imported from here."""

    module: str
    """The engine module to import from, e.g. ``engine.callbacks``."""
    name: str
    """The name in that module (imported ``as`` the Noether name when the two differ)."""


def _same(module: str, *names: str) -> dict[str, Target]:
    return {name: Target(module, name) for name in names}


RUNTIME_NAMES: dict[str, dict[str, Target]] = {
    "noether.training.trainers": _same("engine", "BaseTrainer", "TrainerResult"),
    "noether.core.models": _same("engine", "Model", "CompositeModel"),
    "noether.data": _same("engine", "Dataset"),
    "noether.data.pipeline": _same(
        "engine.data.pipeline", "MultiStagePipeline", "SampleProcessor", "BatchProcessor", "Collator",
        "DefaultCollator", "PadCollator", "ConcatCollator", "ConcatSparseTensorCollator", "PointSampling",
        "RenameKeys", "DuplicateKeys"),
    "noether.core.callbacks": {
        **_same("engine.callbacks", "PeriodicCallback", "PeriodicDataIteratorCallback", "CheckpointCallback",
                "BestCheckpointCallback", "EmaCallback", "FixedEarlyStopper", "MetricEarlyStopper",
                "OnlineLossCallback", "BestMetricCallback", "TrackAdditionalOutputsCallback"),
        "CallbackBase": Target("engine.callbacks", "Callback"),
        "EarlyStopIteration": Target("engine.callbacks", "EarlyStop"),
    },
    "noether.training.callbacks": _same("engine.callbacks", "OfflineLossCallback"),
    "noether.core.optimizer": {**_same("engine", "OptimizerWrapper"), "Lion": Target("engine.lion", "Lion")},
}
"""Noether package -> {name -> where it lives here}. A name is found under its package or any submodule of it
(``noether.core.callbacks.periodic.PeriodicDataIteratorCallback`` is ``noether.core.callbacks``'s entry)."""

DROPPED_DECORATORS: dict[str, str] = {
    "noether.data.with_normalizers": "the engine normalizes every getitem_ property configured in "
                                     "dataset_normalizers, without a decorator",
}
"""Noether decorators the engine does not need (removed with their import), and why."""


def is_dropped_decorator(qualified: str | None) -> bool:
    """True for a Noether decorator the engine does not need, imported from its package or a submodule.

    >>> is_dropped_decorator("noether.data.base.dataset.with_normalizers"), is_dropped_decorator("functools.cache")
    (True, False)
    """
    if not qualified:
        return False
    module, _, name = qualified.rpartition(".")
    return any(name == dropped.rpartition(".")[2] and (module + ".").startswith(dropped.rpartition(".")[0] + ".")
               for dropped in DROPPED_DECORATORS)


def runtime_target(module: str, name: str) -> Target | None:
    """Where ``from <module> import <name>`` of Noether's runtime is imported from here; ``None`` when the table
    has no entry.

    >>> runtime_target("noether.core.callbacks.periodic", "PeriodicDataIteratorCallback")
    Target(module='engine.callbacks', name='PeriodicDataIteratorCallback')
    >>> runtime_target("noether.core.utils.common", "snake_type_name") is None
    True
    """
    for package, names in RUNTIME_NAMES.items():
        if (module == package or module.startswith(package + ".")) and name in names:
            return names[name]
    return None


def exists_here(module: str, name: str | None = None) -> bool:
    """True when ``module`` (and ``name`` in it, if given) exists in this project's torch-free ``noether`` package.

    >>> exists_here("noether.core.schemas.trainers", "BaseTrainerConfig")
    True
    >>> exists_here("noether.core.schemas", "NoSuchConfig")
    False
    """
    if not module.startswith("noether.core.schemas") and module != "noether.core.schemas":
        return False  # only the config schemas are mirrored; importing other noether modules proves nothing
    try:
        imported = importlib.import_module(module)
    except ImportError:
        return False
    return name is None or hasattr(imported, name)
