"""ConfusionMatrixMetric under torch.distributed: two CPU processes over gloo, each updating with
its own shard of the batches, compute the scores of all the batches.

The ranks are forked from the test process, so they start without importing torch and
torchmetrics again (seconds each on a busy machine); they run only tiny tensor operations.
"""

from __future__ import annotations

import multiprocessing
import os
from datetime import timedelta
from pathlib import Path

import pytest
import torch
import torch.distributed as dist

pytest.importorskip("torchmetrics")
from seghub.metrics import ConfusionMatrixMetric  # noqa: E402

WORLD = 2
BATCHES = 5  # rank 0 gets batches 0, 2, 4; rank 1 gets 1, 3: shards of unequal size


def run_rank(rank: int, init: Path, out: Path) -> None:
    """One rank: update with its shard, write compute()'s scores (synced) and its local counts."""
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"file://{init}", rank=rank, world_size=WORLD, timeout=timedelta(seconds=60)
    )
    try:
        metrics = make_metrics()
        for batch in all_batches()[rank::WORLD]:
            for name, metric in metrics.items():
                metric.update(*batch[name])
        report = {name: {"scores": metric.compute(), "local": metric.confmat.clone()} for name, metric in metrics.items()}
        torch.save(report, out)
    finally:
        dist.destroy_process_group()


def make_metrics() -> dict[str, ConfusionMatrixMetric]:
    return {
        "multiclass": ConfusionMatrixMetric(num_classes=4, ignore_index=255),
        "multilabel": ConfusionMatrixMetric(mode="multilabel", num_classes=3),
    }


def all_batches() -> list[dict[str, tuple[torch.Tensor, torch.Tensor]]]:
    g = torch.Generator().manual_seed(0)
    batches = []
    for _ in range(BATCHES):
        target = torch.randint(0, 4, (2, 6, 6), generator=g)
        target[torch.rand(2, 6, 6, generator=g) < 0.2] = 255
        labels = torch.randint(0, 2, (2, 3, 6, 6), generator=g)
        batches.append({
            "multiclass": (torch.randn(2, 4, 6, 6, generator=g), target),
            "multilabel": (torch.randn(2, 3, 6, 6, generator=g), labels),
        })
    return batches


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="forks the ranks")
def test_two_processes_compute_the_scores_of_all_batches(tmp_path: Path) -> None:
    fork = multiprocessing.get_context("fork")
    ranks = [
        fork.Process(target=run_rank, args=(rank, tmp_path / "init", tmp_path / f"rank{rank}.pt"))
        for rank in range(WORLD)
    ]
    for process in ranks:
        process.start()
    for process in ranks:
        process.join(timeout=120)
    for process in ranks:
        if process.is_alive():
            process.terminate()
    assert [process.exitcode for process in ranks] == [0] * WORLD  # a rank's traceback is on stderr
    reports = [torch.load(tmp_path / f"rank{rank}.pt", weights_only=True) for rank in range(WORLD)]

    single = make_metrics()
    for batch in all_batches():
        for name, metric in single.items():
            metric.update(*batch[name])
    for name, metric in single.items():
        expected = metric.compute()
        locals_ = [report[name]["local"] for report in reports]
        assert not torch.equal(locals_[0], locals_[1])  # each rank counted its own shard
        assert torch.equal(locals_[0] + locals_[1], metric.confmat)
        for report in reports:
            scores = report[name]["scores"]
            assert scores.keys() == expected.keys()
            for key, value in expected.items():
                torch.testing.assert_close(scores[key], value, rtol=0, atol=0, equal_nan=True)
