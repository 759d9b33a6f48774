"""What Lightning costs: SegmentationTask + Trainer against a plain PyTorch loop.

    python benchmarks/lightning_overhead.py [--quick] [--repeats N] [--epochs N] [--json out.json]

Both sides train the model of ``seghub-lightning/configs/shapes.yaml`` (U-Net on resnet18, four
classes) on the synthetic shapes of ``ShapesDataModule`` (256 images of 32x32, batches of 16:
16 steps an epoch) with the same loss (seghub.losses: Dice + 0.5 cross-entropy), AdamW, the
same data loader and the same metrics: the confusion matrix of ``seghub.metrics`` and the loss
mean, updated every step. The Trainer runs without logger, checkpointing, progress bar, model
summary or validation; the plain loop is ``zero_grad, forward, loss, backward, step`` plus the
metric updates.

step time
    an epoch's wall time divided by its steps (data loading included, as a user waits for it),
    the median over the epochs after the first (warm-up); one torch thread.
peak memory
    the peak resident memory (``VmHWM``) of the whole process, from start to end: interpreter,
    imports (Lightning's included on its side), data, model, training. Also "training peak":
    the high-water mark from just before training (reset through ``/proc/self/clear_refs``)
    minus the resident size there.

Every measurement runs in a fresh interpreter; the two sides take turns (plain, Lightning,
plain, ...) so load from other processes hits both alike; each figure is the median over the
repetitions. Targets: Lightning's step time and peak memory at most 1.05x the plain loop's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

SIDES = ("plain", "lightning")
TARGET = 1.05
SPEC = {
    "encoder": {"name": "resnet18", "weights": None},
    "decoder": {"name": "unet", "params": {"decoder_channels": [128, 64, 32, 16, 16]}},
    "segmentation_head": {"classes": 4},
}
LOSS = [
    {"name": "dice", "params": {"mode": "multiclass"}},
    {"name": "soft_ce", "params": {"smooth_factor": 0.0}, "weight": 0.5},
]
OPTIMIZER = {"name": "AdamW", "params": {"lr": 0.003, "weight_decay": 0.0001}}
TRAIN_SIZE, BATCH = 256, 16


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class _Pairs:
    """The plain side's dataset: ``{"image", "mask"}`` items, as ShapesDataModule gives."""

    def __init__(self, images: Any, masks: Any) -> None:
        self.images, self.masks = images, masks

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"image": self.images[index], "mask": self.masks[index]}


