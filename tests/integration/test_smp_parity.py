"""Whole-model parity with smp 0.6 on resnet34: parameter counts, state dicts, outputs."""

from __future__ import annotations

import pytest
import torch

import seghub
from seghub.compat.smp import load_smp_state_dict

smp = pytest.importorskip("segmentation_models_pytorch")

# (architecture, constructor kwargs shared by smp and seghub, input size)
CASES = [
    ("Unet", {}, 64),
    ("Unet", {"decoder_attention_type": "scse", "decoder_channels": (64, 32, 32, 16, 16), "decoder_use_norm": False}, 64),
    ("UnetPlusPlus", {}, 64),
    ("UnetPlusPlus", {"encoder_depth": 4, "decoder_channels": (64, 32, 16, 8), "decoder_interpolation": "bilinear"}, 64),
    ("MAnet", {}, 64),
    ("MAnet", {"decoder_pab_channels": 32, "decoder_channels": (64, 32, 16, 16, 8)}, 64),
    ("Linknet", {}, 64),
    ("Linknet", {"encoder_depth": 3, "decoder_use_norm": {"type": "instancenorm", "affine": True}}, 64),
    ("FPN", {}, 64),
    ("FPN", {"decoder_merge_policy": "cat", "decoder_pyramid_channels": 64, "decoder_segmentation_channels": 32}, 64),
    ("PSPNet", {}, 64),
    ("PSPNet", {"encoder_depth": 4, "psp_out_channels": 128, "upsampling": 16}, 64),
    ("PAN", {}, 128),
    ("PAN", {"encoder_output_stride": 32, "decoder_channels": 16}, 256),
    ("DeepLabV3", {}, 64),
    ("DeepLabV3", {"encoder_output_stride": 16, "decoder_atrous_rates": (6, 12, 18), "decoder_aspp_separable": True}, 64),
    ("DeepLabV3Plus", {}, 64),
    ("DeepLabV3Plus", {"encoder_output_stride": 8, "decoder_channels": 64}, 64),
    ("UPerNet", {}, 64),
    ("UPerNet", {"decoder_channels": 64, "encoder_depth": 4}, 64),
    ("Segformer", {}, 64),
    ("Segformer", {"decoder_segmentation_channels": 64}, 64),
]


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _smp_used(model: torch.nn.Module, depth: int) -> int:
    """smp's parameter count less the encoder stages a shallow smp model builds but never runs."""
    return _count(model) - sum(_count(getattr(model.encoder, f"layer{i}")) for i in range(depth, 5))


AUX = {"classes": 3, "dropout": 0.1, "pooling": "max"}


@pytest.mark.parametrize(("arch", "kwargs", "size"), CASES, ids=lambda v: v if isinstance(v, str) else None)
def test_smp_model_loads_and_matches(arch, kwargs, size):
    torch.manual_seed(0)
    aux = AUX if kwargs else None  # the non-default cases also carry a classification head
    common = dict(encoder_name="resnet34", encoder_weights=None, classes=2, aux_params=aux, **kwargs)
    theirs = getattr(smp, arch)(**common).eval()
    ours = getattr(seghub, arch)(**common).eval()
    depth = ours.spec.encoder.depth
    assert _count(ours) == _smp_used(theirs, depth)
    if depth == 5:
        assert _count(ours) == _count(theirs)
    assert _count(ours.decoder) == _count(theirs.decoder)
    load_smp_state_dict(ours, theirs.state_dict())
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        expected, actual = theirs(x), ours(x)
    if aux is None:
        expected, actual = (expected,), (actual,)
    for e, a in zip(expected, actual):
        assert e.shape == a.shape
        assert (e - a).abs().max().item() < 1e-4


def test_create_model_matches_the_constructors():
    model = seghub.create_model("deeplabv3plus", encoder_weights=None, classes=3)
    assert model.spec.decoder.name == "deeplabv3plus" and model.spec.encoder.output_stride == 16
    with pytest.raises(ValueError, match="Did you mean 'unet'"):
        seghub.create_model("unnet")


def test_smp_examples_run_verbatim():
    mask = seghub.FPN("resnet34", in_channels=1, encoder_weights=None)(torch.ones([1, 1, 64, 64]))
    assert mask.shape == (1, 1, 64, 64)
    model = seghub.Unet("resnet34", classes=4, aux_params=dict(pooling="avg", dropout=0.5, activation="sigmoid", classes=4), encoder_weights=None)
    mask, label = model(torch.ones([1, 3, 64, 64]))
    assert mask.shape == (1, 4, 64, 64) and label.shape == (1, 4)
    assert torch.all((label > 0) & (label < 1))
    shallow = seghub.Unet("resnet34", encoder_depth=4, encoder_weights=None)
    assert len(shallow.encoder.out_channels) == 4
    assert shallow.decoder.out_channels == 32  # (256, 128, 64, 32, 16) cut to four blocks
    assert shallow(torch.ones([1, 3, 64, 64])).shape == (1, 1, 64, 64)


@pytest.mark.parametrize(("arch", "stride"), [("PAN", 8), ("DeepLabV3", 32), ("DeepLabV3Plus", 32)])
def test_output_strides_smp_refuses_follow_the_spec_rule(arch, stride):
    """smp's constructors refuse these output strides; seghub's decoders take them, and the
    constructors follow the same rule as specs (one rule for both paths)."""
    with pytest.raises(ValueError, match=f"output stride .*got {stride}"):
        getattr(smp, arch)("resnet34", encoder_weights=None, encoder_output_stride=stride)
    ours = getattr(seghub, arch)("resnet34", encoder_weights=None, encoder_output_stride=stride)
    from_spec = seghub.build_model(
        {"encoder": {"name": "resnet34", "output_stride": stride}, "decoder": {"name": arch}}
    )
    assert ours.spec.encoder.output_stride == from_spec.spec.encoder.output_stride == stride
    assert min(stride, 32) == ours.encoder.reductions[-1]
    shapes = {k: v.shape for k, v in ours.state_dict().items()}
    assert shapes == {k: v.shape for k, v in from_spec.state_dict().items()}


def test_deprecated_smp_spellings_still_work():
    with pytest.warns(DeprecationWarning, match="decoder_use_batchnorm"):
        model = seghub.Unet("resnet34", encoder_weights=None, decoder_use_batchnorm=False)
    assert model.spec.decoder.params["decoder_use_norm"] is False
    with pytest.warns(DeprecationWarning, match="upscale_mode"):
        model = seghub.PAN("resnet34", encoder_weights=None, upscale_mode="nearest")
    assert model.spec.decoder.params["decoder_interpolation"] == "nearest"


def test_default_weights_are_imagenet_and_fail_clearly_offline(tmp_path):
    from seghub.testing import offline_hub_cache

    with offline_hub_cache(tmp_path), pytest.raises(seghub.WeightsError, match="encoder_weights=None"):
        seghub.Unet("resnet34")
