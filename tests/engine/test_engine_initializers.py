"""Initializers (reference section 6, DESIGN.md 4.3): a model starts from another run's verified checkpoint,
with keys removed, renamed or freshly initialised; ``ResumeInitializer`` is another spelling of
``resume_run_id``."""

from __future__ import annotations

import pathlib

import attrs
import pytest
import torch

import engine
from engine.checkpoint import CheckpointWriter
from engine.initializers import CorruptCheckpointError, apply_model_initializers, resume_request
from engine.optimizer import OptimizerWrapper
from engine_components import MODULE, TokenMlp, TokenMlpConfig, token_config
from noether.core.config import ConfigError
from noether.core.schemas import (
    CheckpointInitializerConfig,
    ModelBaseConfig,
    OptimizerConfig,
    PreviousRunInitializerConfig,
    ResumeInitializerConfig,
)
from noether.core.training import TrainingIteration

ADAMW = OptimizerConfig(kind="torch.optim.AdamW", lr=0.01, weight_decay=0.1)


def mlp(seed: int, *initializers, hidden: int = 8, optimizer: OptimizerConfig | None = None,
        name: str = "mlp") -> TokenMlp:
    """A token MLP initialised from ``seed`` with the given initializers in its config."""
    torch.manual_seed(seed)
    return TokenMlp(TokenMlpConfig(kind=f"{MODULE}.TokenMlp", name=name, hidden=hidden, optimizer_config=optimizer,
                                   initializers=tuple(initializers) or None))


def writer(output: pathlib.Path, model: torch.nn.Module, run_id: str = "source", stage: str | None = None,
           optimizers=None) -> CheckpointWriter:
    """The checkpoint writer of run ``run_id`` (a trainer state is saved with every checkpoint)."""
    run_dir = output / run_id / stage if stage else output / run_id
    return CheckpointWriter(run_dir / "checkpoints", run_id=run_id, model=model, optimizers=optimizers or {},
                            trainer_state=lambda: {"note": "trainer"})


def at(tag: str) -> TrainingIteration:
    return TrainingIteration.from_string(tag)


def previous(tag, **fields) -> PreviousRunInitializerConfig:
    return PreviousRunInitializerConfig(run_id="source", checkpoint_tag=tag, **fields)


def weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.clone() for key, value in model.state_dict().items()}


def same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor], keys=None) -> bool:
    return all(torch.equal(first[key], second[key]) for key in (keys or first))


def error_line(caught: pytest.ExceptionInfo) -> str:
    return str(caught.value)


@pytest.fixture
def source(tmp_path) -> tuple[pathlib.Path, dict[str, dict[str, torch.Tensor]]]:
    """Run ``source`` with checkpoints E1_U2_S24, E2_U4_S48, E2_U5_S60, last and latest of different weights
    (each saved from a model with another seed); returns the output path and tag -> weights."""
    saved = {}
    for seed, tag, iteration in [(1, "E1_U2_S24", "E1_U2_S24"), (2, "E2_U4_S48", "E2_U4_S48"),
                                 (3, "E2_U5_S60", "E2_U5_S60"), (4, "last", "E2_U5_S60"), (5, "latest", "E2_U5_S60")]:
        model = mlp(seed)
        writer(tmp_path, model).save(tag, at(iteration), weights=True, trainer=True)
        saved[tag] = weights(model)
    return tmp_path, saved


def test_previous_run_initializer_loads_the_tagged_weights(source):
    """A PreviousRunInitializer with tag ``E2_U4_S48`` replaces every weight by that checkpoint's."""
    output, saved = source
    model = mlp(0, previous("E2_U4_S48"))
    assert apply_model_initializers(model, output) == {}
    assert same(saved["E2_U4_S48"], weights(model))


def test_initializers_apply_in_order(source):
    """Two initializers: the second one's weights win."""
    output, saved = source
    model = mlp(0, previous("E1_U2_S24"), previous("last"))
    apply_model_initializers(model, output)
    assert same(saved["last"], weights(model))


