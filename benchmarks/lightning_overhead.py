"""What Lightning costs: SegmentationTask + Trainer against a plain PyTorch loop.

    python benchmarks/lightning_overhead.py [--quick] [--repeats N] [--epochs N] [--json out.json]

Both sides train the model of ``seghub-lightning/configs/shapes.yaml`` (U-Net on resnet18, four
classes) on the synthetic shapes of ``ShapesDataModule`` (256 images of 32x32, batches of 16:
16 steps an epoch) with the same loss (seghub.losses: Dice + 0.5 cross-entropy), AdamW, the
same images in the same order and the same metrics: the confusion matrix of ``seghub.metrics``
and a torchmetrics mean of the loss, updated every step and computed after every epoch. The
Trainer runs without logger, checkpointing, progress bar, model summary or validation; the plain
loop is ``zero_grad, forward, loss, backward, step`` plus the metric updates, and its side
imports no Lightning.

step time
    the wall time from one batch in hand to the next (Lightning's work between batches and the
    data loading included); per process the median over the steps after the first epoch (a
    warm-up), then the median over the processes; also the median of the ratios of the two
    runs of each repetition, which ran back to back. One torch thread.
peak memory
    the peak resident memory (``VmHWM``) of a fresh process training one side only, from start
    to end: interpreter, imports (Lightning's on its side), data, model, training. Also
    "training peak": the high-water mark from just before training (reset through
    ``/proc/self/clear_refs``, once imports, data, model and Trainer are made; what
    ``Trainer.fit`` sets up counts as training) minus the resident size
    there. Measured in separate processes of two epochs, glibc serving allocations above 64 KiB
    with mmap so that the resident size follows live tensors (timing processes keep the
    default allocator: the system calls would slow both sides down).

Every measurement runs in a fresh interpreter: which of two identical runs in one process is
faster depends on where their tensors land (up to 15% for the optimizer step, measured), so
each process is one sample. The sides take turns (and turns going first) so that load from
other processes on the machine hits both alike. Targets: Lightning's step time and peak memory
at most 1.05x the plain loop's.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
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
MEMORY_EPOCHS = 2


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


def plain_side() -> Callable[[], list[float]]:
    """The plain loop, set up; the returned function trains one epoch and gives the seconds of
    each step (from one batch in hand to the next).
    Imports no Lightning: torch, torchmetrics and seghub only."""
    import seghub
    import torch
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
    model = seghub.build_model(SPEC).train()
    loss_fn = build_loss(LOSS)
    confusion, loss_mean = ConfusionMatrixMetric(num_classes=4, mode="multiclass"), MeanMetric()
    optimizer = torch.optim.AdamW(model.parameters(), **OPTIMIZER["params"])

    def epoch() -> list[float]:
        marks = []
        for batch in loader:
            marks.append(time.perf_counter())  # a batch in hand, as at Lightning's on_train_batch_start
            optimizer.zero_grad(set_to_none=True)
            logits = model(batch["image"])
            loss = loss_fn(logits, batch["mask"])
            loss.backward()
            optimizer.step()
            loss_mean(loss.detach(), batch["image"].shape[0])
            confusion.update(logits.detach(), batch["mask"])
        marks.append(time.perf_counter())
        # the epoch's figures, as the task computes and logs them after its epoch
        confusion.compute(), loss_mean.compute()
        confusion.reset(), loss_mean.reset()
        return [end - start for start, end in zip(marks, marks[1:])]

    return epoch


def lightning_side(epochs: int) -> Callable[[], list[list[float]]]:
    """SegmentationTask + Trainer, set up; the returned function trains ``epochs`` epochs and
    gives the seconds of each step of each epoch (from one ``on_train_batch_start`` to the next,
    Lightning's work between batches included)."""
    import lightning.pytorch as pl
    import torch

    from seghub_lightning import SegmentationTask, ShapesDataModule

    epochs_steps: list[list[float]] = []

    class StepClock(pl.Callback):
        def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.marks: list[float] = []

        def on_train_batch_start(self, trainer: pl.Trainer, module: pl.LightningModule, batch: Any, batch_idx: int) -> None:
            self.marks.append(time.perf_counter())

        def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
            self.marks.append(time.perf_counter())
            epochs_steps.append([end - start for start, end in zip(self.marks, self.marks[1:])])

    data = ShapesDataModule(classes=4, size=32, train_size=TRAIN_SIZE, val_size=0, test_size=0, predict_size=0, batch_size=BATCH)
    data.setup("fit")
    torch.manual_seed(0)
    task = SegmentationTask(spec=SPEC, loss=LOSS, optimizer=OPTIMIZER)
    trainer = pl.Trainer(
        accelerator="cpu", devices=1, max_epochs=epochs, logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0,
        limit_val_batches=0, callbacks=[StepClock()],
    )

    def train() -> list[list[float]]:
        trainer.fit(task, data)
        return epochs_steps

    return train


def timing_child(side: str, epochs: int) -> dict[str, float]:
    """One side alone, ``epochs`` epochs: the median seconds of its steps after the first
    epoch (a warm-up)."""
    import torch

    torch.set_num_threads(1)
    if side == "plain":
        epoch = plain_side()
        steps = [epoch() for _ in range(epochs)]
    else:
        steps = lightning_side(epochs)()
    return {"step": statistics.median(sum(steps[1:], []))}


def memory_child(side: str, epochs: int) -> dict[str, Any]:
    """One side alone, ``epochs`` epochs: the process's peak resident memory, and the training
    peak over the resident size just before training."""
    import torch

    torch.set_num_threads(1)
    if side == "plain":
        epoch = plain_side()
        before, exact = _status_kib("VmRSS") or 0, _reset_peak()
        for _ in range(epochs):
            epoch()
    else:
        train = lightning_side(epochs)
        before, exact = _status_kib("VmRSS") or 0, _reset_peak()
        train()
    peak = _status_kib("VmHWM") or 0
    return {"peak_mib": peak / 1024, "training_peak_mib": (peak - before) / 1024 if exact else None}


def _child(*args: str) -> Any:
    """Run a child in a fresh interpreter and give what it printed last, as JSON."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    if args[0] == "memory":
        # glibc serves allocations above 64 KiB with mmap, so freed tensors go back to the kernel
        # and the resident size follows live memory rather than the allocator's cache
        env["MALLOC_MMAP_THRESHOLD_"] = "65536"
    done = subprocess.run([sys.executable, __file__, "--_child", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise RuntimeError(f"the {' '.join(args)} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(repeats: int, epochs: int) -> dict[str, dict[str, float | None]]:
    """``repeats`` timing and memory processes per side, the sides taking turns (and turns
    about who goes first); the medians over the processes."""
    samples: dict[str, list[dict[str, Any]]] = {side: [] for side in SIDES}
    for repeat in range(repeats):
        order = SIDES if repeat % 2 == 0 else SIDES[::-1]
        result = {side: _child("timing", side, str(epochs)) for side in order}
        for side in order:
            result[side].update(_child("memory", side, str(MEMORY_EPOCHS)))
            samples[side].append(result[side])
        line = ", ".join(f"{side} {result[side]['step'] * 1000:.1f} ms {result[side]['peak_mib']:.0f} MiB" for side in SIDES)
        print(f"  {repeat + 1}/{repeats}: {line}", flush=True)
    medians: dict[str, dict[str, float | None]] = {}
    # each repetition's two timing runs ran back to back: their ratio is the least touched by
    # slower and faster spells of the machine
    paired = statistics.median(l["step"] / p["step"] for p, l in zip(samples["plain"], samples["lightning"]))
    for side, results in samples.items():
        training = [r["training_peak_mib"] for r in results if r["training_peak_mib"] is not None]
        medians[side] = {
            "step": statistics.median(r["step"] for r in results),
            "peak_mib": statistics.median(r["peak_mib"] for r in results),
            "training_peak_mib": statistics.median(training) if training else None,
        }
    medians["lightning"]["paired_step_ratio"] = paired
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
    paired = medians["lightning"].get("paired_step_ratio")
    if paired is not None:
        lines.append(f"{'step time, median ratio of back-to-back pairs':51}{paired:>7.3f}x")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3 repetitions of 3 epochs")
    parser.add_argument("--repeats", type=int, default=7, help="timing and memory processes per side (default 7)")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per timing process, the first a warm-up (default 4)")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    parser.add_argument("--_child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args._child:
        kind, side, epochs = args._child
        print(json.dumps((timing_child if kind == "timing" else memory_child)(side, int(epochs))))
        return 0
    repeats, epochs = (3, 3) if args.quick else (args.repeats, args.epochs)
    print(f"SegmentationTask + Trainer vs a plain loop, 1 thread: {repeats} timing and memory processes per side, {epochs} epochs per timing process")
    medians = run(repeats, epochs)
    print(report(medians))
    if args.json:
        args.json.write_text(json.dumps(medians, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
