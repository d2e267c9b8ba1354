"""Tests of the built-in pipeline pieces of engine.data.pipeline: exact outputs, untouched inputs, exact errors."""

from __future__ import annotations

import copy

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.data.pipeline import (
    ConcatCollator,
    ConcatSparseTensorCollator,
    DefaultCollator,
    DuplicateKeys,
    MultiStagePipeline,
    PadCollator,
    PipelineError,
    PointSampling,
    RenameKeys,
)


def clouds(*lengths: int, channels: int = 2) -> list[dict[str, torch.Tensor]]:
    """Samples whose ``x`` has ``length`` rows of ``channels`` values (row r of sample s holds 10 s + r) and whose
    ``y`` has one value per row."""
    return [{"x": (10.0 * s + torch.arange(n, dtype=torch.float64))[:, None].repeat(1, channels),
             "y": 100.0 * s + torch.arange(n, dtype=torch.float64), "id": s} for s, n in enumerate(lengths)]


def test_pad_collator_pads_to_the_longest_sample_and_masks_real_rows():
    batch = PadCollator(items=["x", "y"], mask_key="mask", pad_value=-1)(clouds(2, 3, 1))
    assert batch["x"][..., 0].tolist() == [[0, 1, -1], [10, 11, 12], [20, -1, -1]]
    assert batch["y"].tolist() == [[0, 1, -1], [100, 101, 102], [200, -1, -1]]
    assert batch["mask"].dtype == torch.bool
    assert batch["mask"].tolist() == [[True, True, False], [True, True, True], [True, False, False]]
    assert sorted(batch) == ["mask", "x", "y"]


def test_pad_collator_without_mask_pads_items_independently():
    samples = [{"a": torch.ones(2), "b": torch.ones(4)}, {"a": torch.ones(3), "b": torch.ones(1)}]
    batch = PadCollator(items=["a", "b"])(samples)
    assert batch["a"].tolist() == [[1, 1, 0], [1, 1, 1]]
    assert batch["b"].tolist() == [[1, 1, 1, 1], [1, 0, 0, 0]]


def test_concat_collator_concatenates_and_indexes_rows():
    batch = ConcatCollator(items=["x", "y"], batch_index_key="batch_idx")(clouds(2, 3, 1))
    assert batch["x"][:, 0].tolist() == [0, 1, 10, 11, 12, 20]
    assert batch["y"].tolist() == [0, 1, 100, 101, 102, 200]
    assert batch["batch_idx"].tolist() == [0, 0, 1, 1, 1, 2]
    assert batch["batch_idx"].dtype == torch.int64


def test_noethers_concat_collator_takes_its_own_arguments():
    assert "batch_idx" not in ConcatSparseTensorCollator(items=["y"])(clouds(1, 2))
    batch = ConcatSparseTensorCollator(items=["y"], create_batch_idx=True, batch_idx_key="b")(clouds(1, 2))
    assert batch["b"].tolist() == [0, 1, 1]


def test_default_collator_stacks_listed_and_present_optional_items():
    samples = [{"x": torch.zeros(2), "n": 1, "s": "a"}, {"x": torch.ones(2), "n": 2, "s": "b"}]
    batch = DefaultCollator(items=["x", "n"], optional_items=["s", "missing"])(samples)
    assert batch["x"].tolist() == [[0, 0], [1, 1]] and batch["n"].tolist() == [1, 2] and batch["s"] == ["a", "b"]
    assert sorted(batch) == ["n", "s", "x"]
    assert sorted(DefaultCollator()(samples)) == ["n", "s", "x"]


def test_point_sampling_keeps_the_same_rows_of_every_item():
    sample = clouds(1, 50)[1]
    torch.manual_seed(0)
    out = PointSampling(items=["x", "y"], num_points=7)(sample)
    assert out["x"].shape == (7, 2) and out["y"].shape == (7,)
    rows = (out["x"][:, 0] - 10).long()
    assert torch.equal(out["y"], 100 + rows.double()) and len(set(rows.tolist())) == 7
    assert out["id"] == 1 and sample["x"].shape == (50, 2)


