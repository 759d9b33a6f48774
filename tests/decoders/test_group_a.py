"""U-Net, U-Net++, MA-Net, LinkNet, FPN and PSPNet decoders.

* parity with segmentation_models_pytorch 0.6 (resnet34, random weights): smp's decoder state
  dict loads strictly, parameter counts match, outputs match in eval mode, and our decoder with
  smp's segmentation head reproduces smp's model;
* every decoder at every depth it takes, with reductions starting at 2 and at 4 (and dilated
  encoders where they make sense): protocol attributes, output shape, gradients reaching every
  parameter;
* params validation and construction-time refusals that name the mismatch; plugin registration.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from pydantic import ValidationError
from seghub import Registry
from seghub._protocols import check_decoder_attributes, check_decoder_output

from seghub_decoders import plugin
from seghub_decoders._layers import ByteMaskDropout
from seghub_decoders._levels import SkipLevels
from seghub_decoders._norm_options import norm_config
from seghub_decoders._norms import LayerNorm2d, make_norm
from seghub_decoders.fpn.decoder import FPNDecoder
from seghub_decoders.fpn.params import FPNParams
from seghub_decoders.linknet.decoder import LinknetDecoder
from seghub_decoders.linknet.params import LinknetParams
from seghub_decoders.manet.decoder import MAnetDecoder
from seghub_decoders.manet.params import MAnetParams
from seghub_decoders.pspnet.decoder import PSPDecoder
from seghub_decoders.pspnet.params import PSPNetParams
from seghub_decoders.unet.decoder import UnetDecoder
from seghub_decoders.unet.params import UnetParams
from seghub_decoders.unetplusplus.decoder import UnetPlusPlusDecoder
from seghub_decoders.unetplusplus.params import UnetPlusPlusParams

torch.set_num_threads(1)

DECODERS: dict[str, tuple[type, type]] = {
    "unet": (UnetDecoder, UnetParams),
    "unetplusplus": (UnetPlusPlusDecoder, UnetPlusPlusParams),
    "manet": (MAnetDecoder, MAnetParams),
    "linknet": (LinknetDecoder, LinknetParams),
    "fpn": (FPNDecoder, FPNParams),
    "pspnet": (PSPDecoder, PSPNetParams),
}
SMP_CLASSES = {
    "unet": "Unet",
    "unetplusplus": "UnetPlusPlus",
    "manet": "MAnet",
    "linknet": "Linknet",
    "fpn": "FPN",
    "pspnet": "PSPNet",
}
RESNET_CHANNELS = (64, 64, 128, 256, 512)
RESNET_REDUCTIONS = (2, 4, 8, 16, 32)


def build(name: str, channels: tuple[int, ...], reductions: tuple[int, ...], **params: Any) -> torch.nn.Module:
    """Validate ``params`` with the decoder's params model and build it, as the core does."""
    decoder_cls, params_cls = DECODERS[name]
    return decoder_cls(encoder_channels=channels, encoder_reductions=reductions, **params_cls(**params).model_dump())


