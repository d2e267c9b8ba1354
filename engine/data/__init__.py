"""Data: the dataset base class, wrappers, normalizers, collate and the resumable update sampler.

See ``docs/data.md`` for the user guide.
"""

from engine.data.collate import collate
from engine.data.dataset import Dataset
from engine.data.normalizers import NormalizerBase, make_normalizer
from engine.data.sampler import UpdateBatchSampler, epoch_order, make_eval_loader, make_train_loader
from engine.data.wrappers import DatasetWrapper, build_dataset

__all__ = [
    "Dataset",
    "DatasetWrapper",
    "NormalizerBase",
    "UpdateBatchSampler",
    "build_dataset",
    "collate",
    "epoch_order",
    "make_eval_loader",
    "make_normalizer",
    "make_train_loader",
]