def child(side: str, epochs: int) -> dict[str, Any]:
    """Train ``epochs`` epochs on ``side``; step time and memory. The plain side imports no
    Lightning: torch, torchmetrics and seghub only."""
    import torch

    torch.set_num_threads(1)
    import seghub
    from seghub.data.shapes import shapes_batch
    from seghub.losses import build_loss
    from seghub.metrics import ConfusionMatrixMetric
    from torchmetrics import MeanMetric

    # the train split of ShapesDataModule(seed=0) and its loader: same images, same order
    images, masks = shapes_batch(TRAIN_SIZE, 32, 4, torch.Generator().manual_seed(0), 3)
    loader = torch.utils.data.DataLoader(
        _Pairs(images, masks), batch_size=BATCH, shuffle=True, generator=torch.Generator().manual_seed(0)
    )
    torch.manual_seed(0)
    epoch_times: list[float] = []

    if side == "lightning":
        import lightning.pytorch as pl

        from seghub_lightning import SegmentationTask, ShapesDataModule

        class EpochClock(pl.Callback):
            def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
                self.start = time.perf_counter()

            def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
                epoch_times.append(time.perf_counter() - self.start)

        data = ShapesDataModule(classes=4, size=32, train_size=TRAIN_SIZE, val_size=0, test_size=0, predict_size=0, batch_size=BATCH)
        data.setup("fit")
        assert torch.equal(data.datasets["train"].images, images)  # the same data on both sides
        task = SegmentationTask(spec=SPEC, loss=LOSS, optimizer=OPTIMIZER)
        trainer = pl.Trainer(
            accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
            enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
            limit_val_batches=0, callbacks=[EpochClock()],
        )
        before = _status_kib("VmRSS") or 0
        exact = _reset_peak()
        trainer.fit(task, data)
    else:
        model = seghub.build_model(SPEC).train()
        loss_fn = build_loss(LOSS)
        confusion, loss_mean = ConfusionMatrixMetric(num_classes=4, mode="multiclass"), MeanMetric()
        optimizer = torch.optim.AdamW(model.parameters(), **OPTIMIZER["params"])
        before = _status_kib("VmRSS") or 0
        exact = _reset_peak()
        for _ in range(epochs):
            start = time.perf_counter()
            for batch in loader:
                optimizer.zero_grad(set_to_none=True)
                logits = model(batch["image"])
                loss = loss_fn(logits, batch["mask"])
                loss.backward()
                optimizer.step()
                loss_mean(loss.detach(), batch["image"].shape[0])
                confusion.update(logits.detach(), batch["mask"])
            confusion.compute(), loss_mean.compute()  # the epoch's figures, as the task logs them
            confusion.reset(), loss_mean.reset()
            epoch_times.append(time.perf_counter() - start)

    peak = _status_kib("VmHWM") or 0
    return {
        "step": statistics.median(epoch_times[1:] or epoch_times) / (TRAIN_SIZE // BATCH),
        "peak_mib": peak / 1024,
        "training_peak_mib": (peak - before) / 1024 if exact else None,
    }


def measure(side: str, epochs: int) -> dict[str, Any]:
    """:func:`child` in a fresh interpreter."""
    # glibc serves allocations above 64 KiB with mmap, so freed tensors go back to the kernel
    # and the resident size follows live memory rather than the allocator's cache
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MALLOC_MMAP_THRESHOLD_": "65536"}
    command = [sys.executable, __file__, "--_child", side, str(epochs)]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the {side} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(repeats: int, epochs: int) -> dict[str, dict[str, float | None]]:
    samples: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for repeat in range(repeats):
        for side in SIDES:
            samples[side].append(measure(side, epochs))
        line = ", ".join(f"{side} {samples[side][-1]['step'] * 1000:.1f} ms {samples[side][-1]['peak_mib']:.0f} MiB" for side in SIDES)
        print(f"  {repeat + 1}/{repeats}: {line}", flush=True)
    medians: dict[str, dict[str, float | None]] = {}
    for side, runs in samples.items():
        training = [r["training_peak_mib"] for r in runs if r["training_peak_mib"] is not None]
        medians[side] = {
            "step": statistics.median(r["step"] for r in runs),
            "peak_mib": statistics.median(r["peak_mib"] for r in runs),
            "training_peak_mib": statistics.median(training) if training else None,
        }
    return medians


def report(medians: dict[str, dict[str, float | None]]) -> str:
    rows = [("step time", "ms", 1000.0, "step", True), ("peak memory", "MiB", 1.0, "peak_mib", True),
            ("training peak", "MiB", 1.0, "training_peak_mib", False)]
    lines = [f"{'':15}{'plain loop':>12}{'Lightning':>12}{'ratio':>8}  target"]
    for name, unit, scale, key, targeted in rows:
        plain, lightning = medians["plain"][key], medians["lightning"][key]
        if plain is None or lightning is None:
            lines.append(f"{name:15}{'n/a':>12}{'n/a':>12}")
            continue
        ratio = lightning / plain
        verdict = (f"<= {TARGET}x " + ("met" if ratio <= TARGET else "MISSED")) if targeted else ""
        lines.append(f"{name:15}{plain * scale:>9.1f} {unit:3}{lightning * scale:>9.1f} {unit:3}{ratio:>7.3f}x  {verdict}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions of 3 epochs")
    parser.add_argument("--repeats", type=int, default=7, help="fresh processes per side (default 7)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per process, the first a warm-up (default 4)")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    parser.add_argument("--_child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        print(json.dumps(child(args._child[0], int(args._child[1]))))
        return 0
    repeats, epochs = (3, 3) if args.quick else (args.repeats, args.epochs)
    print(f"SegmentationTask + Trainer vs a plain loop: {repeats} fresh processes per side, {epochs} epochs each, 1 thread")
    medians = run(repeats, epochs)
    print(report(medians))
    if args.json:
        args.json.write_text(json.dumps(medians, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
