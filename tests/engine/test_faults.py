"""Faults during a run: disk full, a run directory in use or gone, a failing dataset, hostile or torn checkpoints."""

from __future__ import annotations

import errno
import json
import pickle
import subprocess
import sys

import attrs
import pytest
import torch

import engine
from noether.core.training import TrainingIteration
from engine import checkpoint as checkpoint_module
from engine.checkpoint import CheckpointWriteError, find_checkpoint, load_part
from engine.faults import DatasetSampleError, RunDirectoryError, RunDirectoryInUseError, lock_run_directory
from engine_components import token_config
from fault_components import MODULE, BrokenDatasetConfig


def checkpoint_names(run_dir):
    return sorted(path.name for path in (run_dir / "checkpoints").iterdir())


def test_disk_full_while_writing_a_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    """ENOSPC in a checkpoint write: a clear error, no temporary left, the earlier checkpoint verifies and resumes."""
    result = engine.run(token_config(tmp_path))
    before = checkpoint_names(result.run_dir)

    def full(content, path):
        path.write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(checkpoint_module, "_save_and_checksum", full)
    writer = checkpoint_module.CheckpointWriter(result.run_dir / "checkpoints", run_id="test-run",
                                                model=torch.nn.Linear(1, 1), optimizers={}, trainer_state=dict)
    with pytest.raises(CheckpointWriteError) as excinfo:
        writer.save("latest", result.iteration)
    assert str(excinfo.value) == (
        f"[Errno 28] cannot write checkpoint 'model_cp=latest' in {result.run_dir / 'checkpoints'}: No space left on "
        "device (ENOSPC); nothing of it was kept and the checkpoints written before are intact")
    assert checkpoint_names(result.run_dir) == before
    monkeypatch.undo()
    resumed = engine.run(attrs.evolve(token_config(tmp_path, max_updates=6), run_id="resumed",
                                      resume_run_id="test-run"))
    assert resumed.iteration.update == 6


def test_vanished_run_directory_is_a_clear_error(tmp_path):
    """A run directory removed during the run is not silently recreated by a checkpoint write."""
    run_dir = tmp_path / "gone"
    run_dir.mkdir()
    writer = checkpoint_module.CheckpointWriter(run_dir / "checkpoints", run_id="r", model=torch.nn.Linear(1, 1),
                                                optimizers={}, trainer_state=dict)
    run_dir.rmdir()
    with pytest.raises(CheckpointWriteError) as excinfo:
        writer.save("latest", TrainingIteration(0, 0, 0))
    assert str(excinfo.value) == (
        f"[Errno 2] cannot write checkpoint 'model_cp=latest' in {run_dir / 'checkpoints'}: No such file or directory "
        f"(ENOENT); the run directory {run_dir} no longer exists (removed or unmounted during the run); nothing of it "
        "was kept and the checkpoints written before are intact")
    assert not run_dir.exists()


def test_run_directory_that_cannot_be_created(tmp_path, monkeypatch):
    """A read-only output path is a clear error naming the run directory (EROFS simulated: the tests run as root)."""
    def read_only(self, *args, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(type(tmp_path), "mkdir", read_only)
    with pytest.raises(RunDirectoryError) as excinfo:
        engine.run(token_config(tmp_path))
    assert str(excinfo.value) == f"cannot create the run directory {tmp_path / 'test-run'}: Read-only file system (EROFS)"


def test_second_process_on_the_same_run_refuses_and_overwrites_nothing(tmp_path):
    """A real second process holds the lock: the run refuses and leaves that run's files as they were."""
    run_dir = tmp_path / "test-run"
    run_dir.mkdir()
    (run_dir / "config.yaml").write_text("first\n")
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl, os, sys, time\n"
        f"fd = os.open({str(run_dir / '.lock')!r}, os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX); os.write(fd, b'4242'); print('locked', flush=True); time.sleep(60)\n")],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(RunDirectoryInUseError) as excinfo:
            engine.run(token_config(tmp_path))
    finally:
        holder.kill()
        holder.wait()
    assert str(excinfo.value) == (
        f"run directory {run_dir} is in use by another process (pid 4242): a run with the same run_id and output_path "
        "is writing it; choose another run_id (or output_path), or wait until that run ends")
    assert sorted(path.name for path in run_dir.iterdir()) == [".lock", "config.yaml"]
    assert (run_dir / "config.yaml").read_text() == "first\n"


