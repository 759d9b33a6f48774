"""Any encoder under any decoder, as a new user builds them: ``seghub.create_model(arch,
encoder_name=E, encoder_weights=None, classes=3)`` with library defaults.

Tiny timm models stand in for the families: a plain ViT with a class token (patch 16), one with
four register tokens as well (DINOv2/v3-style), a patch-14 ViT, a pyramid (ConvNeXt), a pyramid
timm cannot dilate (MambaOut, like Hiera), and seghub's ResNet. Every pair must build, train
(gradients reach every parameter) and give input-sized masks at two input sizes; a neck is added
exactly where the decoder cannot use the encoder's features, and model.spec records it.
"""

from __future__ import annotations

import warnings
from typing import Any

import pytest
import torch

import seghub

pytestmark = pytest.mark.usefixtures("one_thread")

ARCHITECTURES = (
    "Unet", "UnetPlusPlus", "MAnet", "Linknet", "FPN", "PSPNet",
    "PAN", "DeepLabV3", "DeepLabV3Plus", "UPerNet", "Segformer", "DPT",
)
ENCODERS: dict[str, tuple[str, dict[str, Any]]] = {
    "resnet": ("resnet18", {}),
    "vit16": ("timm:test_vit", {}),
    "vit16-registers": ("timm:test_vit", {"reg_tokens": 4}),
    "vit14": ("timm:test_vit", {"patch_size": 14}),
    "convnext": ("timm:test_convnext", {}),
    "no-dilation": ("timm:test_mambaout", {}),
}
PLAIN_VITS = ("vit16", "vit16-registers", "vit14")
# what cannot use a plain ViT's features as they are: the U-Net family and Linknet need a
# pyramid, DeepLabV3+ a feature at reduction 4; DPT needs power-of-two reductions (patch 14)
NEEDS_PYRAMID = {"Unet", "UnetPlusPlus", "MAnet", "Linknet", "DeepLabV3Plus"}


def expected_neck(encoder: str, arch: str) -> str | None:
    if encoder not in PLAIN_VITS:
        return None
    if arch in NEEDS_PYRAMID:
        return "simple_pyramid"
    return "grid_resample" if encoder == "vit14" and arch == "DPT" else None


def build(arch: str, encoder: str) -> seghub.SegmentationModel:
    name, params = ENCODERS[encoder]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the native-stride fallback, tested below
        return seghub.create_model(arch, encoder_name=name, encoder_weights=None, classes=3, **params)


def smallest_side(model: seghub.SegmentationModel, at_least: int = 32) -> int:
    step = model.input_divisor
    return step * -(-max(at_least, model.capabilities.min_input_size) // step)


@pytest.mark.parametrize("encoder", list(ENCODERS))
@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_pair_builds_trains_and_gives_input_sized_masks(arch: str, encoder: str) -> None:
    torch.manual_seed(0)
    model = build(arch, encoder).train()
    neck = expected_neck(encoder, arch)
    assert (model.spec.neck.name if model.spec.neck else None) == neck
    side = smallest_side(model)
    loss = torch.zeros(())
    for height, width in ((side, side), (side, side + model.input_divisor)):
        mask = model(torch.randn(2, 3, height, width))
        assert mask.shape == (2, 3, height, width)
        loss = loss + mask.square().mean()
    loss.backward()
    dead = [name for name, p in model.named_parameters() if p.requires_grad and p.grad is None]
    assert dead == [], f"no gradient reaches {dead[:5]}"
    # model.spec says what was built: building it again gives the same architecture
    again = seghub.build_model(model.spec)
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}


@pytest.mark.parametrize("arch", ["PAN", "DeepLabV3", "DeepLabV3Plus"])
def test_an_encoder_that_cannot_dilate_builds_at_its_native_stride_with_a_warning(arch: str) -> None:
    with pytest.warns(UserWarning, match=r"cannot give output stride (8|16).*native stride.*output_stride=32"):
        model = seghub.create_model(arch, encoder_name="timm:test_mambaout", encoder_weights=None)
    assert model.spec.encoder.output_stride == 32 and model.encoder.reductions[-1] == 32


def test_an_explicit_output_stride_the_encoder_cannot_give_is_still_refused() -> None:
    with pytest.raises(seghub.SpecError, match=r"encoder: encoder\.output_stride=8 is not supported"):
        seghub.build_model({"encoder": {"name": "timm:test_mambaout", "output_stride": 8}, "decoder": {"name": "deeplabv3"}})


def test_explicit_null_neck_keeps_todays_error() -> None:
    with pytest.raises(seghub.SpecError, match=r"decoder: unet: decoder_channels has 5 entries"):
        seghub.build_model({"encoder": {"name": "timm:test_vit"}, "neck": None, "decoder": {"name": "unet"}})


@pytest.mark.parametrize("encoder", PLAIN_VITS)
def test_prefix_tokens_are_dropped_from_features_and_read_out_by_dpt(encoder: str) -> None:
    model = build("DPT", encoder).eval()
    prefix = 5 if encoder == "vit16-registers" else 1  # class token, plus the registers
    assert model.encoder.num_prefix_tokens == prefix
    assert model.capabilities.prefix_tokens  # the grid resampler keeps channels, so tokens pass it
    side = smallest_side(model)
    x = torch.randn(1, 3, side, side)
    features, tokens = model.encoder.forward_with_tokens(x)
    grid = -(-side // model.encoder.reductions[0])
    assert all(f.shape[-2:] == (grid, grid) for f in features)  # no token left in the maps
    assert all(t.shape == (1, prefix, f.shape[1]) for t, f in zip(tokens, features))
    seen: list[Any] = []
    model.decoder.register_forward_pre_hook(lambda _m, args: seen.append(args))
    model(x)
    assert seen[0][1] is not None and seen[0][1][0].shape[1] == prefix


def test_a_neck_that_changes_channels_does_not_pass_tokens() -> None:
    spec = {"encoder": {"name": "timm:test_vit"}, "neck": {"name": "simple_pyramid"}, "decoder": {"name": "dpt"}}
    with pytest.warns(UserWarning, match="no prefix"):
        model = seghub.build_model(spec)
    assert not model.capabilities.prefix_tokens
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 1, 64, 64)
