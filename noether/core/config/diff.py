"""What changed between a stored run's config and the config of the run that resumes it, and how much it matters.

Resuming continues a run from its exact update; some config changes are expected (more epochs, other
logging), some change what the schedules do, and some make the stored weights or optimizer state meaningless
(another model or optimizer kind). The engine prints the differences grouped this way and refuses the
unsafe ones unless asked to allow them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

HARMLESS = "harmless"
"""Logging, callbacks, tracking, output locations, run ids: nothing the trained state depends on."""
SCHEDULE_CHANGING = "schedule-changing"
"""The end of training, batch sizes, the optimizer's hyper-parameters and schedules, the seed: the run
continues, but its remaining updates differ from what the stored run would have done."""
UNSAFE = "unsafe"
"""The model's architecture or kind, the optimizer kind, a dataset kind, the trainer kind: the stored
weights or optimizer state no longer fit."""

_RUN_BOOKKEEPING = ("run_id", "resume_run_id", "resume_stage_name", "resume_checkpoint", "output_path", "name",
                    "stage_name", "accelerator", "devices", "num_workers", "debug", "store_code_in_output",
                    "master_port", "slurm", "tracker", "config_schema_kind", "cudnn_benchmark")
_SCHEDULE_TRAINER_KEYS = ("max_epochs", "max_updates", "max_samples", "effective_batch_size", "max_batch_size",
                          "disable_gradient_accumulation", "start_at_epoch", "skip_nan_loss", "skip_nan_loss_max_count",
                          "precision", "forward_properties", "target_properties", "use_torch_compile")


@attrs.frozen
class Difference:
    """One leaf of the config that differs."""

    path: str
    """Dotted path of the leaf, e.g. ``trainer.max_epochs``."""
    old: Any
    """Value in the stored run (``None`` when absent)."""
    new: Any
    """Value now (``None`` when absent)."""
    category: str
    """``harmless``, ``schedule-changing`` or ``unsafe``."""

    def __str__(self) -> str:
        return f"{self.path}: {self.old!r} -> {self.new!r}"


def category_of(path: str) -> str:
    """How much a change of the leaf at ``path`` matters for a resumed run.

    >>> category_of("trainer.max_epochs"), category_of("model.hidden_channels"), category_of("trainer.callbacks[0].every_n_epochs")
    ('schedule-changing', 'unsafe', 'harmless')
    >>> category_of("model.optimizer_config.lr"), category_of("model.optimizer_config.kind")
    ('schedule-changing', 'unsafe')
    """
    head, _, rest = path.partition(".")
    head = head.split("[", 1)[0]
    if head in _RUN_BOOKKEEPING:
        return HARMLESS
    if head == "seed":
        return SCHEDULE_CHANGING
    if head == "trainer":
        key = rest.split(".", 1)[0].split("[", 1)[0]
        if key == "kind":
            return UNSAFE
        return SCHEDULE_CHANGING if key in _SCHEDULE_TRAINER_KEYS else HARMLESS
    if head == "datasets":
        return UNSAFE if rest.endswith(".kind") and rest.count(".") == 1 else SCHEDULE_CHANGING
    if head == "model":
        optimizer_part = _optimizer_part(rest)
        if optimizer_part is None:
            return HARMLESS if rest.split(".")[-1] in ("initializers", "is_frozen") or ".initializers" in rest else UNSAFE
        return UNSAFE if optimizer_part == "kind" else SCHEDULE_CHANGING
    return HARMLESS


def _optimizer_part(rest: str) -> str | None:
    parts = rest.split(".")
    if "optimizer_config" not in parts:
        return None
    after = parts[parts.index("optimizer_config") + 1:]
    return after[0] if after else ""


def _leaves(node: Any, prefix: str, out: dict[str, Any]) -> None:
    if isinstance(node, Mapping):
        for key, value in node.items():
            _leaves(value, f"{prefix}.{key}" if prefix else str(key), out)
    elif isinstance(node, (list, tuple)):
        if not node:
            out[prefix] = []
        for index, value in enumerate(node):
            _leaves(value, f"{prefix}[{index}]", out)
    else:
        out[prefix] = node


def config_differences(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[Difference]:
    """Every leaf that differs between two unstructured configs, in sorted path order.

    >>> config_differences({"trainer": {"max_epochs": 5}, "seed": 0}, {"trainer": {"max_epochs": 8}, "seed": 0})
    [Difference(path='trainer.max_epochs', old=5, new=8, category='schedule-changing')]
    """
    old_leaves: dict[str, Any] = {}
    new_leaves: dict[str, Any] = {}
    _leaves(old, "", old_leaves)
    _leaves(new, "", new_leaves)
    differences = []
    for path in sorted(old_leaves.keys() | new_leaves.keys()):
        before, after = old_leaves.get(path), new_leaves.get(path)
        if before != after:
            differences.append(Difference(path, before, after, category_of(path)))
    return differences


def describe_differences(differences: list[Difference]) -> str:
    """The differences as text, grouped by category (unsafe first); empty when there are none."""
    lines = []
    for category in (UNSAFE, SCHEDULE_CHANGING, HARMLESS):
        group = [difference for difference in differences if difference.category == category]
        if group:
            lines.append(f"{category} changes:")
            lines += [f"  {difference}" for difference in group]
    return "\n".join(lines)