def test_lock_is_released_at_the_end_of_a_run(tmp_path):
    """After a run ends its directory can be locked again (a second open file description gets the lock)."""
    result = engine.run(token_config(tmp_path))
    lock_run_directory(result.run_dir).release()


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataset_raising_at_one_index(tmp_path, num_workers):
    """The error names the dataset key and the index, in the main process and from workers; `.error` is written."""
    config = attrs.evolve(token_config(tmp_path, datasets={"train": BrokenDatasetConfig(
        kind=f"{MODULE}.BrokenDataset", num_samples=24, broken_index=5)}), num_workers=num_workers)
    with pytest.raises(DatasetSampleError) as excinfo:
        engine.run(config)
    worker = "" if num_workers == 0 else f" (in DataLoader worker process {str(excinfo.value)[-2]})"
    assert str(excinfo.value) == f"datasets.train: loading sample 5 failed: OSError: corrupt sample file sample_5.npy{worker}"
    assert checkpoint_names(tmp_path / "test-run") == [
        "mlp_cp=E0_U1_S12.error_manifest.json", "mlp_cp=E0_U1_S12.error_model.th",
        "mlp_cp=E0_U1_S12.error_optim.th", "mlp_cp=E0_U1_S12.error_trainer.th"]


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("with_manifest", [True, False])
def test_pickle_that_would_run_code_is_refused_without_running_it(tmp_path, with_manifest):
    """A trainer file replaced by a pickle whose loading would create a file: refused, the file never appears."""
    result = engine.run(token_config(tmp_path))
    directory = result.run_dir / "checkpoints"
    marker = tmp_path / "pwned"
    trainer_file = directory / "mlp_cp=latest_trainer.th"
    torch.save({"x": _Evil(str(marker))}, trainer_file)
    manifest = directory / "mlp_cp=latest_manifest.json"
    if with_manifest:
        record = json.loads(manifest.read_text())
        record["files"][trainer_file.name] = checkpoint_module.file_checksum(trainer_file)
        manifest.write_text(json.dumps(record))
        assert find_checkpoint(directory, "mlp", "latest")[trainer_file.name] == trainer_file
    with pytest.raises(pickle.UnpicklingError) as excinfo:
        load_part(trainer_file)
    assert str(excinfo.value).startswith(f"refused to load {trainer_file}: it holds pickled objects other than tensors "
                                         "and plain data, which could run code (torch.load weights_only=True): ")
    with pytest.raises(Exception):  # noqa: B017 - resuming refuses too (a verification or an unpickling error)
        engine.run(attrs.evolve(token_config(tmp_path, max_updates=6), run_id="r", resume_run_id="test-run"))
    assert not marker.exists()


def test_truncated_file_and_bad_manifests_fall_back_or_name_what_is_there(tmp_path):
    """A truncated file, a manifest of bad JSON and one listing a missing file never verify: the lookup says so."""
    result = engine.run(token_config(tmp_path))
    directory = result.run_dir / "checkpoints"
    model_file = directory / "mlp_cp=latest_model.th"
    model_file.write_bytes(model_file.read_bytes()[:100])
    with pytest.raises(FileNotFoundError) as excinfo:
        find_checkpoint(directory, "mlp", "latest")
    assert str(excinfo.value) == f"no verified checkpoint 'latest' of model 'mlp' in {directory}; available: latest"
    (directory / "mlp_cp=latest_manifest.json").write_text("{not json")
    (directory / "mlp_cp=E9_U9_S9_manifest.json").write_text(json.dumps(
        {"iteration": "E9_U9_S9", "checksum": "crc32", "files": {"missing.th": "00000000"}}))
    with pytest.raises(FileNotFoundError) as excinfo:
        find_checkpoint(directory, "mlp", "latest")
    assert str(excinfo.value) == (
        f"no verified checkpoint 'latest' of model 'mlp' in {directory}; available: E9_U9_S9, latest")


def test_disk_full_while_writing_metrics_keeps_earlier_lines(tmp_path):
    """ENOSPC while appending to metrics.jsonl: a clear error, and the file ends after the last complete line."""
    from engine.trackers import LogWriter
    from engine.trackers.log_writer import MetricsWriteError
    from engine.trackers.base import NoopTracker

    path = tmp_path / "metrics.jsonl"
    writer = LogWriter(NoopTracker(), path)
    writer.add_scalar("loss", 1.0, TrainingIteration(0, 1, 4))
    writer.flush(TrainingIteration(0, 1, 4))
    writer._write_metrics()
    good = path.read_bytes()

    class Full:
        """The metrics file on a disk that fills after 10 more bytes."""

        def __init__(self, file):
            self.file, self.name = file, file.name

        def fileno(self):
            return self.file.fileno()

        def write(self, data):
            if len(data) > 10:
                return self.file.write(data[:10])
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self):
            self.file.close()

    writer._metrics = Full(writer._metrics)
    writer.add_scalar("loss", 2.0, TrainingIteration(0, 2, 8))
    writer.flush(TrainingIteration(0, 2, 8))
    with pytest.raises(MetricsWriteError) as excinfo:
        writer._write_metrics()
    assert str(excinfo.value) == (f"[Errno 28] cannot append to {path}: No space left on device; the lines written "
                                  f"before are intact ({len(good)} bytes)")
    assert path.read_bytes() == good == b'{"epoch": 0, "update": 1, "sample": 4, "loss": 1.0}\n'
    writer.close()
