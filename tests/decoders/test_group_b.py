"""PAN, DeepLabV3, DeepLabV3+, UPerNet and Segformer decoders.

* parity with segmentation_models_pytorch 0.6 (resnet34, random weights): smp's decoder state
  dict loads strictly, outputs match, and our decoder + smp's head reproduce smp's model;
* every decoder at every depth, reductions starting at 2 or 4, and output strides 8/16/32:
  protocol attributes, output shape, gradients reaching every parameter;
* params validation, refusals naming the mismatch, plugin registration.
"""

from __future__ import annotations

import inspect
from typing import Any

import pytest
import torch
from pydantic import ValidationError
from seghub._protocols import check_decoder_attributes, check_decoder_output
from seghub.errors import InputShapeError, SpecError
from torch.utils._python_dispatch import TorchDispatchMode

import seghub
from seghub_decoders.deeplab.decoder import DeepLabV3Decoder, DeepLabV3PlusDecoder
from seghub_decoders.deeplab.params import DeepLabV3Params, DeepLabV3PlusParams
from seghub_decoders.pan.decoder import PANDecoder
from seghub_decoders.pan.params import PANParams
from seghub_decoders.segformer.decoder import SegformerDecoder
from seghub_decoders.segformer.params import SegformerParams
from seghub_decoders.upernet.decoder import UPerNetDecoder
from seghub_decoders.upernet.params import UPerNetParams

smp = pytest.importorskip("segmentation_models_pytorch")

torch.set_num_threads(1)

DECODERS: dict[str, tuple[type, type]] = {
    "pan": (PANDecoder, PANParams),
    "deeplabv3": (DeepLabV3Decoder, DeepLabV3Params),
    "deeplabv3plus": (DeepLabV3PlusDecoder, DeepLabV3PlusParams),
    "upernet": (UPerNetDecoder, UPerNetParams),
    "segformer": (SegformerDecoder, SegformerParams),
}
SMP_CLASSES = {
    "pan": "PAN",
    "deeplabv3": "DeepLabV3",
    "deeplabv3plus": "DeepLabV3Plus",
    "upernet": "UPerNet",
    "segformer": "Segformer",
}



def build(arch: str, channels: tuple[int, ...], reductions: tuple[int, ...], **params: Any) -> torch.nn.Module:
    """Validate ``params`` with the decoder's params model and build it, as the registry entry does."""
    decoder_cls, params_cls = DECODERS[arch]
    return decoder_cls(encoder_channels=channels, encoder_reductions=reductions, **params_cls(**params).model_dump())


# --------------------------------------------------------------------------- smp parity

PARITY_CASES: list[tuple[str, dict[str, Any], int]] = [
    ("pan", {}, 128),
    ("pan", {"encoder_output_stride": 32, "decoder_channels": 16, "decoder_interpolation": "nearest"}, 256),
    ("pan", {"encoder_depth": 3, "decoder_interpolation": "bicubic"}, 128),
    ("deeplabv3", {}, 64),
    (
        "deeplabv3",
        {
            "encoder_output_stride": 16,
            "decoder_channels": 64,
            "decoder_atrous_rates": (6, 12, 18),
            "decoder_aspp_separable": True,
            "decoder_aspp_dropout": 0.1,
        },
        64,
    ),
    ("deeplabv3", {"encoder_depth": 3, "decoder_channels": 32}, 64),
    ("deeplabv3plus", {}, 64),
    (
        "deeplabv3plus",
        {"encoder_output_stride": 8, "decoder_channels": 64, "decoder_aspp_separable": False,
         "decoder_atrous_rates": (2, 4, 6)},
        64,
    ),
    ("deeplabv3plus", {"encoder_depth": 3, "decoder_channels": 32}, 64),
    ("upernet", {}, 64),
    ("upernet", {"decoder_channels": 64, "decoder_use_norm": False}, 64),
    (
        "upernet",
        {"encoder_depth": 3, "decoder_channels": 32,
         "decoder_use_norm": {"type": "batchnorm", "eps": 1e-3, "momentum": 0.2}},
        64,
    ),
    ("segformer", {}, 64),
    ("segformer", {"encoder_depth": 4, "decoder_segmentation_channels": 32}, 64),
]


def _param_count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


