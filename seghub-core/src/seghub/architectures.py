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
    return {"pooling": "avg", "dropout": 0.2, "activation": None, **aux_params}  # smp's defaults


_ENCODER_ARGS = {
    "encoder_name": "name",
    "encoder_weights": "weights",
    "in_channels": "in_channels",
    "encoder_depth": "depth",
    "encoder_output_stride": "output_stride",
}
_HEAD_ARGS = ("classes", "activation", "upsampling")
_DEPRECATED = {"decoder_use_batchnorm": "decoder_use_norm", "psp_use_batchnorm": "decoder_use_norm", "upscale_mode": "decoder_interpolation"}


def _build(decoder: str, args: dict[str, Any], output_strides: tuple[int, ...] = ()) -> SegmentationModel:
    """Turn a constructor's arguments (its ``locals()``) into a spec and build it.

    ``encoder_*`` arguments, ``in_channels`` and the head arguments go to their spec sections;
    the extra keyword arguments to ``encoder.params``; every other argument is a decoder
    param, where None leaves the field to the decoder's own default.
    """
    from ._builder import build_model

    args = dict(args)
    encoder_params = {k: v for k, v in args.pop("kwargs").items() if v is not None}
    decoder_params: dict[str, Any] = {}
    for old, new in _DEPRECATED.items():
        if old in encoder_params:
            warnings.warn(f"{old} is deprecated (as in smp); use {new}", DeprecationWarning, stacklevel=3)
            decoder_params[new] = encoder_params.pop(old)
    output_indices = args.pop("encoder_output_indices", None)
    if output_indices is not None:
        encoder_params["output_indices"] = list(output_indices)
    encoder = {field: args.pop(arg) for arg, field in _ENCODER_ARGS.items() if arg in args}
    encoder["weights"] = "imagenet" if encoder["weights"] is True else (encoder["weights"] or None)
    encoder["params"] = encoder_params
    if output_strides and encoder["output_stride"] not in output_strides:
        allowed = " or ".join(map(str, output_strides))
        raise ValueError(f"{decoder} supports encoder_output_stride {allowed}, got {encoder['output_stride']}")
    spec: dict[str, Any] = {"encoder": encoder, "segmentation_head": {k: args.pop(k, None) for k in _HEAD_ARGS}}
    aux_params = args.pop("aux_params")
    if aux_params is not None:
        spec["classification_head"] = _classification_head(aux_params)
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in args.items() if v is not None}
    spec["decoder"] = {"name": decoder, "params": {**params, **decoder_params}}
    return build_model(spec)


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
    return _build("unet", locals())


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
    return _build("unetplusplus", locals())


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
    return _build("manet", locals())


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
    return _build("linknet", locals())


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
    return _build("fpn", locals())


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
    return _build("pspnet", locals())


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
    return _build("pan", locals(), output_strides=(16, 32))


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
    return _build("deeplabv3", locals(), output_strides=(8, 16))


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
    return _build("deeplabv3plus", locals(), output_strides=(8, 16))


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
    return _build("upernet", locals())


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
    return _build("segformer", locals())


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
    return _build("dpt", locals())


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