@pytest.mark.parametrize(("tag", "expected"), [
    ({"epoch": 2}, "E2_U4_S48"),  # the earliest checkpoint of epoch 2
    ({"update": 5}, "E2_U5_S60"),
    ({"sample": 24}, "E1_U2_S24"),
    ({"epoch": 2, "update": 5, "sample": 60}, "E2_U5_S60"),
    ("E2", "E2_U4_S48"),
    ("U5", "E2_U5_S60"),
    ("latest", "latest"),  # the newest verified: the literal latest ties with E2_U5_S60 and is preferred
    ("best", None),
])
def test_checkpoint_tag_forms(source, tag, expected):
    """A dict (one count or all three) or ``E2`` / ``U5`` is completed from the periodic checkpoints."""
    output, saved = source
    model = mlp(0, previous(tag))
    if expected is None:
        with pytest.raises(ConfigError) as caught:
            apply_model_initializers(model, output)
        assert error_line(caught) == (
            f"model.initializers[0].checkpoint_tag: no checkpoint 'best' of model 'mlp' in {output}/source/checkpoints "
            "(available: E1_U2_S24, E2_U4_S48, E2_U5_S60, last, latest)")
        return
    apply_model_initializers(model, output)
    assert same(saved[expected], weights(model))


@pytest.mark.parametrize(("tag", "message"), [
    ({"epochs": 2}, "keys must be among epoch, update, sample (got epochs)"),
    ({"epoch": 2, "update": 4}, "must set one of epoch, update, sample, or all three (got {'epoch': 2, 'update': 4})"),
    (None, "is required: latest, last, best_model.<metric>, E10_U320_S20480, E10 or {epoch: 10}"),
])
def test_malformed_checkpoint_tags_are_config_errors(source, tag, message):
    """A dict with unknown or two keys, or no tag, is reported at the tag's path before any file is read."""
    output, _ = source
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, previous(tag)), output)
    assert error_line(caught) == f"model.initializers[0].checkpoint_tag: {message}"


def test_latest_is_the_newest_verified_checkpoint(tmp_path):
    """Without a ``latest`` tag, ``latest`` is the newest periodic checkpoint; a corrupted newest one is skipped
    with a warning naming it, and a file that no manifest names (an unfinished save) is ignored."""
    old, new = mlp(1), mlp(2)
    writer(tmp_path, old).save("E1_U2_S24", at("E1_U2_S24"))
    writer(tmp_path, new).save("E2_U4_S48", at("E2_U4_S48"))
    torch.save({"state_dict": mlp(3).state_dict()}, tmp_path / "source/checkpoints/mlp_cp=E3_U6_S72_model.th")
    model = mlp(0, previous("latest"))
    apply_model_initializers(model, tmp_path)
    assert same(weights(new), weights(model))
    newest = tmp_path / "source/checkpoints/mlp_cp=E2_U4_S48_model.th"
    flip_a_byte(newest)
    model = mlp(0, previous("latest"))
    with pytest.warns(UserWarning, match=f"skipped checkpoints that do not verify: {newest}"):
        apply_model_initializers(model, tmp_path)
    assert same(weights(old), weights(model))


def flip_a_byte(path: pathlib.Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_corrupted_file_is_an_error_naming_it(source):
    """A flipped byte in the weights file: the checksum check names the file and its manifest."""
    output, _ = source
    file = output / "source/checkpoints/mlp_cp=last_model.th"
    flip_a_byte(file)
    with pytest.raises(CorruptCheckpointError) as caught:
        apply_model_initializers(mlp(0, previous("last")), output)
    assert str(caught.value) == (
        f"{file} does not match the checksum in mlp_cp=last_manifest.json: the file is corrupted or was replaced "
        "by a save that did not finish; choose another checkpoint_tag")


def test_a_directory_without_manifests_is_read_as_it_is(tmp_path):
    """Checkpoints written by Noether (no manifest) load without verification."""
    source_model = mlp(1)
    directory = tmp_path / "source" / "train" / "checkpoints"
    directory.mkdir(parents=True)
    torch.save({"state_dict": source_model.state_dict(), "checkpoint_tag": "last"}, directory / "mlp_cp=last_model.th")
    model = mlp(0, previous("last", stage_name="train"))
    apply_model_initializers(model, tmp_path)
    assert same(weights(source_model), weights(model))


def test_missing_run_and_stage_list_what_exists(source):
    """An unknown run lists the runs in ``output_path``; an unknown stage lists the stages with checkpoints."""
    output, _ = source
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, PreviousRunInitializerConfig(run_id="nope", checkpoint_tag="last")), output)
    assert error_line(caught) == f"model.initializers[0].run_id: no run 'nope' in {output} (runs there: source)"
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, previous("last", stage_name="finetune")), output)
    assert error_line(caught) == (
        f"model.initializers[0].stage_name: run 'source' has no checkpoints at {output}/source/finetune/checkpoints "
        "(stages with checkpoints: <none: the run directory itself>)")


