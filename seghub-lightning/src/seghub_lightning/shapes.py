"""ShapesDataModule: seghub's synthetic shapes (the demo's data) as a Lightning data module.

Circles, triangles and squares on dark noisy backgrounds (:mod:`seghub.data.shapes`), made in
memory when the module is set up: the same images for the same ``seed`` on every process and
every run, so it serves tests, benchmarks and quick tries without any file.
"""

from __future__ import annotations

from typing import Any, Literal

import lightning.pytorch as pl
import torch
from seghub.data.shapes import shape_kinds, shapes_batch
from torch.utils.data import DataLoader, Dataset

__all__ = ["ShapesDataModule", "TensorPairs"]

SPLITS = ("train", "val", "test", "predict")


class TensorPairs(Dataset):
    """Images and masks held as two tensors: ``{"image": images[i], "mask": masks[i]}``."""

    def __init__(self, images: torch.Tensor, masks: torch.Tensor) -> None:
        self.images, self.masks = images, masks

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {"image": self.images[index], "mask": self.masks[index]}


class ShapesDataModule(pl.LightningDataModule):
    """Synthetic shapes for a model with ``classes`` mask channels in ``mode``.

    Args:
        classes: The model's mask channels. Multiclass: background plus up to three shape
            kinds (circle, triangle, square); more classes are allowed and stay empty.
            Binary: 1 (every shape is 1). Multilabel: 1 to 3, one channel per shape kind.
        mode: ``"binary"``, ``"multiclass"`` or ``"multilabel"``, as the task's.
        size: Image height and width (a multiple of the model's input divisor).
        channels: Image channels (the spec's ``encoder.in_channels``).
        train_size, val_size, test_size, predict_size: Images per split (0: no such split).
        batch_size, num_workers: Of every data loader.
        seed: The images of each split are drawn from their own generator seeded from it.

    Masks are ``(H, W)`` int64 class indices (binary: 0/1), or ``(classes, H, W)`` int64 0/1
    for multilabel; images ``(channels, H, W)`` float in about [-1, 1].
    """

    def __init__(
        self,
        *,
        classes: int = 4,
        mode: Literal["binary", "multiclass", "multilabel"] = "multiclass",
        size: int = 32,
        channels: int = 3,
        train_size: int = 256,
        val_size: int = 64,
        test_size: int = 64,
        predict_size: int = 16,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
    ) -> None:
        super().__init__()
        if mode not in ("binary", "multiclass", "multilabel"):
            raise ValueError(f"mode must be 'binary', 'multiclass' or 'multilabel'; got {mode!r}")
        if mode == "binary" and classes != 1:
            raise ValueError(f"mode 'binary' has one mask channel: classes must be 1, got {classes}")
        if mode == "multiclass" and classes < 2:
            raise ValueError(f"mode 'multiclass' needs classes >= 2 (background and shapes), got {classes}")
        if mode == "multilabel" and not 1 <= classes <= 3:
            raise ValueError(f"mode 'multilabel' has one channel per shape kind: classes must be 1, 2 or 3, got {classes}")
        sizes = {"train": train_size, "val": val_size, "test": test_size, "predict": predict_size}
        if size < 1 or channels < 1 or batch_size < 1 or num_workers < 0 or min(sizes.values()) < 0:
            raise ValueError("size, channels and batch_size must be >= 1; the split sizes and num_workers >= 0")
        self.classes, self.mode, self.size, self.channels = classes, mode, size, channels
        self.sizes = sizes
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.datasets: dict[str, TensorPairs] = {}

    def make_split(self, split: str) -> tuple[torch.Tensor, torch.Tensor]:
        """The images and masks of ``split``: the same for the same seed, whatever the other
        splits' sizes."""
        generator = torch.Generator().manual_seed(self.seed * len(SPLITS) + SPLITS.index(split))
        # a multilabel model's channels are the shape kinds: draw them as multiclass would
        drawn_classes = self.classes + 1 if self.mode == "multilabel" else self.classes
        images, masks = shapes_batch(self.sizes[split], self.size, drawn_classes, generator, self.channels)
        if self.mode == "multilabel":
            kinds = torch.arange(1, shape_kinds(drawn_classes) + 1)
            masks = (masks[:, None] == kinds[None, :, None, None]).long()
        return images, masks

    def setup(self, stage: str | None = None) -> None:
        for split in SPLITS:
            if split not in self.datasets:
                self.datasets[split] = TensorPairs(*self.make_split(split))

    def _loader(self, split: str) -> DataLoader | list:
        self.setup()
        dataset = self.datasets[split]
        if not len(dataset) and split != "train":
            return []  # no such split: Lightning skips the loop
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=split == "train",
            # the order of one process's run follows the seed too (under DDP, Lightning's
            # DistributedSampler shuffles by epoch instead)
            generator=torch.Generator().manual_seed(self.seed) if split == "train" else None,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")  # type: ignore[return-value]

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader | list:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader | list:
        return self._loader("predict")
