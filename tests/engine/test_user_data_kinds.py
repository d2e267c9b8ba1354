"""Normalizers and dataset wrappers of the user's own, named by class path in YAML as Noether allows: their
config classes narrow the section, the engine builds them, the data they produce reaches the trainer, and each
mistake is one located line from ``noether-check`` or ``noether-train``."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

from engine.cli import train_main
from engine.data.normalizers import make_normalizer_chain
from engine.data.wrappers import make_wrapper
from engine.run import build_components, load_config
from noether.core.config.cli import main as check_main

SCHEMAS = '''
import attrs
from noether.core.schemas import DatasetBaseConfig, DatasetWrapperConfig, NormalizerConfig


@attrs.frozen(kw_only=True)
class AffineConfig(NormalizerConfig):
    """(x + offset) * factor."""

    offset: float = 0.0
    """Added first."""
    factor: float
    """Multiplied after."""


@attrs.frozen(kw_only=True)
class EveryOtherConfig(DatasetWrapperConfig):
    """Every second sample from ``start``."""

    start: int = 0
    """The first sample kept."""


@attrs.frozen(kw_only=True)
class CountConfig(DatasetBaseConfig):
    """Samples 0, 1, 2, ..."""

    num_samples: int
    """How many."""
'''

COMPONENTS = '''
import torch

import engine
from engine.data import DatasetWrapper, NormalizerBase
from proj.schemas import AffineConfig, CountConfig, EveryOtherConfig

SEEN = []


class Affine(NormalizerBase):
    config_schema = AffineConfig

    def __call__(self, x):
        return (x + self.config.offset) * self.config.factor

    def inverse(self, y):
        return y / self.config.factor - self.config.offset


class Negate(NormalizerBase):
    def __call__(self, x):
        return -x

    def inverse(self, y):
        return -y


class EveryOther(DatasetWrapper):
    config_schema = EveryOtherConfig

    def __init__(self, dataset, config):
        super().__init__(dataset)
        self.wrapper_config = config
        self._length = (len(dataset) - config.start + 1) // 2

    def __len__(self):
        return self._length

    def source_index(self, index):
        return self.wrapper_config.start + 2 * index


class NotANormalizer:
    def __init__(self, config):
        pass


class Count(engine.Dataset):
    config_schema = CountConfig

    def __len__(self):
        return self.config.num_samples

    def getitem_x(self, index):
        return torch.tensor([float(index)])

    def getitem_y(self, index):
        return torch.tensor([float(index)])


class Net(engine.Model):
    def __init__(self, config):
        super().__init__(config)
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x):
        return self.linear(x)


class Trainer(engine.BaseTrainer):
    def loss_compute(self, outputs, targets):
        SEEN.append(targets["y"].flatten().tolist())
        return torch.nn.functional.mse_loss(outputs, targets["y"])
'''

TRAIN = '''\
name: kinds
output_path: outputs
seed: 3
datasets:
  train:
    kind: proj.components.Count
    num_samples: 9
    normalizers:
      y:
        - kind: proj.components.Affine
          offset: 1.0
          factor: 10.0
        - kind: proj.components.Negate
    wrappers:
      - kind: proj.components.EveryOther
        start: 1
      - kind: noether.data.base.wrappers.RepeatWrapper
        repetitions: 2
model:
  kind: proj.components.Net
  name: net
  optimizer_config:
    kind: torch.optim.SGD
    lr: 0.01
trainer:
  kind: proj.components.Trainer
  max_updates: 1
  effective_batch_size: 8
  forward_properties: [x]
  target_properties: [y]
tracker: disabled
'''


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A small project on disk (``proj``: schemas and components), the working directory and on ``sys.path``."""
    package = tmp_path / "proj"
    package.mkdir()
    (package / "__init__.py").write_text("", encoding="utf-8")
    (package / "schemas.py").write_text(textwrap.dedent(SCHEMAS), encoding="utf-8")
    (package / "components.py").write_text(textwrap.dedent(COMPONENTS), encoding="utf-8")
    (tmp_path / "train.yaml").write_text(TRAIN, encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [name for name in sys.modules if name == "proj" or name.startswith("proj.")]:
        monkeypatch.delitem(sys.modules, name)
    return tmp_path


def test_the_classes_config_schema_narrows_each_entry(project):
    """Each user entry becomes the config class its class declares; a class without one gets NormalizerConfig."""
    from noether.core.schemas import NormalizerConfig
    from proj.schemas import AffineConfig, EveryOtherConfig

    config = load_config("train.yaml")
    affine, negate = config.datasets["train"].dataset_normalizers["y"]
    assert affine == AffineConfig(kind="proj.components.Affine", offset=1.0, factor=10.0)
    assert negate == NormalizerConfig(kind="proj.components.Negate")
    assert config.datasets["train"].dataset_wrappers[0] == EveryOtherConfig(kind="proj.components.EveryOther", start=1)


def test_the_engine_builds_them_in_order(project):
    """Wrappers apply in order (every other from 1, then repeated); normalizers apply in order and invert."""
    datasets, _, _ = build_components(load_config("train.yaml"), torch.device("cpu"))
    train = datasets["train"]
    assert len(train) == 8
    assert [train[i]["x"].item() for i in range(8)] == [1.0, 3.0, 5.0, 7.0] * 2
    assert [train[i]["y"].item() for i in range(8)] == [-20.0, -40.0, -60.0, -80.0] * 2
    assert train.normalizers["y"].inverse(torch.tensor([-20.0, -80.0])).tolist() == [1.0, 7.0]


def test_noether_train_feeds_their_data_to_the_trainer(project, capsys):
    """One update of 8 samples sees exactly the 8 wrapped, normalized targets."""
    assert train_main(["train.yaml"]) == 0
    from proj.components import SEEN

    assert [sorted(batch) for batch in SEEN] == [sorted([-20.0, -40.0, -60.0, -80.0] * 2)]


def test_no_import_checks_what_the_base_classes_know(project, capsys):
    """`noether-check --no-import` imports no user class: as for a model or dataset, the fields their
    config_schema declares are unknown keys (as its --help says); every base-class problem is still reported."""
    (project / "train.yaml").write_text(TRAIN.replace("repetitions: 2", "repetitions: 1"), encoding="utf-8")
    assert check_main(["--no-import", "train.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "train.yaml: 5 problems",
        "datasets.train.num_samples: unknown key 'num_samples'  [train.yaml:7:5]",
        "datasets.train.dataset_normalizers.y[0].offset: unknown key 'offset'  [train.yaml:11:11]",
        "datasets.train.dataset_normalizers.y[0].factor: unknown key 'factor'  [train.yaml:12:11]",
        "datasets.train.dataset_wrappers[0].start: unknown key 'start'  [train.yaml:16:9]",
        "datasets.train.dataset_wrappers[1].repetitions: must be >= 2 (got 1)  [train.yaml:18:22]",
    ]
    assert "proj" not in sys.modules


def test_noether_check_shows_their_fields(project, capsys):
    """`noether-check` prints the resolved config with the user classes' own fields."""
    assert check_main(["train.yaml"]) == 0
    out = capsys.readouterr().out
    assert ("      y:\n      - kind: proj.components.Affine\n        offset: 1.0\n        factor: 10.0\n"
            "      - kind: proj.components.Negate\n    dataset_wrappers:\n    - kind: proj.components.EveryOther\n"
            "      start: 1\n") in out


def test_their_field_problems_are_located(project, capsys):
    """A wrong value and an unknown key of a user class's config: one located line each, both at once."""
    text = TRAIN.replace("factor: 10.0", "factor: ten").replace("start: 1", "stat: 1")
    (project / "train.yaml").write_text(text, encoding="utf-8")
    assert check_main(["train.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "train.yaml: 2 problems",
        "datasets.train.dataset_normalizers.y[0].factor: expected a number (got str 'ten')  [train.yaml:12:19]",
        "datasets.train.dataset_wrappers[0].stat: unknown key 'stat'; did you mean 'start'?  [train.yaml:16:9]",
    ]


def test_a_class_of_the_wrong_base_and_a_missing_class_are_reported_together(project, capsys):
    """A kind that imports but is no NormalizerBase fails before anything is built; one that does not import
    fails at load; `noether-train` reports both, located, and writes no run."""
    text = TRAIN.replace("proj.components.Negate", "proj.components.NotANormalizer").replace(
        "proj.components.EveryOther", "proj.components.EveryOthr")
    (project / "train.yaml").write_text(text, encoding="utf-8")
    assert train_main(["train.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "train.yaml: 1 problem",
        "datasets.train.dataset_wrappers[0].kind: cannot import 'proj.components.EveryOthr': module "
        "'proj.components' has no attribute 'EveryOthr'  [train.yaml:15:15]",
    ]
    (project / "train.yaml").write_text(TRAIN.replace("proj.components.Negate", "proj.components.NotANormalizer"),
                                        encoding="utf-8")
    assert train_main(["train.yaml"]) == 2
    assert capsys.readouterr().err.splitlines() == [
        "train.yaml: 1 problem",
        "datasets.train.dataset_normalizers.y[1].kind: 'proj.components.NotANormalizer' is not a subclass of "
        "engine.data.normalizers.NormalizerBase  [train.yaml:13:11]",
    ]
    assert not (project / "outputs").exists()


def test_library_calls_build_them_too(project):
    """`make_normalizer_chain` and `make_wrapper` take the user configs directly."""
    from proj.components import Count
    from proj.schemas import AffineConfig, CountConfig, EveryOtherConfig

    chain = make_normalizer_chain(AffineConfig(kind="proj.components.Affine", factor=2.0))
    assert chain(torch.tensor([3.0])).tolist() == [6.0]
    wrapped = make_wrapper(Count(CountConfig(kind="proj.components.Count", num_samples=5)),
                           EveryOtherConfig(kind="proj.components.EveryOther"))
    assert [wrapped[i]["x"].item() for i in range(len(wrapped))] == [0.0, 2.0, 4.0]
