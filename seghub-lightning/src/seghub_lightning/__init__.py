"""seghub-lightning: train seghub models with PyTorch Lightning.

:class:`SegmentationTask` (a LightningModule), :class:`FolderDataModule` (image and mask
folders), :class:`ShapesDataModule` (synthetic shapes), :class:`MaskWriter` (predicted masks to
PNG files) and the ``seghub-train`` command (LightningCLI). Scaling to devices, processes and
machines is Lightning's Trainer, unchanged.
"""

from __future__ import annotations

from .folder import FolderDataModule, FolderDataset
from .optim import LRSchedulerConfig, OptimizerConfig
from .shapes import ShapesDataModule
from .task import SegmentationTask
from .writer import MaskWriter

__version__ = "0.1.0"

__all__ = [
    "FolderDataModule",
    "FolderDataset",
    "LRSchedulerConfig",
    "MaskWriter",
    "OptimizerConfig",
    "SegmentationTask",
    "ShapesDataModule",
]
