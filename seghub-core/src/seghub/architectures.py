"""smp-style constructors: ``seghub.Unet("resnet34", classes=4, aux_params=...)`` and friends.

Each takes segmentation_models_pytorch 0.6's arguments with its defaults, turns them into a
spec and calls :func:`seghub.build_model`, so the returned model carries ``model.spec``. The
decoders are resolved through the plugin hub like any other: these functions know names and
arguments, not networks. Extra keyword arguments go to the encoder's ``params`` (timm
options such as ``drop_path_rate``), with None values dropped, as smp does.

Differences from smp, all deliberate:

* ``upsampling=None`` (the default here) upsamples by the decoder's output reduction, so masks
  always come out at input size; smp's fixed 4 or 8 equal that at the default depth only.
* A U-Net-family model whose ``decoder_channels`` is left at its default takes as many of them
  as ``encoder_depth`` needs (smp refuses ``encoder_depth=4`` with the default).
* smp's deprecated spellings (``decoder_use_batchnorm``, ``psp_use_batchnorm``,
  ``upscale_mode``) are accepted with a ``DeprecationWarning``.
* Every argument is validated, with errors that name the spec field.
"""

from __future__ import annotations

import difflib
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from ._model import SegmentationModel

__all__ = [
    "Unet",
    "UnetPlusPlus",
    "MAnet",
    "Linknet",
    "FPN",
    "PSPNet",
    "PAN",
    "DeepLabV3",
    "DeepLabV3Plus",
    "UPerNet",
    "Segformer",
    "DPT",
    "create_model",
    "ARCHITECTURES",
]

ActivationArg = str | Callable[..., Any] | None
NormArg = bool | str | dict[str, Any]
_AUX_KEYS = {"classes", "pooling", "dropout", "activation"}


def _classification_head(aux_params: Mapping[str, Any]) -> dict[str, Any]:
    unknown = set(aux_params) - _AUX_KEYS
    if unknown:
        raise ValueError(f"aux_params: unknown keys {sorted(unknown)}; allowed: {sorted(_AUX_KEYS)}")
    head = {"pooling": "avg", "dropout": 0.2, "activation": None, **aux_params}  # smp's defaults
    return head


def _assemble(
    decoder: str,
    *,
    encoder_name: str,
    encoder_depth: int,
    encoder_weights: str | bool | None,
    in_channels: int,
    classes: int,
    activation: ActivationArg,
    aux_params: Mapping[str, Any] | None,
    decoder_params: dict[str, Any],
    encoder_params: dict[str, Any],
    upsampling: int | None = None,
    encoder_output_stride: int | None = None,
) -> SegmentationModel:
    from ._builder import build_model

    _renamed(encoder_params, decoder_params)
    encoder: dict[str, Any] = {
        "name": encoder_name,
        "weights": "imagenet" if encoder_weights is True else (encoder_weights or None),
        "in_channels": in_channels,
        "depth": encoder_depth,
        "params": {k: v for k, v in encoder_params.items() if v is not None},
    }
    if encoder_output_stride is not None:
        encoder["output_stride"] = encoder_output_stride
    spec: dict[str, Any] = {
        "encoder": encoder,
        "decoder": {"name": decoder, "params": decoder_params},
        "segmentation_head": {"classes": classes, "activation": activation, "upsampling": upsampling},
    }
    if aux_params is not None:
        spec["classification_head"] = _classification_head(aux_params)
    return build_model(spec)


def _check_output_stride(arch: str, value: int, allowed: tuple[int, ...]) -> int:
    if value not in allowed:
        raise ValueError(f"{arch} supports encoder_output_stride {' or '.join(map(str, allowed))}, got {value}")
    return value


def _given(**params: Any) -> dict[str, Any]:
    """The params that were given; None leaves a field to the decoder's own default."""
    return {k: list(v) if isinstance(v, tuple) else v for k, v in params.items() if v is not None}


_DEPRECATED = {"decoder_use_batchnorm": "decoder_use_norm", "psp_use_batchnorm": "decoder_use_norm", "upscale_mode": "decoder_interpolation"}


def _renamed(kwargs: dict[str, Any], decoder_params: dict[str, Any]) -> None:
    """Move smp's deprecated argument spellings from ``kwargs`` into ``decoder_params``."""
    for old, new in _DEPRECATED.items():
        if old in kwargs:
            warnings.warn(f"{old} is deprecated (as in smp); use {new}", DeprecationWarning, stacklevel=4)
            decoder_params[new] = kwargs.pop(old)


