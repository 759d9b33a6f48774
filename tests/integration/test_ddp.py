"""Scale out: a built model under DistributedDataParallel, two processes started by torchrun.

The worker (``ddp_worker.py``) seeds every rank differently and feeds it its own data, so the
ranks agree afterwards only if DDP broadcast the initial weights and averaged the gradients.
On CPU the processes talk over gloo on the loopback interface; with two GPUs the same run
happens over NCCL.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import torch

WORKER = Path(__file__).with_name("ddp_worker.py")
# torch 2.x on CPU: DDP refuses SyncBatchNorm modules ("... only work with GPU modules"), and
# SyncBatchNorm itself refuses CPU input; it has no CPU kernels (aten::batch_norm_stats)
SYNCBN_CPU_REFUSAL = re.compile(r"SyncBatchNorm.*GPU")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module", params=["cpu", "cuda"])
def ranks(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """Run two ranks on ``request.param`` and give each rank's report."""
    device = request.param
    if device == "cuda" and torch.cuda.device_count() < 2:
        pytest.skip("needs two GPUs")
    out = tmp_path_factory.mktemp(f"ddp-{device}")
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--nnodes=1",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER), str(out), device,
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = [json.loads((out / f"rank{rank}.json").read_text()) for rank in range(2)]
    assert [r["rank"] for r in reports] == [0, 1] and all(r["world"] == 2 for r in reports)
    return reports


def test_ranks_start_equal_train_on_their_own_data_and_end_equal(ranks: list[dict[str, Any]]) -> None:
    first, second = (r["plain"] for r in ranks)
    assert first["before"]["params"] == second["before"]["params"]  # rank 0's weights, broadcast
    assert first["after"]["params"] == second["after"]["params"]  # averaged gradients
    assert first["after"]["params"] != first["before"]["params"]  # and they did train
    assert first["losses"] != second["losses"]  # each rank saw its own batch
    # plain batch norm keeps local statistics: from each rank's own batch, so they differ
    assert first["after"]["buffers"] != second["after"]["buffers"]


def test_sync_batchnorm_conversion_of_a_built_model(ranks: list[dict[str, Any]]) -> None:
    for report in ranks:
        converted = report["conversion"]
        assert converted["batchnorm_before"] > 0
        assert converted["syncbn_after"] == converted["batchnorm_before"]
        assert converted["batchnorm_left"] == 0
        assert converted["same_keys"] and converted["same_eval_output"] and converted["is_segmentation_model"]


def test_sync_batchnorm_model_trains_under_ddp(ranks: list[dict[str, Any]]) -> None:
    first, second = (r["syncbn"] for r in ranks)
    if not first["trained"]:
        assert SYNCBN_CPU_REFUSAL.search(first["reason"]) and SYNCBN_CPU_REFUSAL.search(second["reason"])
        pytest.skip(f"torch refuses to train SyncBatchNorm on this device: {first['reason']}")
    assert first["before"]["params"] == second["before"]["params"]
    assert first["after"]["params"] == second["after"]["params"] != first["before"]["params"]
    # synchronised statistics: the running mean and variance agree across ranks too
    assert first["after"]["buffers"] == second["after"]["buffers"]
