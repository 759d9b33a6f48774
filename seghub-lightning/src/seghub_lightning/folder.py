"""FolderDataModule: a folder of images and a folder of class-index masks with matching names.

::

    data/images/0001.jpg   data/masks/0001.png
    data/images/0002.tif   data/masks/0002.png

An image and its mask share a file name without suffix. The splits come from split files (one
name per line) or from a random split drawn from ``seed``, the same on every process.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from torch.utils.data import DataLoader, Dataset

from .images import IMAGE_SUFFIXES, MASK_SUFFIXES, read_image, read_mask

__all__ = ["Augment", "FolderDataModule", "FolderDataset", "pair_files"]

Augment = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
SPLITS = ("train", "val", "test")
_SHOWN = 5  # problem files named in one error


def _listing(folder: Path, suffixes: Sequence[str], what: str) -> dict[str, Path]:
    if not folder.is_dir():
        raise FileNotFoundError(f"{what} folder {str(folder)!r} does not exist")
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        if path.is_file() and path.suffix.lower() in suffixes:
            if path.stem in found:
                raise ValueError(f"two {what} files share the name {path.stem!r}: {found[path.stem].name} and {path.name}; keep one")
            found[path.stem] = path
    return found


def _listed(paths: Sequence[Path]) -> str:
    names = ", ".join(repr(str(p)) for p in paths[:_SHOWN])
    return names + (f" and {len(paths) - _SHOWN} more" if len(paths) > _SHOWN else "")


def pair_files(images: str | os.PathLike[str], masks: str | os.PathLike[str]) -> dict[str, tuple[Path, Path]]:
    """``{name: (image, mask)}`` for the two folders; a file without its partner is an error."""
    image_files = _listing(Path(images), IMAGE_SUFFIXES, "image")
    mask_files = _listing(Path(masks), MASK_SUFFIXES, "mask")
    lonely_images = [path for name, path in image_files.items() if name not in mask_files]
    if lonely_images:
        raise FileNotFoundError(
            f"no mask for image {_listed(lonely_images)}: each needs a PNG of the same name in {str(masks)!r}"
        )
    lonely_masks = [path for name, path in mask_files.items() if name not in image_files]
    if lonely_masks:
        raise FileNotFoundError(
            f"no image for mask {_listed(lonely_masks)}: each needs a PNG, JPEG or TIFF of the same name in {str(images)!r}"
        )
    if not image_files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {str(images)!r}")
    return {name: (image_files[name], mask_files[name]) for name in sorted(image_files)}


def _read_split(path: Path, known: dict[str, Any]) -> list[str]:
    names = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        name = line.split("#", 1)[0].strip()
        if not name:
            continue
        stem = Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name
        if stem not in known:
            raise ValueError(f"split file {str(path)!r}, line {number}: no image named {name!r}")
        names.append(stem)
    return names


class FolderDataset(Dataset):
    """Image/mask pairs from files: ``{"image": (C, H, W) float, "mask": (H, W) int64, "name": str}``.

    Without masks (``pairs`` of ``(image, None)``) it gives images and names only, for
    prediction. Bad files raise ``ValueError`` naming them when they are read.
    """

    def __init__(
        self,
        pairs: Sequence[tuple[str, Path, Path | None]],
        *,
        max_class: int | None,
        ignore_index: int | None,
        augment: Augment | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
    ) -> None:
        self.pairs = list(pairs)
        self.max_class, self.ignore_index, self.augment = max_class, ignore_index, augment
        self.mean = None if mean is None else torch.tensor(mean, dtype=torch.float32)[:, None, None]
        self.std = None if std is None else torch.tensor(std, dtype=torch.float32)[:, None, None]

    def __len__(self) -> int:
        return len(self.pairs)

    def __getitem__(self, index: int) -> dict[str, Any]:
        name, image_path, mask_path = self.pairs[index]
        image = read_image(image_path)
        item: dict[str, Any] = {"name": name}
        if mask_path is not None:
            mask = read_mask(mask_path)
            if mask.shape != image.shape[1:]:
                raise ValueError(
                    f"mask {str(mask_path)!r} is {mask.shape[1]}x{mask.shape[0]} (W x H) but its image "
                    f"{str(image_path)!r} is {image.shape[2]}x{image.shape[1]}"
                )
            self._check_values(mask, mask_path)
            if self.augment is not None:
                image, mask = self.augment(image, mask)
            item["mask"] = mask
        if self.mean is not None:
            image = image - self.mean
        if self.std is not None:
            image = image / self.std
        item["image"] = image
        return item

    def _check_values(self, mask: torch.Tensor, path: Path) -> None:
        if self.max_class is None:
            return
        values = mask.unique()
        if self.ignore_index is not None:
            values = values[values != self.ignore_index]
        bad = values[(values < 0) | (values > self.max_class)].tolist()
        if bad:
            hint = f"; set ignore_index={bad[-1]} if it marks pixels to leave out" if self.ignore_index is None and len(bad) == 1 else ""
            raise ValueError(
                f"mask {str(path)!r} holds class values {bad} outside 0..{self.max_class}{hint}"
            )


class FolderDataModule(pl.LightningDataModule):
    """Images and class-index masks from two folders, split into train, val and test.

    Args:
        images: Folder of images (PNG, JPEG, TIFF; see :mod:`seghub_lightning.images`).
        masks: Folder of masks: single-channel PNGs of class indices, named as their images.
        classes: The model's mask channels: masks may hold 0..classes-1 (binary, ``classes=1``:
            0 and 1) and ``ignore_index``; None skips the check.
        mode: ``"binary"`` or ``"multiclass"``; index masks cannot hold multilabel targets.
        ignore_index: A mask value allowed outside the classes (pixels the loss and metrics
            leave out).
        train_split, val_split, test_split: Text files of names (with or without suffix), one
            a line, ``#`` comments. With split files, each split is exactly its file's names
            (``train_split`` is then required, the others may be left out: empty).
        val_fraction, test_fraction: Without split files, these fractions of the images,
            drawn at random from ``seed``, are held out for validation and test.
        seed: Seed of the random split.
        predict_images: A folder of images to predict (no masks); their file names come back in
            the batches' ``"name"``.
        augment: ``augment(image, mask) -> (image, mask)``, applied to training samples only,
            before normalisation; it must change both alike (flips, crops).
        mean, std: Per-channel normalisation after augmentation (images are in [0, 1]); for
            pretrained encoders, ``seghub.preprocessing_params(...)`` gives them.
        batch_size, num_workers: Of every data loader.

    Batches are dicts: ``"image"`` ``(N, C, H, W)``, ``"mask"`` ``(N, H, W)`` int64, ``"name"``.
    """

    def __init__(
        self,
        *,
        images: str | os.PathLike[str],
        masks: str | os.PathLike[str],
        classes: int | None = None,
        mode: Literal["binary", "multiclass"] = "multiclass",
        ignore_index: int | None = None,
        train_split: str | os.PathLike[str] | None = None,
        val_split: str | os.PathLike[str] | None = None,
        test_split: str | os.PathLike[str] | None = None,
        val_fraction: float = 0.1,
        test_fraction: float = 0.0,
        seed: int = 0,
        predict_images: str | os.PathLike[str] | None = None,
        augment: Augment | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        batch_size: int = 8,
        num_workers: int = 0,
    ) -> None:
        super().__init__()
        if mode not in ("binary", "multiclass"):
            raise ValueError(f"mode must be 'binary' or 'multiclass' (class-index masks); got {mode!r}")
        if classes is not None and classes < 1:
            raise ValueError(f"classes must be at least 1, got {classes}")
        if mode == "binary" and classes not in (None, 1):
            raise ValueError(f"mode 'binary' has one mask channel (classes=1, mask values 0 and 1); got classes={classes}")
        if not (0 <= val_fraction and 0 <= test_fraction and val_fraction + test_fraction < 1):
            raise ValueError(f"val_fraction and test_fraction must be >= 0 with a sum below 1; got {val_fraction} and {test_fraction}")
        if (val_split is not None or test_split is not None) and train_split is None:
            raise ValueError("with val_split or test_split, give train_split too (a split file's names are its whole split)")
        if batch_size < 1 or num_workers < 0:
            raise ValueError(f"batch_size must be >= 1 and num_workers >= 0; got {batch_size} and {num_workers}")
        self.images, self.masks = Path(images), Path(masks)
        self.max_class = None if classes is None else (1 if mode == "binary" else classes - 1)
        self.ignore_index = ignore_index
        self.split_files = {"train": train_split, "val": val_split, "test": test_split}
        self.val_fraction, self.test_fraction, self.seed = val_fraction, test_fraction, seed
        self.predict_images = None if predict_images is None else Path(predict_images)
        self.augment, self.mean, self.std = augment, mean, std
        self.batch_size, self.num_workers = batch_size, num_workers
        self.splits: dict[str, list[str]] = {}
        self._pairs: dict[str, tuple[Path, Path]] = {}

    def setup(self, stage: str | None = None) -> None:
        """Pair the files and split them (listing only: files are read when used)."""
        if self.splits:
            return
        self._pairs = pair_files(self.images, self.masks)
        if self.split_files["train"] is not None:
            self.splits = {
                split: [] if path is None else _read_split(Path(path), self._pairs)
                for split, path in self.split_files.items()
            }
            return
        names = list(self._pairs)
        order = torch.randperm(len(names), generator=torch.Generator().manual_seed(self.seed)).tolist()
        val_count, test_count = round(len(names) * self.val_fraction), round(len(names) * self.test_fraction)
        shuffled = [names[i] for i in order]
        self.splits = {
            "val": sorted(shuffled[:val_count]),
            "test": sorted(shuffled[val_count:val_count + test_count]),
            "train": sorted(shuffled[val_count + test_count:]),
        }

    def dataset(self, split: str) -> FolderDataset:
        """The :class:`FolderDataset` of ``split`` (train, val, test or predict)."""
        if split == "predict":
            if self.predict_images is None:
                raise ValueError("no predict_images folder was given to the data module")
            files = _listing(self.predict_images, IMAGE_SUFFIXES, "image")
            pairs: list[tuple[str, Path, Path | None]] = [(name, path, None) for name, path in files.items()]
        else:
            self.setup()
            pairs = [(name, *self._pairs[name]) for name in self.splits[split]]
        return FolderDataset(
            pairs,
            max_class=self.max_class,
            ignore_index=self.ignore_index,
            augment=self.augment if split == "train" else None,
            mean=self.mean,
            std=self.std,
        )

    def _loader(self, split: str) -> DataLoader | list:
        dataset = self.dataset(split)
        if split in ("val", "test") and not len(dataset):
            return []  # no such split: Lightning skips the loop
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            shuffle=split == "train",
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train")  # type: ignore[return-value]

    def val_dataloader(self) -> DataLoader | list:
        return self._loader("val")

    def test_dataloader(self) -> DataLoader | list:
        return self._loader("test")

    def predict_dataloader(self) -> DataLoader:
        return self._loader("predict")  # type: ignore[return-value]