def test_missing_model_name_lists_the_models(source):
    """A ``model_name`` with no checkpoint in the directory lists the model names that have some."""
    output, _ = source
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, previous("last", model_name="encoder")), output)
    assert error_line(caught) == (f"model.initializers[0].model_name: no checkpoint of model 'encoder' in "
                                  f"{output}/source/checkpoints (models there: mlp)")


def test_an_incompatible_model_names_every_mismatch(source):
    """A wider hidden layer: every shape mismatch is named, with the options that can fix it."""
    output, _ = source
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, previous("last"), hidden=16), output)
    assert error_line(caught) == (
        "model.initializers[0]: mlp_cp=last_model.th does not fit model 'mlp': shape mismatches: net.0.weight "
        "(checkpoint [8, 3], model [16, 3]), net.0.bias (checkpoint [8], model [16]), net.2.weight (checkpoint "
        "[2, 8], model [2, 16]) (adjust with keys_to_remove, patterns_to_remove, patterns_to_rename or "
        "patterns_to_instantiate)")


def test_keys_to_remove_with_instantiate_keeps_fresh_values(source):
    """Removing ``net.2.bias`` alone leaves it missing; with ``patterns_to_instantiate`` it keeps its fresh value
    and every other key is loaded."""
    output, saved = source
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, previous("last", keys_to_remove=("net.2.bias",))), output)
    assert "does not fit model 'mlp': missing keys: net.2.bias (" in error_line(caught)
    model = mlp(0, previous("last", keys_to_remove=("net.2.bias",), patterns_to_instantiate=("net.2.bias",)))
    fresh = weights(model)
    apply_model_initializers(model, output)
    assert torch.equal(weights(model)["net.2.bias"], fresh["net.2.bias"])
    assert same(saved["last"], weights(model), ["net.0.weight", "net.0.bias", "net.2.weight"])


def test_keys_to_remove_must_exist(source):
    """An exact key that the checkpoint does not hold is an error listing the checkpoint's keys."""
    output, _ = source
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, previous("last", keys_to_remove=("head.bias",))), output)
    assert error_line(caught) == ("model.initializers[0].keys_to_remove: not in the checkpoint: head.bias "
                                  "(its keys: net.0.weight, net.0.bias, net.2.weight, net.2.bias)")


def test_patterns_to_remove_are_substrings(source):
    """``patterns_to_remove: [net.2]`` drops the whole output layer, which then keeps its fresh values."""
    output, saved = source
    model = mlp(0, previous("last", patterns_to_remove=("net.2",), patterns_to_instantiate=("net.2",)))
    fresh = weights(model)
    apply_model_initializers(model, output)
    assert same(fresh, weights(model), ["net.2.weight", "net.2.bias"])
    assert same(saved["last"], weights(model), ["net.0.weight", "net.0.bias"])


def test_patterns_to_rename_replace_substrings(tmp_path):
    """Weights saved as ``encoder.*`` / ``head.*`` load into ``net.0.*`` / ``net.2.*`` with two renames."""
    source_model = mlp(1)
    renamed = {key.replace("net.0", "encoder").replace("net.2", "head"): value
               for key, value in source_model.state_dict().items()}
    writer(tmp_path, source_model).save("last", at("E1_U2_S24"), state_dicts={"mlp": renamed})
    model = mlp(0, previous("last", patterns_to_rename=({"src": "encoder", "dst": "net.0"},
                                                        {"src": "head", "dst": "net.2"})))
    apply_model_initializers(model, tmp_path)
    assert same(weights(source_model), weights(model))


def test_malformed_renames_are_reported_together(source):
    """A rename without ``src`` and one with an unknown key: both reported at once."""
    output, _ = source
    model = mlp(0, previous("last", patterns_to_rename=({"pattern": "a", "replacement": "b"}, {"src": "a", "to": "b"})))
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(model, output)
    assert error_line(caught) == (
        "model.initializers[0].patterns_to_rename[0]: must be {src: <old substring>, dst: <new substring>} with a "
        "non-empty src (got {'pattern': 'a', 'replacement': 'b'})\n"
        "model.initializers[0].patterns_to_rename[1]: must be {src: <old substring>, dst: <new substring>} with a "
        "non-empty src (got {'src': 'a', 'to': 'b'})")