def test_point_sampling_keeps_every_row_of_a_smaller_sample():
    out = PointSampling(items=["y"], num_points=10)(clouds(4)[0])
    assert sorted(out["y"].tolist()) == [0, 1, 2, 3]


def test_point_sampling_with_a_seed_depends_on_the_sample_index_only():
    sampler = PointSampling(items=["y"], num_points=3, seed=5)
    sample = {"y": torch.arange(100.0), "index": 4}
    torch.manual_seed(1)
    first = sampler(sample)["y"]
    torch.manual_seed(2)
    assert torch.equal(first, sampler(sample)["y"])
    assert not torch.equal(first, sampler({**sample, "index": 5})["y"])


def test_rename_and_duplicate_keys_share_values():
    x = torch.ones(2)
    renamed = RenameKeys({"x": "position"})({"x": x, "y": 1})
    assert list(renamed) == ["position", "y"] and renamed["position"] is x
    duplicated = DuplicateKeys({"x": "x_raw"})({"x": x})
    assert duplicated["x_raw"] is x and duplicated["x"] is x


def test_multistage_pipeline_runs_the_stages_in_order():
    pipeline = MultiStagePipeline(
        sample_processors=[RenameKeys({"x": "points"}), DuplicateKeys({"y": "target"})],
        collators=[PadCollator(items=["points", "target"], mask_key="mask"), DefaultCollator(items=["id"])],
        batch_processors=[RenameKeys({"id": "sample_id"})],
    )
    batch = pipeline(clouds(1, 2))
    assert sorted(batch) == ["mask", "points", "sample_id", "target"]
    assert batch["target"].tolist() == [[0, -0.0], [100, 101]] and batch["sample_id"].tolist() == [0, 1]


def test_multistage_without_collators_stacks_every_item():
    batch = MultiStagePipeline(sample_processors=[PointSampling(items=["x", "y"], num_points=2)])(clouds(3, 4))
    assert batch["x"].shape == (2, 2, 2) and batch["id"].tolist() == [0, 1]


def test_no_stage_modifies_or_copies_the_samples_more_than_once():
    """Every piece leaves its input as it was (values and dict keys); items it does not touch are shared."""
    samples = clouds(3, 5)
    before = copy.deepcopy(samples)
    pipeline = MultiStagePipeline(
        sample_processors=[PointSampling(items=["x"], num_points=2), RenameKeys({"y": "v"}), DuplicateKeys({"v": "w"})],
        collators=[PadCollator(items=["x"], mask_key="m"), ConcatCollator(items=["v"], batch_index_key="b"),
                   DefaultCollator(items=["id"])])
    batch = pipeline(samples)
    for key in batch:
        batch[key].zero_()  # the batch shares no memory with the samples
    for sample, original in zip(samples, before):
        assert sample.keys() == original.keys()
        assert all(torch.equal(sample[k], original[k]) if k != "id" else sample[k] == original[k] for k in sample)


def test_overlapping_collators_are_an_error_naming_both():
    with pytest.raises(ValueError) as info:
        MultiStagePipeline(collators=[PadCollator(items=["x"], mask_key="m"), DefaultCollator(items=["y", "m"])])
    assert str(info.value) == ("collators[0] (PadCollator) and collators[1] (DefaultCollator) both produce 'm'; each "
                               "key must come from one collator")


def test_overlap_of_collators_that_declare_no_keys_is_found_when_called():
    pipeline = MultiStagePipeline(collators=[DefaultCollator(), lambda samples: {"x": 0}])
    with pytest.raises(PipelineError) as info:
        pipeline(clouds(1, 1))
    assert str(info.value) == ("collators[0] (DefaultCollator) and collators[1] (<lambda>) both produce 'x'; each "
                               "key must come from one collator")


