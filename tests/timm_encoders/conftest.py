"""Shared helpers of the timm encoder tests: an offline Hugging Face cache and weight files."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pytest
import torch


REVISION = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache in offline mode: nothing can be downloaded."""
    from huggingface_hub import constants

    cache = tmp_path / "hf-cache"
    cache.mkdir()
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    return cache


def random_state_dict(timm_name: str, drop: Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """A freshly initialised timm model's full state dict (random tensors of the right shapes)."""
    import timm

    torch.manual_seed(0)
    state = timm.create_model(timm_name, pretrained=False).state_dict()
    return {k: v.contiguous() for k, v in state.items() if k not in set(drop)}


def write_weights(path: Path, timm_name: str, drop: Iterable[str] = ()) -> dict[str, torch.Tensor]:
    """Write :func:`random_state_dict` to ``path`` as safetensors and return it."""
    from safetensors.torch import save_file

    state = random_state_dict(timm_name, drop)
    path.parent.mkdir(parents=True, exist_ok=True)
    save_file(state, str(path))
    return state


@pytest.fixture
def cached_weights(hub_cache: Path):
    """``cached_weights(repo_id, timm_name) -> state``: random weights put into the offline
    Hugging Face cache of :func:`hub_cache`, as ``model.safetensors`` at a fixed revision."""

    def make(repo_id: str, timm_name: str, filename: str = "model.safetensors") -> dict[str, torch.Tensor]:
        repo = hub_cache / ("models--" + repo_id.replace("/", "--"))
        (repo / "refs").mkdir(parents=True)
        (repo / "refs" / "main").write_text(REVISION)
        return write_weights(repo / "snapshots" / REVISION / filename, timm_name)

    return make


@pytest.fixture
def weights_file(tmp_path: Path):
    """``weights_file(timm_name, drop=()) -> (path, state)``: random weights in a local file."""

    def make(timm_name: str, drop: Iterable[str] = ()) -> tuple[Path, dict[str, torch.Tensor]]:
        path = tmp_path / f"{timm_name}.safetensors"
        return path, write_weights(path, timm_name, drop)

    return make
