"""Fixtures of the seghub-lightning tests: a tiny model spec and quiet CPU trainers."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import pytest
import torch


@pytest.fixture(scope="module", autouse=True)
def one_thread() -> Iterator[None]:
    """Tiny models on a busy machine: one intra-op thread is faster and steadier."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def tiny_spec() -> Callable[..., dict[str, Any]]:
    """A U-Net on the first two stages of resnet18 (0.7 M parameters; input divisor 8)."""

    def make(classes: int = 4, **head: Any) -> dict[str, Any]:
        return {
            "encoder": {"name": "resnet18", "weights": None, "depth": 3},
            "decoder": {"name": "unet", "params": {"decoder_channels": [16, 8, 8]}},
            "segmentation_head": {"classes": classes, **head},
        }

    return make


@pytest.fixture
def make_trainer(tmp_path: Path) -> Callable[..., pl.Trainer]:
    """A CPU Trainer without logger, progress bar or summary, writing under ``tmp_path``."""

    def make(**options: Any) -> pl.Trainer:
        defaults: dict[str, Any] = dict(
            accelerator="cpu", devices=1, logger=False, enable_progress_bar=False, enable_model_summary=False,
            default_root_dir=tmp_path, num_sanity_val_steps=0,
        )
        return pl.Trainer(**{**defaults, **options})

    return make
