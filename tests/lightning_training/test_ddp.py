"""SegmentationTask on two processes with Lightning's DDP (gloo on CPU), against one process.

``ddp_worker.py`` runs the scenarios (see its docstring) under ``Trainer(devices=2,
strategy="ddp")``, started the way a user starts it (``python script.py``; Lightning launches
the second process). The single-process references run here, in the test process.
"""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader

from seghub_lightning import SegmentationTask

WORKER = Path(__file__).with_name("ddp_worker.py")
TIMEOUT = 300  # seconds per phase; a phase takes 10 to 30 s on two busy cores


def _load_worker() -> ModuleType:
    spec = importlib.util.spec_from_file_location("seghub_lightning_ddp_worker", WORKER)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


worker = _load_worker()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def launch(out: Path, phase: str) -> tuple[int, str]:
    """Run one phase (two processes); return rank 0's exit code and the output. Whatever is
    left of its process group afterwards (rank 1 of a killed run) is killed."""
    env = {k: v for k, v in os.environ.items() if k not in ("LOCAL_RANK", "NODE_RANK", "WORLD_SIZE", "RANK", "PL_GLOBAL_SEED")}
    env.update(OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo", MASTER_ADDR="127.0.0.1", MASTER_PORT=str(free_port()))
    process = subprocess.Popen(
        [sys.executable, str(WORKER), str(out), phase],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )
    try:
        output, _ = process.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        pytest.fail(f"phase {phase} ran past {TIMEOUT} s:\n{output[-4000:]}")
    finally:
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return process.returncode, output


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lightning-ddp")
    code, output = launch(out, "main")
    # the phase ends by killing itself (both ranks) one step into the second epoch
    assert code == -signal.SIGKILL, output[-4000:]
    code, output = launch(out, "resume")
    assert code == 0, output[-4000:]
    return out


def ranks(out: Path, scenario: str) -> list[dict[str, Any]]:
    return [torch.load(out / f"{scenario}-rank{rank}.pt", weights_only=True) for rank in range(2)]


def same(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


def batchnorm_buffers(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v for k, v in state.items() if k.endswith(("running_mean", "running_var"))}


def test_ranks_start_apart_train_on_their_own_batches_and_end_equal(runs: Path) -> None:
    first, second = ranks(runs, "agree")
    assert (first["rank"], second["rank"], first["world"], second["world"]) == (0, 1, 2, 2)
    assert not same(first["before"], second["before"])  # each rank initialised from its own seed
    assert first["losses"] != second["losses"]  # each rank saw its own batches
    parameters = [k for k in first["after"] if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))]
    for key in parameters:  # rank 0's weights broadcast, gradients averaged
        assert torch.equal(first["after"][key], second["after"][key]), key
    assert not torch.equal(first["after"][parameters[0]], first["before"][parameters[0]])
    # plain batch norm keeps each rank's own statistics
    assert not same(batchnorm_buffers(first["after"]), batchnorm_buffers(second["after"]))


def test_a_checkpoint_written_by_two_processes_loads_in_one(runs: Path) -> None:
    task = SegmentationTask.load_from_checkpoint(runs / "agree.ckpt", map_location="cpu")
    assert same(worker.state(task.model), ranks(runs, "agree")[0]["after"])


def test_metrics_of_two_processes_equal_one_process_over_the_same_data(runs: Path) -> None:
    task = worker.task(seed=worker.METRICS_SEED)
    run = worker.trainer(devices=1)
    expected = {**run.validate(task, worker.metrics_data(), verbose=False)[0], **run.test(task, worker.metrics_data(), verbose=False)[0]}
    # the comparison means something: the model predicts several classes
    assert sum(value > 0 for key, value in expected.items() if key.startswith("val/iou/")) >= 3
    for report in ranks(runs, "metrics"):
        got = {**report["validate"], **report["test"]}
        assert got.keys() == expected.keys()
        for key, value in expected.items():
            # IoU and Dice come from integer confusion matrices summed over the ranks: exact;
            # the mean loss sums floats in another order
            assert got[key] == pytest.approx(value, rel=1e-6, abs=0 if "loss" not in key else 1e-7), key


def test_synchronised_batch_norm_on_two_processes_equals_whole_batches_on_one(runs: Path) -> None:
    first, second = ranks(runs, "syncbn")
    model_layers = sum(isinstance(m, nn.BatchNorm2d) for m in worker.task(seed=0).model.modules())
    assert first["synced_layers"] == second["synced_layers"] == model_layers > 0
    assert same(first["end_state"], second["end_state"])  # statistics included

    task = worker.task(seed=7)
    loader = DataLoader(worker.syncbn_data(steps=2), batch_size=2 * worker.BATCH, shuffle=False)
    worker.trainer(max_steps=2, devices=1).fit(task, train_dataloaders=loader)
    expected = worker.state(task.model)
    assert first["end_state"].keys() == expected.keys()
    for key, value in expected.items():
        torch.testing.assert_close(first["end_state"][key], value, rtol=1e-5, atol=1e-6, msg=key)


def test_killed_run_resumes_at_its_step_with_its_optimizer_state_and_continues_identically(runs: Path) -> None:
    steps = worker.EPOCH_STEPS
    for straight, killed, resumed in zip(ranks(runs, "straight"), ranks(runs, "killed"), ranks(runs, "resumed")):
        assert killed["losses"] == straight["losses"][: steps + 1]  # killed one step past the checkpoint
        assert "end_step" not in killed
        assert (resumed["start_step"], resumed["start_epoch"]) == (steps, 1)
        saved, restored = straight["optimizer_at_step"]["state"], resumed["start_optimizer"]["state"]
        assert saved.keys() == restored.keys() and saved
        for index in saved:
            assert same(saved[index], restored[index]), index  # AdamW's step count and moments
        # the resumed run's steps are the uninterrupted run's, to the bit
        assert resumed["losses"] == straight["losses"][steps:]
        assert resumed["end_step"] == straight["end_step"] == 2 * steps
        assert same(resumed["end_state"], straight["end_state"])
    checkpoint = torch.load(runs / "checkpoints" / "last.ckpt", weights_only=True)
    assert checkpoint["global_step"] == steps