def test_model_info_selects_the_ema_weights(source):
    """``model_info: ema=0.9999`` loads ``mlp_ema=0.9999_cp=last_model.th``, not the trained weights."""
    output, saved = source
    average = mlp(7)
    writer(output, average).save("last", at("E2_U5_S60"), model_info="ema=0.9999",
                                 state_dicts={"mlp": average.state_dict()}, extra={"ema": 0.9999})
    model = mlp(0, previous("last", model_info="ema=0.9999"))
    apply_model_initializers(model, output)
    assert same(weights(average), weights(model))
    assert not same(saved["last"], weights(model))


def test_checkpoint_initializer_returns_the_optimizer_state(tmp_path):
    """``CheckpointInitializer`` with ``load_optim`` returns the source's optimizer state, by model name, for the
    new run's optimizer; it loads into an ``OptimizerWrapper`` with the same moments."""
    source_model = mlp(1, optimizer=ADAMW)
    optimizer = OptimizerWrapper(source_model, ADAMW)
    source_model(torch.randn(4, 3, dtype=torch.float64)).sum().backward()
    optimizer.step()
    writer(tmp_path, source_model, optimizers={"mlp": optimizer}).save("last", at("E1_U1_S12"), optim=True, trainer=True)
    model = mlp(0, CheckpointInitializerConfig(run_id="source", checkpoint_tag="last", load_optim=True), optimizer=ADAMW)
    states = apply_model_initializers(model, tmp_path)
    assert list(states) == ["mlp"]
    new_optimizer = OptimizerWrapper(model, ADAMW)
    new_optimizer.load_state_dict(states["mlp"])
    assert same(weights(source_model), weights(model))
    moments = [new_optimizer.optimizer.state[p]["exp_avg"] for p in model.parameters()]
    assert all(torch.equal(a, optimizer.optimizer.state[p]["exp_avg"]) for a, p in zip(moments, source_model.parameters()))


def test_load_optim_needs_an_optimizer_file_and_an_optimizer(source):
    """``load_optim`` on a model without optimizer is a config error; a checkpoint without optimizer file too."""
    output, _ = source
    init = CheckpointInitializerConfig(run_id="source", checkpoint_tag="last", load_optim=True)
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, init), output)
    assert error_line(caught) == ("model.initializers[0].load_optim: model 'mlp' has no optimizer (frozen or without "
                                  "optimizer_config), so there is nothing to load the optimizer state into")
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, init, optimizer=ADAMW), output)
    assert error_line(caught).startswith("model.initializers[0].load_optim: checkpoint 'last' has no optimizer state "
                                         "of model 'mlp' (")


def test_a_resume_initializer_is_not_a_model_initializer(source):
    """A ResumeInitializer in ``model.initializers`` points to ``trainer.initializer``."""
    output, _ = source
    init = ResumeInitializerConfig(run_id="source", checkpoint_tag="last", model_name="mlp")
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(mlp(0, init), output)
    assert error_line(caught).startswith("model.initializers[0].kind: a ResumeInitializer continues a whole run")


# ------------------------------------------------------------------------------------------ composite models
@attrs.frozen(kw_only=True)
class PairConfig(ModelBaseConfig):
    """Two token MLPs."""

    first: TokenMlpConfig
    """The first submodel."""
    second: TokenMlpConfig
    """The second submodel."""


class Pair(engine.CompositeModel):
    """Two token MLPs, checkpointed as ``pair.first`` and ``pair.second``."""

    def __init__(self, config: PairConfig) -> None:
        super().__init__(config)
        self.first = TokenMlp(config.first)
        self.second = TokenMlp(config.second)


def pair(seed: int, initializers=(), second_initializers=()) -> Pair:
    torch.manual_seed(seed)
    sub = {"kind": f"{MODULE}.TokenMlp"}
    return Pair(PairConfig(kind="Pair", name="pair", initializers=tuple(initializers) or None,
                           first=TokenMlpConfig(**sub, name="first"),
                           second=TokenMlpConfig(**sub, name="second", initializers=tuple(second_initializers) or None)))


def test_a_composite_initializer_loads_every_submodel_then_submodel_initializers(tmp_path):
    """The composite's initializer loads ``pair.first`` and ``pair.second``; the second submodel's own
    initializer (applied after) then loads another run's ``pair.second``."""
    source_pair, other_pair = pair(1), pair(2)
    writer(tmp_path, source_pair).save("last", at("E1_U2_S24"))
    writer(tmp_path, other_pair, run_id="other").save("last", at("E1_U2_S24"))
    model = pair(0, [previous("last")],
                 [PreviousRunInitializerConfig(run_id="other", checkpoint_tag="last", model_name="pair.second")])
    apply_model_initializers(model, tmp_path)
    assert same(weights(source_pair.first), weights(model.first))
    assert same(weights(other_pair.second), weights(model.second))
    broken = pair(0, [], [previous("nope")])
    with pytest.raises(ConfigError) as caught:
        apply_model_initializers(broken, tmp_path)
    assert error_line(caught).startswith("model.second.initializers[0].checkpoint_tag: no checkpoint 'nope' of "
                                         "model 'pair.second'")


