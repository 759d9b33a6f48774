"""Shared fixtures of the ResNet encoder tests: an offline Hugging Face cache and checkpoints."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from seghub_encoders_resnet import ARCHS, build_encoder

Checkpoint = dict[str, torch.Tensor]


@pytest.fixture
def hub_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty Hugging Face cache in offline mode (HF_HOME / HF_HUB_CACHE point there)."""
    from huggingface_hub import constants

    home = tmp_path / "hf-home"
    cache = home / "hub"
    cache.mkdir(parents=True)
    monkeypatch.setenv("HF_HOME", str(home))
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    # huggingface_hub reads these once at import; the variables alone would come too late
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(cache))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    return cache


def _torchvision_checkpoint(name: str, seed: int) -> Checkpoint:
    """Random tensors in torchvision's ResNet layout, classifier included, non-trivial BN stats."""
    generator = torch.Generator().manual_seed(seed)
    state = build_encoder(name=name).state_dict()
    out: Checkpoint = {}
    for key, value in state.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(100)
        elif key.endswith("running_var"):
            out[key] = torch.rand(value.shape, generator=generator) + 0.5
        elif key.endswith(("running_mean", "bn1.bias", "bn2.bias", "bn3.bias", "downsample.1.bias")):
            out[key] = torch.randn(value.shape, generator=generator) * 0.1
        elif key.endswith("weight") and value.ndim == 1:  # batch-norm scale
            out[key] = torch.rand(value.shape, generator=generator) + 0.5
        else:  # convolution kernels, He-scaled
            fan_in = value[0].numel()
            out[key] = torch.randn(value.shape, generator=generator) * (2.0 / fan_in) ** 0.5
    features = ARCHS[name].out_channels[-1]
    out["fc.weight"] = torch.randn(1000, features, generator=generator) * 0.01
    out["fc.bias"] = torch.zeros(1000)
    return out


_CHECKPOINTS: dict[tuple[str, int], Checkpoint] = {}


@pytest.fixture(scope="session")
def make_checkpoint() -> Callable[..., Checkpoint]:
    """``make_checkpoint(name, seed=0)``: a torchvision-layout checkpoint (cached; copy to change)."""

    def make(name: str, seed: int = 0) -> Checkpoint:
        if (name, seed) not in _CHECKPOINTS:
            _CHECKPOINTS[(name, seed)] = _torchvision_checkpoint(name, seed)
        return dict(_CHECKPOINTS[(name, seed)])

    return make
