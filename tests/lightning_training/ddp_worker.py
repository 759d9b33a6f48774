"""Two-process runs of SegmentationTask under Lightning's DDP: ``ddp_worker.py OUT PHASE``.

The test starts this script once per phase; Lightning's own launcher (``strategy="ddp"``)
starts the second process by running it again, and every Trainer after the first reuses the
process group. Each rank writes what it saw to ``OUT/<scenario>-rank<N>.pt`` (plain tensors
and numbers, loaded with ``weights_only=True``).

Phase ``main``:
  agree     ranks start from different weights and train on their own batches: DDP broadcasts
            rank 0's weights and averages gradients, so they end equal (batch-norm statistics
            stay each rank's own); then it saves a checkpoint of the trained task.
  metrics   a model validated and tested with the data split between the ranks.
  syncbn    batch norm synchronised across the ranks (Lightning's layer-sync plugin), each rank
            on half of every batch, to compare with one process on whole batches.
  straight  an uninterrupted run of two epochs.
  killed    the same run, checkpointing each epoch, killed (SIGKILL) one step into epoch 2.
Phase ``resume``:
  resumed   the killed run resumed from its last checkpoint in fresh processes.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback, ModelCheckpoint
from lightning.pytorch.plugins import LayerSync
from torch import nn
from torch.utils.data import DataLoader, DistributedSampler

from seghub_lightning import SegmentationTask, ShapesDataModule
from seghub_lightning.shapes import TensorPairs

SPEC = {
    "encoder": {"name": "resnet18", "weights": None, "depth": 3},
    "decoder": {"name": "unet", "params": {"decoder_channels": [16, 8, 8]}},
    "segmentation_head": {"classes": 4},
}
SIZE = 32
BATCH = 4  # per process
EPOCH_STEPS = 3  # per process, in the straight/killed/resumed runs
# pixel-mean losses, so the two ranks' mean gradient is the gradient over both halves
CE_LOSS = {"name": "soft_ce", "params": {"smooth_factor": 0.0}}
SGD = {"name": "SGD", "params": {"lr": 0.1}}
METRICS_SEED = 21
ADAMW = {"name": "AdamW", "params": {"lr": 3e-3}}


def trainer(**options: Any) -> pl.Trainer:
    defaults: dict[str, Any] = dict(
        accelerator="cpu", logger=False, enable_progress_bar=False, enable_model_summary=False,
        enable_checkpointing=False, num_sanity_val_steps=0,
    )
    return pl.Trainer(**{**defaults, **options})


def task(seed: int, **options: Any) -> SegmentationTask:
    torch.manual_seed(seed)
    return SegmentationTask(spec=SPEC, **{"loss": CE_LOSS, "optimizer": SGD, **options})


def metrics_data() -> ShapesDataModule:
    return ShapesDataModule(classes=4, size=SIZE, train_size=0, val_size=24, test_size=24, batch_size=BATCH, seed=2)


def syncbn_data(steps: int) -> TensorPairs:
    """Fixed images for the syncbn scenario: ``steps`` batches of ``2 * BATCH``."""
    data = ShapesDataModule(classes=4, size=SIZE, train_size=2 * BATCH * steps, seed=5)
    return TensorPairs(*data.make_split("train"))


def state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def optimizer_state(optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    saved = optimizer.state_dict()
    return {"state": {int(k): {n: (v.clone() if torch.is_tensor(v) else v) for n, v in s.items()} for k, s in saved["state"].items()}}


class _Sum(torch.autograd.Function):
    """The sum of a tensor over all ranks; its gradient is the sum of the ranks' gradients."""

    @staticmethod
    def forward(ctx: Any, tensor: torch.Tensor) -> torch.Tensor:
        total = tensor.clone()
        dist.all_reduce(total)
        return total

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        total = grad.clone()
        dist.all_reduce(total)
        return total


class GlooSyncBatchNorm(nn.BatchNorm2d):
    """Batch norm over the whole global batch, on CPU over gloo.

    torch's ``nn.SyncBatchNorm`` has no CPU kernels (and DDP refuses it on CPU), so the CPU run
    of this test hands Lightning this layer through its ``LayerSync`` plugin interface instead
    (``Trainer(sync_batchnorm=True)`` installs ``nn.SyncBatchNorm`` the same way on GPUs).
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()):
            return super().forward(x)
        channels = x.shape[1]
        count = torch.tensor([x.numel() // channels], dtype=x.dtype)
        # sums over every rank's batch
        total = _Sum.apply(torch.cat([x.sum((0, 2, 3)), (x * x).sum((0, 2, 3)), count]))
        n = total[-1]
        mean = total[:channels] / n
        var = total[channels:2 * channels] / n - mean * mean
        with torch.no_grad():
            self.num_batches_tracked += 1
            self.running_mean.lerp_(mean, self.momentum)
            self.running_var.lerp_(var * n / (n - 1), self.momentum)
        shape = (1, channels, 1, 1)
        normed = (x - mean.view(shape)) * torch.rsqrt(var.view(shape) + self.eps)
        return normed * self.weight.view(shape) + self.bias.view(shape)


class GlooSyncBatchNormPlugin(LayerSync):
    """Lightning's layer-sync plugin interface, installing :class:`GlooSyncBatchNorm`."""

    def apply(self, model: nn.Module) -> nn.Module:
        return self._swap(model, nn.BatchNorm2d, GlooSyncBatchNorm)

    def revert(self, model: nn.Module) -> nn.Module:
        return self._swap(model, GlooSyncBatchNorm, nn.BatchNorm2d)

    @staticmethod
    def _swap(model: nn.Module, old: type, new: type) -> nn.Module:
        for parent in list(model.modules()):
            for name, child in list(parent.named_children()):
                if type(child) is old:
                    layer = new(child.num_features, child.eps, child.momentum, child.affine, child.track_running_stats)
                    layer.load_state_dict(child.state_dict())
                    layer.train(child.training)
                    setattr(parent, name, layer)
        return model


