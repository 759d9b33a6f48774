"""MaskWriter: write what ``predict`` returns as class-index PNGs, one per image."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from lightning.pytorch.callbacks import BasePredictionWriter
from PIL import Image

__all__ = ["MaskWriter"]


def _bytes(tensor: torch.Tensor) -> bytes:
    # a fresh contiguous copy owns exactly its elements' storage
    return bytes(tensor.clone(memory_format=torch.contiguous_format).untyped_storage())


def _png(mask: torch.Tensor, path: Path) -> None:
    mask = mask.cpu()
    size = (mask.shape[1], mask.shape[0])
    if int(mask.max()) < 256:
        picture = Image.frombytes("L", size, _bytes(mask.to(torch.uint8)))
    else:  # 16-bit little-endian; the int16 wrap-around keeps the bits of values up to 65535
        picture = Image.frombytes("I;16", size, _bytes(mask.to(torch.int32).to(torch.int16)))
    picture.save(path)


class MaskWriter(BasePredictionWriter):
    """A callback that writes each predicted mask to ``output_dir/<name>.png`` as it comes.

    ``<name>`` is the batch's ``"name"`` entry (:class:`FolderDataModule` gives the image's
    file name without suffix), else ``<batch>-<index>``. Multilabel masks ``(classes, H, W)``
    give one 0/1 PNG per class, ``<name>-<class>.png``. Every process writes its own images.
    """

    def __init__(self, output_dir: str | os.PathLike[str]) -> None:
        super().__init__(write_interval="batch")
        self.output_dir = Path(output_dir)

    def write_on_batch_end(
        self,
        trainer: pl.Trainer,
        pl_module: pl.LightningModule,
        prediction: Any,
        batch_indices: Sequence[int] | None,
        batch: Any,
        batch_idx: int,
        dataloader_idx: int,
    ) -> None:
        self.output_dir.mkdir(parents=True, exist_ok=True)
        names = batch.get("name") if isinstance(batch, Mapping) else None
        for index, mask in enumerate(prediction):
            name = names[index] if names is not None else f"{batch_idx}-{index}"
            if mask.ndim == 2:
                _png(mask, self.output_dir / f"{name}.png")
            else:
                for channel, plane in enumerate(mask):
                    _png(plane, self.output_dir / f"{name}-{channel}.png")