@pytest.mark.parametrize(
    ("arch", "kwargs", "size"),
    PARITY_CASES,
    ids=[f"{a}-{'-'.join(k) or 'default'}" for a, k, _ in PARITY_CASES],
)
def test_smp_parity(arch: str, kwargs: dict[str, Any], size: int) -> None:
    torch.manual_seed(0)
    reference = getattr(smp, SMP_CLASSES[arch])("resnet34", encoder_weights=None, classes=3, **kwargs).eval()
    x = torch.randn(1, 3, size, size)
    with torch.no_grad():
        smp_features = reference.encoder(x)
    features = list(smp_features[1:])  # seghub encoders do not return the input itself
    reductions = tuple(size // f.shape[-1] for f in features)
    decoder_kwargs = {k: v for k, v in kwargs.items() if k.startswith("decoder_")}
    ours = build(arch, tuple(reference.encoder.out_channels[1:]), reductions, **decoder_kwargs).eval()
    check_decoder_attributes(ours)

    assert _param_count(ours) == _param_count(reference.decoder)
    ours.load_state_dict(reference.decoder.state_dict(), strict=True)
    with torch.no_grad():
        expected = reference.decoder(list(smp_features))
        got = ours(features)
        assert got.shape == expected.shape
        assert (got - expected).abs().max().item() < 1e-4
        check_decoder_output(ours, x, got)
        # our decoder followed by smp's head reproduces the whole smp model
        mask = reference.segmentation_head(got)
        assert (mask - reference(x)).abs().max().item() < 1e-4
    # smp's head upsamples by our decoder's reduction (its default upsampling)
    head_upsampling = reference.segmentation_head[1]
    assert getattr(head_upsampling, "scale_factor", 1) in (ours.reduction, float(ours.reduction))


@pytest.mark.parametrize("arch", list(DECODERS))
def test_params_match_smp_signature(arch: str) -> None:
    """Each decoder_* argument of smp's constructor is a params field with the same default."""
    signature = inspect.signature(getattr(smp, SMP_CLASSES[arch]).__init__)
    smp_defaults = {
        name: p.default for name, p in signature.parameters.items() if name.startswith("decoder_")
    }
    fields = DECODERS[arch][1].model_fields
    assert set(fields) == set(smp_defaults)
    defaults = DECODERS[arch][1]().model_dump()
    for name, default in smp_defaults.items():
        expected = tuple(default) if isinstance(default, (list, tuple)) else default
        assert defaults[name] == expected, name
    # the registered smp-style constructor has the same keyword defaults as the params model
    ctor = inspect.signature(seghub.get_hub().decoder(arch).load_constructor()).parameters
    for name, default in defaults.items():
        value = ctor[name].default
        assert (tuple(value) if isinstance(value, (list, tuple)) else value) == default


# --------------------------------------------------------------------------- shapes and gradients

SMALL_PARAMS: dict[str, dict[str, Any]] = {
    "pan": {"decoder_channels": 8},
    "deeplabv3": {"decoder_channels": 8, "decoder_atrous_rates": (1, 2, 3)},
    "deeplabv3plus": {"decoder_channels": 8, "decoder_atrous_rates": (1, 2, 3)},
    "upernet": {"decoder_channels": 8},
    "segformer": {"decoder_segmentation_channels": 8},
}
MIN_DEPTH = {"pan": 3, "deeplabv3": 1, "deeplabv3plus": 3, "upernet": 3, "segformer": 3}
CHANNELS = {2: 6, 4: 10, 8: 12, 16: 14, 32: 16}


def _reductions(depth: int, first: int, output_stride: int) -> tuple[int, ...]:
    """Reductions of an encoder with ``depth`` stages whose first feature is at ``first``."""
    return tuple(min(2**i, output_stride) for i in range(1, depth + 1) if 2**i >= first)


def _shape_cases() -> list[tuple[str, tuple[int, ...]]]:
    cases: dict[tuple[str, tuple[int, ...]], None] = {}
    for arch in DECODERS:
        for depth in range(MIN_DEPTH[arch], 6):
            for first in (2, 4):
                for output_stride in (8, 16, 32):
                    reductions = _reductions(depth, first, output_stride)
                    if reductions:
                        cases[(arch, reductions)] = None
    return list(cases)


SHAPE_CASES = _shape_cases()


@pytest.mark.parametrize(
    ("arch", "reductions"), SHAPE_CASES, ids=[f"{a}-{'.'.join(map(str, r))}" for a, r in SHAPE_CASES]
)
def test_shape_and_gradients(arch: str, reductions: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    channels = tuple(CHANNELS[r] + i for i, r in enumerate(reductions))
    decoder = build(arch, channels, reductions, **SMALL_PARAMS[arch])
    check_decoder_attributes(decoder)
    assert decoder.requires_divisible_input is True
    # PAN's pyramid attention needs its coarsest map to be at least 8x8
    size = max(64, 8 * reductions[-1]) if arch == "pan" else 64
    x = torch.empty(2, 3, size, size)
    features = [
        torch.randn(2, c, size // r, size // r, requires_grad=True) for c, r in zip(channels, reductions)
    ]
    decoder.train()
    out = decoder(features)
    check_decoder_output(decoder, x, out)
    assert out.shape == (2, decoder.out_channels, size // decoder.reduction, size // decoder.reduction)
    out.square().mean().backward()
    missing = [name for name, p in decoder.named_parameters() if p.grad is None]
    assert not missing, f"no gradient reaches {missing}"
    assert all(torch.isfinite(p.grad).all() for p in decoder.parameters())


def test_output_reductions() -> None:
    resnet = ((64, 64, 128, 256, 512), (2, 4, 8, 16, 32))
    assert build("pan", *resnet).reduction == 4
    assert build("upernet", *resnet).reduction == 4
    assert build("segformer", *resnet).reduction == 4
    assert build("deeplabv3plus", resnet[0], (2, 4, 8, 16, 16)).reduction == 4
    assert build("deeplabv3", resnet[0], (2, 4, 8, 8, 8)).reduction == 8
    assert build("deeplabv3", resnet[0], (2, 4, 8, 16, 16)).reduction == 16


class _OutputShapes(TorchDispatchMode):
    """Records the shape of every tensor any operation produces, backward included."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, ...]] = []

    def __torch_dispatch__(self, func: Any, types: Any, args: Any = (), kwargs: Any = None) -> Any:
        out = func(*args, **(kwargs or {}))
        for tensor in out if isinstance(out, (tuple, list)) else (out,):
            if isinstance(tensor, torch.Tensor):
                self.shapes.append(tuple(tensor.shape))
        return out


def _widest_at(decoder: torch.nn.Module, features: list[torch.Tensor], side: int) -> int:
    """The most channels of any 4-d tensor at ``side`` x ``side`` built in a training step."""
    recorder = _OutputShapes()
    with recorder:
        decoder(features).square().mean().backward()
    return max((s[1] for s in recorder.shapes if len(s) == 4 and s[-2:] == (side, side)), default=0)


@pytest.mark.parametrize(
    ("arch", "width_param", "levels"),
    [("upernet", "decoder_channels", 4), ("segformer", "decoder_segmentation_channels", 5)],
)
def test_fusion_never_builds_the_concatenation(arch: str, width_param: str, levels: int) -> None:
    """Our fusion sums per-level shares instead of convolving a concatenation of all levels at
    reduction 4 (smp's formulation); Segformer also never projects the stride-2 feature at
    stride 2."""
    torch.manual_seed(0)
    width, size = 32, 64
    reference = getattr(smp, SMP_CLASSES[arch])("resnet34", encoder_weights=None, **{width_param: width}).train()
    smp_features = [f.detach() for f in reference.encoder(torch.randn(2, 3, size, size))]
    features = smp_features[1:]
    ours = build(
        arch,
        tuple(reference.encoder.out_channels[1:]),
        tuple(size // f.shape[-1] for f in features),
        **{width_param: width},
    ).train()
    assert _widest_at(reference.decoder, smp_features, size // 4) == levels * width
    assert _widest_at(ours, features, size // 4) == max(width, features[1].shape[1])
    if arch == "segformer":  # smp projects the stride-2 feature at stride 2, ours builds nothing there
        assert _widest_at(reference.decoder, smp_features, size // 2) == width
        assert _widest_at(ours, features, size // 2) == 0


# --------------------------------------------------------------------------- refusals and validation


@pytest.mark.parametrize(
    ("arch", "reductions", "needle"),
    [
        ("deeplabv3plus", (2, 8, 16, 32), "reduction 4"),
        ("deeplabv3plus", (2, 4), "reduction 8"),
        ("pan", (2, 4), "at least two"),
        ("upernet", (2, 4), "at least two"),
        ("segformer", (2, 4), "reduction 8"),
    ],
)
def test_refuses_unusable_features(arch: str, reductions: tuple[int, ...], needle: str) -> None:
    channels = tuple(16 for _ in reductions)
    with pytest.raises(ValueError, match=needle) as info:
        build(arch, channels, reductions)
    assert ", ".join(map(str, reductions)) in str(info.value)


def test_refuses_mismatched_encoder_description() -> None:
    with pytest.raises(ValueError, match="one entry per feature"):
        build("deeplabv3", (8, 16), (2,))


def test_pan_too_small_input_is_a_clear_error() -> None:
    decoder = build("pan", (8, 8, 8), (4, 8, 16), decoder_channels=4).eval()
    features = [torch.randn(1, 8, 64 // r, 64 // r) for r in (4, 8, 16)]
    with pytest.raises(InputShapeError, match="at least 8x8"):
        decoder(features)


@pytest.mark.parametrize(
    ("params_cls", "values", "field"),
    [
        (DeepLabV3Params, {"decoder_atrous_rates": (6, 12)}, "decoder_atrous_rates"),
        (DeepLabV3Params, {"decoder_atrous_rates": (6, 12, 0)}, "decoder_atrous_rates"),
        (DeepLabV3Params, {"decoder_aspp_dropout": 1.5}, "decoder_aspp_dropout"),
        (DeepLabV3Params, {"decoder_channels": 0}, "decoder_channels"),
        (DeepLabV3PlusParams, {"decoder_aspp_separable": "maybe"}, "decoder_aspp_separable"),
        (DeepLabV3PlusParams, {"encoder_output_stride": 16}, "encoder_output_stride"),
        (PANParams, {"decoder_interpolation": "linear"}, "decoder_interpolation"),
        (PANParams, {"upsampling": 4}, "upsampling"),
        (UPerNetParams, {"decoder_use_norm": "groupnorm"}, "decoder_use_norm"),
        (UPerNetParams, {"decoder_use_norm": {"eps": 1e-3}}, "decoder_use_norm"),
        (SegformerParams, {"decoder_segmentation_channels": -1}, "decoder_segmentation_channels"),
        (SegformerParams, {"decoder_channels": 64}, "decoder_channels"),
    ],
)
def test_params_validation(params_cls: type, values: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        params_cls(**values)
    assert any(error["loc"][0] == field for error in info.value.errors())


def test_params_accept_smp_style_values() -> None:
    assert DeepLabV3Params(decoder_atrous_rates=[6, 12, 18]).decoder_atrous_rates == (6, 12, 18)
    assert UPerNetParams(decoder_use_norm="BatchNorm").decoder_use_norm == "batchnorm"
    assert UPerNetParams(decoder_use_norm=True).decoder_use_norm is True
    assert DeepLabV3PlusParams().decoder_aspp_separable is True
    assert DeepLabV3Params().decoder_aspp_separable is False


def test_the_registered_path_validates_params() -> None:
    """Factories trust their arguments: the registry entry validates them first, located."""
    entry = seghub.get_hub().decoder("upernet")
    with pytest.raises(SpecError, match=r"decoder\.params\.decoder_channels"):
        entry.validate_params({"decoder_channels": 0})
    with pytest.raises(SpecError, match=r"decoder\.params\.decoder_channels"):
        seghub.build_model({"encoder": {"name": "resnet18"}, "decoder": {"name": "upernet", "params": {"decoder_channels": 0}}})


def test_registered_in_plugin() -> None:
    from seghub import Registry

    from seghub_decoders import plugin

    registry = Registry()
    plugin.seghub_register_decoders(registry)
    entries = {entry.name: entry for entry in registry.decoders}
    for arch, (decoder_cls, params_cls) in DECODERS.items():
        assert entries[arch].load_factory() is decoder_cls
        assert entries[arch].load_params_model() is params_cls
    assert entries["deeplabv3"].encoder_defaults == {"output_stride": 8}
    assert entries["deeplabv3plus"].encoder_defaults == {"output_stride": 16}
    assert entries["pan"].encoder_defaults == {"output_stride": 16}
    assert entries["pan"].head_defaults == {"kernel_size": 3}
    for arch in ("deeplabv3", "deeplabv3plus", "upernet", "segformer"):
        assert entries[arch].head_defaults == {"kernel_size": 1}
