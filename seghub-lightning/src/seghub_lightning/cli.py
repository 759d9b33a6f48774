"""``seghub-train``: Lightning's own command line (LightningCLI) for :class:`SegmentationTask`.

``seghub-train fit --config config.yaml`` (and ``validate``, ``test``, ``predict``): the config's
``model:`` section holds the task's arguments, ``data:`` a data module by ``class_path``
(:class:`ShapesDataModule`, :class:`FolderDataModule` or any ``LightningDataModule``), and
``trainer:`` every Trainer flag, so devices, strategies, loggers, checkpoints and resuming
(``--ckpt_path``) are Lightning's. ``--print_config`` shows the whole resolved config.
"""

from __future__ import annotations

from collections.abc import Sequence

from lightning.pytorch import LightningDataModule
from lightning.pytorch.cli import LightningCLI

from .task import SegmentationTask

__all__ = ["main"]


def main(args: Sequence[str] | None = None) -> None:
    """Run ``seghub-train`` with ``args`` (default: the process's arguments)."""
    LightningCLI(
        SegmentationTask,
        LightningDataModule,
        subclass_mode_data=True,
        # the optimizer and scheduler are the task's own (model.optimizer, model.lr_scheduler):
        # one place for them, in Python and in configs, saved with the checkpoint
        auto_configure_optimizers=False,
        args=None if args is None else list(args),
    )
