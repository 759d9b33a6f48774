"""Parameter counts and state-dict keys equal smp 0.6's ``tu-`` encoders (built on the meta
device: no memory, no init, no forward)."""

from __future__ import annotations

import pytest
import torch

from seghub_encoders_timm._factory import build_encoder

smp = pytest.importorskip("segmentation_models_pytorch")

NAMES = ["resnet34", "convnext_tiny", "efficientnet_b0", "mobilenetv3_large_100", "regnety_002"]


@pytest.mark.parametrize("name", NAMES)
def test_same_parameters_as_smp_tu_encoder(name: str) -> None:
    with torch.device("meta"):
        ours = build_encoder(name=f"timm:{name}", in_channels=3, depth=5, output_stride=32, weights=None)
        theirs = smp.encoders.get_encoder(f"tu-{name}", weights=None)
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in theirs.parameters())
    assert ours.state_dict().keys() == theirs.state_dict().keys()  # smp tu- checkpoints load as they are
    assert list(ours.out_channels) == list(theirs.out_channels)[-len(ours.out_channels):]