# ---------------------------------------------------------------------------------------------------- resume
def test_resume_request_from_the_root_fields(tmp_path):
    """``resume_run_id`` alone resumes ``latest`` of the same stage; no resume fields: ``None``."""
    config = token_config(tmp_path)
    assert resume_request(config) is None
    assert resume_request(attrs.evolve(config, resume_run_id="a", stage_name="train")) == ("a", "train", "latest")
    assert resume_request(attrs.evolve(config, resume_run_id="a", resume_stage_name="s",
                                       resume_checkpoint="E3")) == ("a", "s", "E3")
    with pytest.raises(ConfigError) as caught:
        resume_request(attrs.evolve(config, resume_checkpoint="E3"))
    assert error_line(caught) == "resume_checkpoint: needs resume_run_id (got 'E3')"


@pytest.mark.parametrize(("tag", "expected"), [
    (None, "latest"), ("last", "last"), ({"epoch": 3}, "E3"), ({"update": 120}, "U120"),
    ({"epoch": 1, "update": 4, "sample": 16}, "E1_U4_S16"),
])
def test_resume_request_from_a_resume_initializer(tmp_path, tag, expected):
    """``trainer.initializer: ResumeInitializer`` gives the same request as the root fields would."""
    config = token_config(tmp_path)
    init = ResumeInitializerConfig(run_id="a", stage_name="s", checkpoint_tag=tag, model_name="mlp")
    config = attrs.evolve(config, trainer=attrs.evolve(config.trainer, initializer=init))
    assert resume_request(config) == ("a", "s", expected)


def test_resume_request_rejects_both_ways_and_other_kinds(tmp_path):
    """A ResumeInitializer together with ``resume_run_id``, or with another model name, is a config error; a
    weights initializer as ``trainer.initializer`` is refused."""
    config = token_config(tmp_path)
    init = ResumeInitializerConfig(run_id="a", model_name="other")
    both = attrs.evolve(config, resume_run_id="b", trainer=attrs.evolve(config.trainer, initializer=init))
    with pytest.raises(ConfigError) as caught:
        resume_request(both)
    assert error_line(caught) == (
        "trainer.initializer: resumes run 'a' while resume_run_id asks for 'b'; use one of them\n"
        "trainer.initializer.model_name: a resume loads the checkpoints of this run's model 'mlp' (got 'other')")
    weights_only = attrs.evolve(config, trainer=attrs.evolve(config.trainer, initializer=previous("last")))
    with pytest.raises(ConfigError) as caught:
        resume_request(weights_only)
    assert error_line(caught) == (
        "trainer.initializer.kind: the trainer-level initializer must be a ResumeInitializer; load weights with "
        "model.initializers instead (got 'noether.core.initializers.PreviousRunInitializer')")


# ------------------------------------------------------------------------------- the files initializers read
def test_save_checkpoint_leaves_only_verified_files(tmp_path):
    """``save_checkpoint`` leaves the files and a manifest whose checksums verify, and no temporary file."""
    from engine.checkpoint import save_checkpoint, verified_files

    files = {"m_cp=E1_U2_S24_model.th": {"state_dict": {"w": torch.arange(5.0)}}, "m_cp=E1_U2_S24_trainer.th": {"a": 1}}
    manifest = save_checkpoint(tmp_path, "m_cp=E1_U2_S24", files, at("E1_U2_S24"))
    assert sorted(path.name for path in tmp_path.iterdir()) == sorted([*files, manifest.name])
    assert set(verified_files(manifest)) == set(files)


def test_a_failed_save_leaves_no_temporary_file_and_no_manifest(tmp_path):
    """An object ``torch.save`` cannot write: the error propagates, no ``.tmp`` file and no manifest remain."""
    from engine.checkpoint import save_checkpoint

    with pytest.raises(Exception):  # noqa: B017 - whatever pickling raises
        save_checkpoint(tmp_path, "m_cp=last", {"m_cp=last_model.th": {"f": lambda: 0}}, at("E1_U2_S24"))
    assert list(tmp_path.iterdir()) == []