def features(channels: tuple[int, ...], reductions: tuple[int, ...], size: int = 64, batch: int = 2) -> list[torch.Tensor]:
    return [torch.randn(batch, c, size // r, size // r) for c, r in zip(channels, reductions)]


# --------------------------------------------------------------------------- smp parity

smp = pytest.importorskip("segmentation_models_pytorch")

PARITY_CASES: list[tuple[str, int, dict[str, Any]]] = [
    ("unet", 5, {}),
    (
        "unet", 3,
        {"decoder_channels": (64, 32, 16), "decoder_attention_type": "scse", "decoder_interpolation": "bilinear",
         "decoder_use_norm": {"type": "instancenorm", "affine": True}},
    ),
    ("unet", 4, {"decoder_channels": (64, 32, 16, 16), "decoder_use_norm": False}),
    ("unetplusplus", 5, {}),
    (
        "unetplusplus", 4,
        {"decoder_channels": (64, 32, 32, 16), "decoder_attention_type": "scse", "decoder_interpolation": "bilinear",
         "decoder_use_norm": "identity"},
    ),
    ("manet", 5, {}),
    (
        "manet", 4,
        {"decoder_channels": (64, 32, 32, 16), "decoder_pab_channels": 16, "decoder_interpolation": "bilinear",
         "decoder_use_norm": False},
    ),
    ("linknet", 5, {}),
    ("linknet", 3, {"decoder_use_norm": {"type": "batchnorm", "eps": 1e-3, "momentum": 0.2}}),
    ("fpn", 5, {}),
    (
        "fpn", 4,
        {"decoder_pyramid_channels": 64, "decoder_segmentation_channels": 64, "decoder_merge_policy": "cat",
         "decoder_dropout": 0.1, "decoder_interpolation": "bilinear"},
    ),
    ("pspnet", 3, {}),
    ("pspnet", 5, {"psp_out_channels": 64, "decoder_use_norm": False, "psp_dropout": 0.5}),
]


@pytest.mark.parametrize(
    ("name", "depth", "params"),
    [pytest.param(*case, id=f"{case[0]}-depth{case[1]}-{'custom' if case[2] else 'default'}") for case in PARITY_CASES],
)
def test_smp_parity(name: str, depth: int, params: dict[str, Any]) -> None:
    torch.manual_seed(0)
    smp_model = getattr(smp, SMP_CLASSES[name])("resnet34", encoder_weights=None, encoder_depth=depth, **params).eval()
    reductions = RESNET_REDUCTIONS[:depth]
    decoder = build(name, tuple(smp_model.encoder.out_channels[1:]), reductions, **params).eval()
    decoder.load_state_dict(smp_model.decoder.state_dict(), strict=True)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(decoder) == count(smp_model.decoder)

    x = torch.randn(1, 3, 64, 64)
    with torch.no_grad():
        feats = smp_model.encoder(x)
        expected = smp_model.decoder(feats)
        got = decoder(feats[1:])
        assert got.shape == expected.shape
        assert (got - expected).abs().max().item() < 1e-4
        # our decoder + smp's head == smp's model; the reduction is what the head must undo
        mask = smp_model.segmentation_head(got)
        assert (mask - smp_model(x)).abs().max().item() < 1e-4
    assert got.shape[1] == decoder.out_channels
    assert got.shape[-1] * decoder.reduction == 64


@pytest.mark.parametrize("name", ["unet", "manet", "linknet", "unetplusplus"])
def test_smp_parity_transformer_style_encoder(name: str) -> None:
    """smp gives encoders that start at reduction 4 a 0-channel dummy feature at reduction 2;
    our decoders, fed only the real features, load smp's weights and compute the same."""
    channels, reductions = (32, 48, 64, 96), (4, 8, 16, 32)
    torch.manual_seed(0)
    smp_decoder_cls = {
        "unet": smp.decoders.unet.decoder.UnetDecoder,
        "manet": smp.decoders.manet.decoder.MAnetDecoder,
        "linknet": smp.decoders.linknet.decoder.LinknetDecoder,
        "unetplusplus": smp.decoders.unetplusplus.decoder.UnetPlusPlusDecoder,
    }[name]
    smp_channels = (3, 0, *channels)
    if name == "linknet":
        reference = smp_decoder_cls(encoder_channels=smp_channels, n_blocks=5)
    elif name == "manet":
        reference = smp_decoder_cls(encoder_channels=smp_channels, decoder_channels=(64, 48, 32, 16, 16), n_blocks=5)
    else:
        reference = smp_decoder_cls(
            encoder_channels=smp_channels, decoder_channels=(64, 48, 32, 16, 16), n_blocks=5, attention_type="scse"
        )
    reference.eval()
    params: dict[str, Any] = {} if name == "linknet" else {"decoder_channels": (64, 48, 32, 16, 16)}
    if name in ("unet", "unetplusplus"):
        params["decoder_attention_type"] = "scse"
    decoder = build(name, channels, reductions, **params).eval()
    decoder.load_state_dict(reference.state_dict(), strict=True)
    feats = features(channels, reductions, batch=1)
    dummy = [torch.randn(1, 3, 64, 64), torch.empty(1, 0, 32, 32)]
    with torch.no_grad():
        assert (decoder(feats) - reference(dummy + feats)).abs().max().item() < 1e-4


# --------------------------------------------------------------------------- shapes and gradients

def _cases() -> list[tuple[str, tuple[int, ...], tuple[int, ...]]]:
    convnext = (32, 48, 64, 96)
    cases = []
    for name in DECODERS:
        for depth in range(1, 6):
            cases.append((name, RESNET_CHANNELS[:depth], RESNET_REDUCTIONS[:depth]))
        for depth in range(1, 5):
            cases.append((name, convnext[:depth], (4, 8, 16, 32)[:depth]))
        cases.append((name, RESNET_CHANNELS, (2, 4, 8, 16, 16)))
        cases.append((name, RESNET_CHANNELS, (2, 4, 8, 8, 8)))
    return cases


def _refusal(name: str, channels: tuple[int, ...], reductions: tuple[int, ...]) -> str | None:
    """The error a decoder must raise for these features (None: it must work)."""
    if name == "fpn" and len(channels) < 4:
        return "needs at least 4 encoder features"
    if name == "linknet" and len(set(reductions)) < len(reductions):
        return "needs each feature at twice the reduction"
    return None


@pytest.mark.parametrize(
    ("name", "channels", "reductions"),
    [pytest.param(*case, id=f"{case[0]}-r{'_'.join(map(str, case[2]))}") for case in _cases()],
)
def test_shape_and_gradients(name: str, channels: tuple[int, ...], reductions: tuple[int, ...]) -> None:
    refusal = _refusal(name, channels, reductions)
    if refusal is not None:
        with pytest.raises(ValueError, match=refusal) as info:
            build(name, channels, reductions)
        assert str(reductions).replace(",)", ")") in str(info.value)
        return
    torch.manual_seed(0)
    decoder = build(name, channels, reductions)
    check_decoder_attributes(decoder)
    assert decoder.requires_divisible_input is True
    feats = features(channels, reductions)
    out = decoder(feats)
    x = torch.empty(2, 3, 64, 64)
    check_decoder_output(decoder, x, out)
    expected_reduction = {"fpn": reductions[-4] if len(reductions) >= 4 else None, "pspnet": reductions[-1]}.get(name, 1)
    assert decoder.reduction == expected_reduction
    assert out.shape == (2, decoder.out_channels, 64 // decoder.reduction, 64 // decoder.reduction)
    out.float().square().mean().backward()
    missing = [n for n, p in decoder.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"


@pytest.mark.parametrize("name", ["unet", "unetplusplus"])
def test_scse_gradients(name: str) -> None:
    """With scse, only the last block's pre-concatenation attention (built by smp but never
    applied, as there is no skip at the input resolution) gets no gradient."""
    decoder = build(name, RESNET_CHANNELS[:3], RESNET_REDUCTIONS[:3], decoder_channels=(32, 32, 16),
                    decoder_attention_type="scse")
    decoder(features(RESNET_CHANNELS[:3], RESNET_REDUCTIONS[:3])).mean().backward()
    last = "blocks.2." if name == "unet" else "blocks.x_0_2."
    missing = {n for n, p in decoder.named_parameters() if p.grad is None}
    assert missing and all(n.startswith(last + "attention1.") for n in missing)


def test_default_decoder_channels_are_cut_for_shallow_encoders() -> None:
    decoder = build("unet", RESNET_CHANNELS[:3], RESNET_REDUCTIONS[:3])
    assert [b.conv2[0].out_channels for b in decoder.blocks] == [256, 128, 64]
    assert decoder.out_channels == 64


# --------------------------------------------------------------------------- refusals

def test_decoder_channels_length_must_fit() -> None:
    with pytest.raises(ValueError, match=r"decoder_channels has 2 entries .* needs 3 decoder blocks"):
        build("unet", RESNET_CHANNELS[:3], RESNET_REDUCTIONS[:3], decoder_channels=(32, 16))
    with pytest.raises(ValueError, match=r"needs 6 decoder blocks"):
        build("manet", (32, 48, 64, 96, 128), (4, 8, 16, 32, 64))


@pytest.mark.parametrize("name", ["unet", "unetplusplus", "manet", "linknet"])
def test_non_power_of_two_reductions_are_refused(name: str) -> None:
    with pytest.raises(ValueError, match=r"powers of two; the encoder's reductions are \(3, 6\)"):
        build(name, (16, 32), (3, 6))


def test_pspnet_needs_four_channels() -> None:
    with pytest.raises(ValueError, match="at least 4 channels"):
        build("pspnet", (2,), (8,))


def test_inplace_norm_needs_inplace_abn() -> None:
    """inplace_abn is not a dependency; without it the params refuse 'inplace' (when the spec is
    validated, before anything is built), saying how to get it."""
    try:
        import inplace_abn  # noqa: F401
    except ImportError:
        with pytest.raises(ValidationError, match="pip install inplace_abn"):
            build("unet", RESNET_CHANNELS, RESNET_REDUCTIONS, decoder_use_norm="inplace")
    else:
        decoder = build("unet", RESNET_CHANNELS[:2], RESNET_REDUCTIONS[:2], decoder_channels=(16, 8), decoder_use_norm="inplace")
        assert type(decoder.blocks[0].conv1[1]).__name__ == "InPlaceABN"


# --------------------------------------------------------------------------- params validation

@pytest.mark.parametrize("name", list(DECODERS))
def test_params_defaults_match_smp(name: str) -> None:
    import inspect

    smp_signature = inspect.signature(getattr(smp, SMP_CLASSES[name]).__init__).parameters
    params = DECODERS[name][1]()
    for field, value in params.model_dump().items():
        if field == "decoder_add_center_block":  # smp derives it from the encoder name
            continue
        assert field in smp_signature, field
        default = smp_signature[field].default
        assert value == (tuple(default) if isinstance(default, (list, tuple)) else default), field


@pytest.mark.parametrize(
    ("name", "params", "location", "message"),
    [
        ("unet", {"decoder_chanels": (16,)}, "decoder_chanels", "Extra inputs are not permitted"),
        ("unet", {"decoder_channels": ()}, "decoder_channels", "at least one entry"),
        ("unet", {"decoder_channels": (16, 0)}, "decoder_channels", "greater than 0"),
        ("unet", {"decoder_attention_type": "cbam"}, "decoder_attention_type", "scse"),
        ("unet", {"decoder_use_norm": "groupnorm"}, "decoder_use_norm", "unknown normalisation 'groupnorm'"),
        ("unet", {"decoder_use_norm": {"eps": 1e-3}}, "decoder_use_norm", "needs a 'type' key"),
        ("unet", {"decoder_use_norm": 1}, "decoder_use_norm", "must be a bool"),
        ("unetplusplus", {"decoder_interpolation": "linear"}, "decoder_interpolation", "nearest"),
        ("manet", {"decoder_pab_channels": 0}, "decoder_pab_channels", "greater than 0"),
        ("linknet", {"decoder_channels": (16,)}, "decoder_channels", "Extra inputs are not permitted"),
        ("fpn", {"decoder_segmentation_channels": 100}, "decoder_segmentation_channels", "multiple of 32"),
        ("fpn", {"decoder_merge_policy": "mul"}, "decoder_merge_policy", "'add' or 'cat'"),
        ("fpn", {"decoder_dropout": 1.0}, "decoder_dropout", "less than 1"),
        ("pspnet", {"psp_dropout": -0.1}, "psp_dropout", "greater than or equal to 0"),
        ("pspnet", {"psp_out_channels": 0}, "psp_out_channels", "greater than 0"),
    ],
)
def test_params_validation(name: str, params: dict[str, Any], location: str, message: str) -> None:
    with pytest.raises(ValidationError) as info:
        DECODERS[name][1](**params)
    errors = info.value.errors()
    assert errors[0]["loc"][0] == location
    assert message in str(info.value)


def test_norm_option_values() -> None:
    params = UnetParams(decoder_use_norm="BatchNorm")
    assert params.decoder_use_norm == "batchnorm"
    assert UnetParams(decoder_use_norm={"type": "LayerNorm", "eps": 1e-3}).decoder_use_norm == {"type": "layernorm", "eps": 1e-3}
    assert norm_config(True) == {"type": "batchnorm"} and norm_config(False) == {"type": "identity"}
    assert isinstance(make_norm(True, 8), torch.nn.BatchNorm2d)
    assert isinstance(make_norm("identity", 8), torch.nn.Identity)
    with pytest.raises(ValueError, match="invalid options"):
        make_norm({"type": "batchnorm", "bogus": 1}, 8)
    schema = UnetParams.model_json_schema()["properties"]["decoder_use_norm"]
    assert {"type": "boolean"} in schema["anyOf"]


def test_layernorm_normalises_channels() -> None:
    """smp 0.6's layernorm normalises the last (width) axis and fails unless W == C; ours
    normalises channels and keeps nn.LayerNorm's parameters."""
    norm = LayerNorm2d(8)
    x = torch.randn(2, 8, 5, 3)
    y = norm(x)
    assert torch.allclose(y.mean(dim=1), torch.zeros(2, 5, 3), atol=1e-5)
    assert set(dict(norm.named_parameters())) == {"weight", "bias"}
    decoder = build("unet", RESNET_CHANNELS[:2], RESNET_REDUCTIONS[:2], decoder_channels=(16, 8), decoder_use_norm="layernorm")
    assert decoder(features(RESNET_CHANNELS[:2], RESNET_REDUCTIONS[:2], size=30)).shape == (2, 8, 30, 30)


def test_skip_levels() -> None:
    levels = SkipLevels("unet", (96, 192, 384, 768), (4, 8, 16, 32))
    assert levels.skip_channels == (384, 192, 96, 0, 0)
    assert levels.target_reductions == (16, 8, 4, 2, 1)
    assert levels.has_skip == (True, True, True, True, False)
    dilated = SkipLevels("unet", RESNET_CHANNELS, (2, 4, 8, 16, 16))
    assert dilated.target_reductions == (16, 8, 4, 2, 1)


def test_byte_mask_dropout_is_dropout() -> None:
    drop = ByteMaskDropout(p=0.25)
    x = torch.rand(1_000_000) + 1.0  # no zeros of its own
    assert drop.eval()(x) is x
    drop.train()
    y = drop(x)
    kept = y != 0
    assert abs(kept.float().mean().item() - 0.75) < 0.005
    torch.testing.assert_close(y[kept], x[kept] / 0.75)
    assert ByteMaskDropout(p=0.0).train()(x) is x
    assert not ByteMaskDropout(p=1.0).train()(x).any()


def test_byte_mask_dropout_keeps_only_a_boolean_mask_for_backward() -> None:
    x = torch.randn(64, 64, requires_grad=True)
    saved: list[torch.Tensor] = []

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        saved.append(tensor)
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        y = ByteMaskDropout(p=0.5).train()(x)
    assert saved and all(t.dtype == torch.bool for t in saved)
    y.sum().backward()
    torch.testing.assert_close(x.grad, (y != 0).float() * 2.0)
    saved.clear()
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        torch.nn.Dropout(p=0.5).train()(x)
    assert any(t.is_floating_point() and t.shape == x.shape for t in saved)  # what it improves on


# --------------------------------------------------------------------------- plugin registration

def test_plugin_rows_resolve() -> None:
    registry = Registry()
    plugin.seghub_register_decoders(registry)
    entries = {entry.name: entry for entry in registry.decoders}
    for name, (decoder_cls, params_cls) in DECODERS.items():
        entry = entries[name]
        assert entry.load_factory() is decoder_cls
        assert entry.load_params_model() is params_cls
    assert entries["pspnet"].encoder_defaults == {"depth": 3}
    assert {name: entries[name].head_defaults.get("kernel_size") for name in DECODERS} == {
        "unet": 3, "unetplusplus": 3, "manet": 3, "linknet": 1, "fpn": 1, "pspnet": 3,
    }


# --------------------------------------------------------------------------- end to end (a few)

def _seghub_with_resnet() -> Any:
    import importlib.util

    import seghub

    if importlib.util.find_spec("seghub_encoders_resnet") is None:
        pytest.skip("the seghub-encoders-resnet plugin is not installed")
    return seghub


@pytest.mark.parametrize(
    ("name", "encoder", "reduction"),
    [
        ("unet", {}, 1),
        ("UnetPlusPlus", {"depth": 4}, 1),
        ("manet", {"depth": 3}, 1),
        ("Linknet", {}, 1),
        ("fpn", {"depth": 4}, 2),
        ("pspnet", {}, 8),
    ],
)
def test_build_model(name: str, encoder: dict[str, Any], reduction: int) -> None:
    seghub = _seghub_with_resnet()
    model = seghub.build_model(
        {"encoder": {"name": "resnet18", **encoder}, "decoder": {"name": name}, "segmentation_head": {"classes": 3}}
    )
    assert model.decoder.reduction == reduction
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 3, 64, 64)


def test_build_model_reports_decoder_mismatch() -> None:
    seghub = _seghub_with_resnet()
    with pytest.raises(seghub.SpecError) as info:
        seghub.build_model({"encoder": {"name": "resnet18", "depth": 3}, "neck": None, "decoder": {"name": "fpn"}})
    assert "needs at least 4 encoder features" in str(info.value)
    # left to the builder, a neck makes the three features a four-level pyramid
    assert seghub.build_model({"encoder": {"name": "resnet18", "depth": 3}, "decoder": {"name": "fpn"}}).spec.neck.name == "simple_pyramid"
    with pytest.raises(seghub.SpecError, match=r"decoder\.params\.decoder_channels"):
        seghub.build_model({"encoder": {"name": "resnet18"}, "decoder": {"name": "unet", "params": {"decoder_channels": [0]}}})