class Recorder(Callback):
    """Per-step losses, the step count and optimizer state where a run (re)starts, and where
    it should be killed: the record is written after every step (a killed process writes
    nothing more)."""

    def __init__(self, path: Path, state_at_step: int | None = None, kill_at_step: int | None = None) -> None:
        self.path, self.state_at_step, self.kill_at_step = path, state_at_step, kill_at_step
        self.record: dict[str, Any] = {"losses": [], "pid": os.getpid()}

    def _save(self) -> None:
        torch.save(self.record, self.path)

    def on_train_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.record["start_step"] = trainer.global_step
        self.record["start_epoch"] = trainer.current_epoch
        self.record["start_optimizer"] = optimizer_state(trainer.optimizers[0])
        self.record["synced_layers"] = sum(isinstance(m, GlooSyncBatchNorm) for m in pl_module.modules())
        self._save()

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
        if trainer.global_step == self.state_at_step:
            self.record["optimizer_at_step"] = optimizer_state(trainer.optimizers[0])
            self._save()
        if trainer.global_step == self.kill_at_step:
            os.kill(os.getpid(), signal.SIGKILL)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.record["losses"].append(float(outputs["loss"]))
        self._save()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.record["end_step"] = trainer.global_step
        self.record["end_state"] = state(pl_module.model)
        self._save()


def _two_epoch_data() -> ShapesDataModule:
    return ShapesDataModule(classes=4, size=SIZE, train_size=2 * BATCH * EPOCH_STEPS, val_size=0, test_size=0, batch_size=BATCH, seed=3)


def main_phase(out: Path, rank: int) -> None:
    ddp = dict(devices=2, strategy="ddp")

    # agree: a different initialisation on each rank
    agreeing = task(seed=100 + rank)
    before = state(agreeing.model)
    recorder = Recorder(out / f"agree-rank{rank}.pt")
    recorder.record["before"] = before
    run = trainer(max_steps=3, callbacks=[recorder], **ddp)
    run.fit(agreeing, ShapesDataModule(classes=4, size=SIZE, train_size=24, val_size=0, test_size=0, batch_size=BATCH, seed=1))
    recorder.record.update({"after": state(agreeing.model), "rank": run.global_rank, "world": run.world_size})
    recorder._save()
    run.save_checkpoint(out / "agree.ckpt")  # collective; rank 0 writes

    # metrics: an untrained model (its predictions spread over all classes) on 24 images,
    # 12 per rank (no padding duplicates), in batches of 4
    evaluator, evaluated = trainer(**ddp), task(seed=METRICS_SEED)
    validated = evaluator.validate(evaluated, metrics_data(), verbose=False)[0]
    tested = evaluator.test(evaluated, metrics_data(), verbose=False)[0]
    torch.save({"validate": validated, "test": tested}, out / f"metrics-rank{rank}.pt")

    # syncbn: 2 steps, rank r taking images r, r + 2, ... of each batch of 2 * BATCH (Lightning
    # would shuffle training data across ranks; this sampler keeps the halves known)
    images = syncbn_data(steps=2)
    sampler = DistributedSampler(images, num_replicas=2, rank=rank, shuffle=False)
    loader = DataLoader(images, batch_size=BATCH, sampler=sampler)
    recorder = Recorder(out / f"syncbn-rank{rank}.pt")
    run = trainer(max_steps=2, plugins=[GlooSyncBatchNormPlugin()], callbacks=[recorder], use_distributed_sampler=False, **ddp)
    run.fit(task(seed=7), train_dataloaders=loader)

    # straight: two epochs without interruption
    recorder = Recorder(out / f"straight-rank{rank}.pt", state_at_step=EPOCH_STEPS)
    trainer(max_epochs=2, callbacks=[recorder], **ddp).fit(task(seed=11, optimizer=ADAMW), _two_epoch_data())

    # killed: the same, checkpointing after each epoch, killed after one step of epoch 2
    recorder = Recorder(out / f"killed-rank{rank}.pt", kill_at_step=EPOCH_STEPS + 1)
    checkpoints = ModelCheckpoint(dirpath=out / "checkpoints", save_last=True)
    trainer(max_epochs=2, callbacks=[recorder, checkpoints], enable_checkpointing=True, **ddp).fit(
        task(seed=11, optimizer=ADAMW), _two_epoch_data()
    )
    raise AssertionError("the killed run was not killed")


def resume_phase(out: Path, rank: int) -> None:
    recorder = Recorder(out / f"resumed-rank{rank}.pt")
    run = trainer(max_epochs=2, callbacks=[recorder], devices=2, strategy="ddp")
    # a different seed: everything that matters must come from the checkpoint
    run.fit(task(seed=999, optimizer=ADAMW), _two_epoch_data(), ckpt_path=out / "checkpoints" / "last.ckpt")


if __name__ == "__main__":
    torch.set_num_threads(1)
    out_dir, phase = Path(sys.argv[1]), sys.argv[2]
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))  # set by Lightning's launcher in rank 1
    {"main": main_phase, "resume": resume_phase}[phase](out_dir, local_rank)