@pytest.mark.parametrize(
    ("stage", "samples", "message"),
    [
        (PadCollator(items=["x", "z"]), clouds(1, 2), "collators[0] (PadCollator): sample 0, item 'z': missing (the "
         "sample has 'x', 'y', 'id')"),
        (PadCollator(items=["x"]), [{"x": torch.zeros(2, 3)}, {"x": torch.zeros(2, 4)}], "collators[0] "
         "(PadCollator): sample 1, item 'x': trailing shape (4,) differs from sample 0's (3,) (shape (2, 4) "
         "against (2, 3))"),
        (ConcatCollator(items=["x"]), [{"x": torch.zeros(2)}, {"x": torch.zeros(())}], "collators[0] "
         "(ConcatCollator): sample 1, item 'x': expected a tensor with at least 1 dimension (got shape ())"),
        (DefaultCollator(items=["x"]), clouds(1, 2), "collators[0] (DefaultCollator): sample 1, item 'x': shape "
         "(2, 2) differs from sample 0's shape (1, 2); pad it (PadCollator) or concatenate it (ConcatCollator)"),
        (PadCollator(items=["x", "w"], mask_key="m"), [{"x": torch.zeros(2), "w": torch.zeros(2)},
                                                      {"x": torch.zeros(3), "w": torch.zeros(1)}],
         "collators[0] (PadCollator): sample 1, item 'w': has 1 rows but 'x' has 3; one mask ('m') needs equal "
         "lengths, or use a PadCollator per item"),
    ],
    ids=["missing key", "trailing shape", "no rows", "unequal shapes", "mask lengths"],
)
def test_collator_errors_name_stage_sample_and_item(stage, samples, message):
    with pytest.raises(PipelineError) as info:
        MultiStagePipeline(collators=[stage])(samples)
    assert str(info.value) == message


def test_a_processor_that_returns_a_non_dict_is_named():
    with pytest.raises(PipelineError) as info:
        MultiStagePipeline(sample_processors=[RenameKeys({"x": "p"}), lambda sample: list(sample)])(clouds(1, 1))
    assert str(info.value) == ("sample_processors[1] (<lambda>): sample 0: returned a list, expected a dict (the "
                               "processed sample)")


def test_an_exception_of_a_user_stage_names_the_stage_and_sample():
    def broken(sample):
        return {"x": sample["nope"]}

    with pytest.raises(PipelineError) as info:
        MultiStagePipeline(sample_processors=[broken])(clouds(1, 1))
    assert str(info.value) == "sample_processors[0] (broken): sample 0: KeyError: 'nope'"
    assert isinstance(info.value.__cause__, KeyError)


def test_point_sampling_errors_name_the_item():
    with pytest.raises(PipelineError) as info:
        MultiStagePipeline(sample_processors=[PointSampling(items=["x", "z"], num_points=1)])(
            [{"x": torch.zeros(3), "z": torch.zeros(4)}])
    assert str(info.value) == ("sample_processors[0] (PointSampling): sample 0, item 'z': has 4 rows but 'x' has 3; "
                               "the items sampled together need the same rows")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: PadCollator(items="x", mask_key="x"), "mask_key 'x' is also one of the items ['x']"),
        (lambda: PadCollator(items=[]), "items must name at least one item (got [])"),
        (lambda: ConcatCollator(items=["a", "a"]), "items names an item twice (got ['a', 'a'])"),
        (lambda: PointSampling(items=["x"], num_points=0), "num_points must be an integer >= 1 (got 0)"),
        (lambda: RenameKeys({}), "key_map must not be empty (got {})"),
        (lambda: MultiStagePipeline(collators=[3]), "collators[0] is not callable (got int)"),
    ],
)
def test_bad_arguments(build, message):
    with pytest.raises(ValueError) as info:
        build()
    assert str(info.value) == message


@settings(max_examples=60, deadline=None)
@given(lengths=st.lists(st.integers(min_value=1, max_value=12), min_size=1, max_size=6),
       channels=st.integers(min_value=1, max_value=3))
def test_pad_and_concat_hold_the_same_rows(lengths, channels):
    """Padded rows under the mask, concatenated rows and the samples' rows are the same values in the same order."""
    samples = clouds(*lengths, channels=channels)
    padded = PadCollator(items=["x"], mask_key="mask")(samples)
    concatenated = ConcatCollator(items=["x"], batch_index_key="b")(samples)
    assert torch.equal(padded["x"][padded["mask"]], concatenated["x"])
    assert torch.equal(concatenated["x"], torch.cat([sample["x"] for sample in samples]))
    assert concatenated["b"].bincount(minlength=len(lengths)).tolist() == lengths
    assert padded["mask"].sum(dim=1).tolist() == lengths