def Unet(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_use_norm: NormArg = "batchnorm",
    decoder_channels: Sequence[int] | None = None,
    decoder_attention_type: str | None = None,
    decoder_interpolation: str = "nearest",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """U-Net: an encoder-decoder with skip connections concatenated at every scale.

    ``decoder_channels`` defaults to (256, 128, 64, 32, 16), cut to ``encoder_depth`` entries.
    """
    return _assemble(
        "unet", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        decoder_params={
            "decoder_use_norm": decoder_use_norm,
            **_given(decoder_channels=decoder_channels),
            "decoder_attention_type": decoder_attention_type,
            "decoder_interpolation": decoder_interpolation,
        },
    )


def UnetPlusPlus(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_use_norm: NormArg = "batchnorm",
    decoder_channels: Sequence[int] | None = None,
    decoder_attention_type: str | None = None,
    decoder_interpolation: str = "nearest",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """U-Net++: U-Net with nested, densely connected skip pathways."""
    return _assemble(
        "unetplusplus", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        decoder_params={
            "decoder_use_norm": decoder_use_norm,
            **_given(decoder_channels=decoder_channels),
            "decoder_attention_type": decoder_attention_type,
            "decoder_interpolation": decoder_interpolation,
        },
    )


def MAnet(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_use_norm: NormArg = "batchnorm",
    decoder_channels: Sequence[int] | None = None,
    decoder_pab_channels: int = 64,
    decoder_interpolation: str = "nearest",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """MA-Net: U-Net-like decoder with position-wise and multi-scale fusion attention."""
    return _assemble(
        "manet", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        decoder_params={
            "decoder_use_norm": decoder_use_norm,
            **_given(decoder_channels=decoder_channels),
            "decoder_pab_channels": decoder_pab_channels,
            "decoder_interpolation": decoder_interpolation,
        },
    )


def Linknet(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_use_norm: NormArg = "batchnorm",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """LinkNet: a light decoder that adds (not concatenates) encoder skips."""
    return _assemble(
        "linknet", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        decoder_params={"decoder_use_norm": decoder_use_norm},
    )


def FPN(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_pyramid_channels: int = 256,
    decoder_segmentation_channels: int = 128,
    decoder_merge_policy: str = "add",
    decoder_dropout: float = 0.2,
    decoder_interpolation: str = "nearest",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """Feature Pyramid Network: top-down pyramid, per-level segmentation branches, merged."""
    return _assemble(
        "fpn", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        upsampling=upsampling,
        decoder_params={
            "decoder_pyramid_channels": decoder_pyramid_channels,
            "decoder_segmentation_channels": decoder_segmentation_channels,
            "decoder_merge_policy": decoder_merge_policy,
            "decoder_dropout": decoder_dropout,
            "decoder_interpolation": decoder_interpolation,
        },
    )


def PSPNet(
    encoder_name: str = "resnet34",
    *,
    encoder_weights: str | None = "imagenet",
    encoder_depth: int = 3,
    psp_out_channels: int = 512,
    decoder_use_norm: NormArg = "batchnorm",
    psp_dropout: float = 0.2,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """PSPNet: pyramid pooling over the last feature of a shallow (depth 3) encoder."""
    return _assemble(
        "pspnet", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        upsampling=upsampling,
        decoder_params={"psp_out_channels": psp_out_channels, "decoder_use_norm": decoder_use_norm, "psp_dropout": psp_dropout},
    )


def PAN(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: Literal[3, 4, 5] = 5,
    encoder_weights: str | None = "imagenet",
    encoder_output_stride: Literal[16, 32] = 16,
    decoder_channels: int = 32,
    decoder_interpolation: str = "bilinear",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """Pyramid Attention Network: feature pyramid attention plus global attention upsampling."""
    return _assemble(
        "pan", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        upsampling=upsampling, encoder_output_stride=_check_output_stride("PAN", encoder_output_stride, (16, 32)),
        decoder_params={"decoder_channels": decoder_channels, "decoder_interpolation": decoder_interpolation},
    )


def DeepLabV3(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    encoder_output_stride: Literal[8, 16] = 8,
    decoder_channels: int = 256,
    decoder_atrous_rates: Iterable[int] = (12, 24, 36),
    decoder_aspp_separable: bool = False,
    decoder_aspp_dropout: float = 0.5,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """DeepLabV3: atrous spatial pyramid pooling on a dilated encoder (output stride 8 or 16)."""
    return _assemble(
        "deeplabv3", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        upsampling=upsampling, encoder_output_stride=_check_output_stride("DeepLabV3", encoder_output_stride, (8, 16)),
        decoder_params={
            "decoder_channels": decoder_channels,
            "decoder_atrous_rates": list(decoder_atrous_rates),
            "decoder_aspp_separable": decoder_aspp_separable,
            "decoder_aspp_dropout": decoder_aspp_dropout,
        },
    )


def DeepLabV3Plus(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: Literal[3, 4, 5] = 5,
    encoder_weights: str | None = "imagenet",
    encoder_output_stride: Literal[8, 16] = 16,
    decoder_channels: int = 256,
    decoder_atrous_rates: Iterable[int] = (12, 24, 36),
    decoder_aspp_separable: bool = True,
    decoder_aspp_dropout: float = 0.5,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """DeepLabV3+: DeepLabV3's ASPP plus a decoder that fuses a high-resolution skip."""
    return _assemble(
        "deeplabv3plus", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        upsampling=upsampling, encoder_output_stride=_check_output_stride("DeepLabV3Plus", encoder_output_stride, (8, 16)),
        decoder_params={
            "decoder_channels": decoder_channels,
            "decoder_atrous_rates": list(decoder_atrous_rates),
            "decoder_aspp_separable": decoder_aspp_separable,
            "decoder_aspp_dropout": decoder_aspp_dropout,
        },
    )


def UPerNet(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_channels: int = 256,
    decoder_use_norm: NormArg = "batchnorm",
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """UPerNet: pyramid pooling on the last feature plus an FPN, fused at reduction 4."""
    return _assemble(
        "upernet", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        upsampling=upsampling,
        decoder_params={"decoder_channels": decoder_channels, "decoder_use_norm": decoder_use_norm},
    )


def Segformer(
    encoder_name: str = "resnet34",
    *,
    encoder_depth: int = 5,
    encoder_weights: str | None = "imagenet",
    decoder_segmentation_channels: int = 256,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    upsampling: int | None = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """SegFormer's all-MLP decoder: project every scale, upsample to reduction 4, fuse."""
    return _assemble(
        "segformer", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params, encoder_params=kwargs,
        upsampling=upsampling,
        decoder_params={"decoder_segmentation_channels": decoder_segmentation_channels},
    )


def DPT(
    encoder_name: str = "tu-vit_base_patch16_224.augreg_in21k",
    *,
    encoder_depth: int = 4,
    encoder_weights: str | None = "imagenet",
    encoder_output_indices: Sequence[int] | None = None,
    decoder_readout: Literal["ignore", "add", "cat"] = "cat",
    decoder_intermediate_channels: Sequence[int] = (256, 512, 1024, 1024),
    decoder_fusion_channels: int = 256,
    in_channels: int = 3,
    classes: int = 1,
    activation: ActivationArg = None,
    aux_params: Mapping[str, Any] | None = None,
    **kwargs: Any,
) -> SegmentationModel:
    """DPT: reassembles a plain ViT's intermediate tokens into a pyramid and fuses it."""
    encoder_params = dict(kwargs)
    if encoder_output_indices is not None:
        encoder_params["output_indices"] = list(encoder_output_indices)
    return _assemble(
        "dpt", encoder_name=encoder_name, encoder_depth=encoder_depth, encoder_weights=encoder_weights,
        in_channels=in_channels, classes=classes, activation=activation, aux_params=aux_params,
        encoder_params=encoder_params,
        decoder_params={
            "decoder_readout": decoder_readout,
            "decoder_intermediate_channels": list(decoder_intermediate_channels),
            "decoder_fusion_channels": decoder_fusion_channels,
        },
    )


ARCHITECTURES: dict[str, Callable[..., SegmentationModel]] = {
    fn.__name__.lower(): fn
    for fn in (Unet, UnetPlusPlus, MAnet, Linknet, FPN, PSPNet, PAN, DeepLabV3, DeepLabV3Plus, UPerNet, Segformer, DPT)
}
"""smp's architecture names (lower-case) -> constructor."""


def create_model(
    arch: str,
    encoder_name: str = "resnet34",
    encoder_weights: str | None = "imagenet",
    in_channels: int = 3,
    classes: int = 1,
    **kwargs: Any,
) -> SegmentationModel:
    """Build an architecture by name (case-insensitive), as ``smp.create_model`` does."""
    constructor = ARCHITECTURES.get(arch.lower())
    if constructor is None:
        close = difflib.get_close_matches(arch.lower(), ARCHITECTURES, n=1)
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise ValueError(f"unknown architecture {arch!r}; available: {', '.join(ARCHITECTURES)}.{hint}")
    return constructor(encoder_name, encoder_weights=encoder_weights, in_channels=in_channels, classes=classes, **kwargs)
