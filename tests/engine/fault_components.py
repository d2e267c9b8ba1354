"""Components for the fault tests (``test_faults.py``): a dataset that raises at one index."""

from __future__ import annotations

import attrs
import torch

from engine_components import TokenDataset, TokenDatasetConfig

MODULE = __name__
"""The import name of this module, the prefix of the kinds below."""


@attrs.frozen(kw_only=True)
class BrokenDatasetConfig(TokenDatasetConfig):
    """``TokenDataset`` whose ``x`` cannot be loaded at one index."""

    broken_index: int
    """The index at which ``getitem_x`` raises ``OSError``."""


class BrokenDataset(TokenDataset):
    """Raises ``OSError("corrupt sample file")`` when ``x`` of ``broken_index`` is loaded (as a damaged file would)."""

    config_schema = BrokenDatasetConfig

    def getitem_x(self, index: int) -> torch.Tensor:
        """Input tokens, except at the broken index."""
        if index == self.config.broken_index:
            raise OSError(f"corrupt sample file sample_{index}.npy")
        return self.x[index]
