"""Building blocks shared by seghub's decoders.

Public names here are stable: other decoder modules import them. Add new helpers freely;
do not rename or change the signature of existing ones.

* Normalisation with smp 0.6's ``decoder_use_norm`` semantics: :data:`NormOption`,
  :func:`norm_config`, :func:`make_norm`, :class:`LayerNorm2d`.
* :class:`ConvNormReLU` (smp's ``Conv2dReLU`` key layout: ``0`` conv, ``1`` norm, ``2`` act).
* Attention: :class:`SCSE` and the :class:`Attention` wrapper (``attention.cSE.1.weight``).
* pydantic field types for decoder params: :data:`NormOption`, :data:`InterpolationMode`,
  :data:`AttentionType`, :data:`ChannelList`, :data:`Dropout`, and :class:`DecoderParams`.
* Feature bookkeeping: :func:`check_features`, :func:`format_reductions`,
  :func:`is_power_of_two`, :class:`SkipLevels` (the U-Net family's level walk).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any, Literal

import torch
import torch.nn.functional as F
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, PositiveInt, WithJsonSchema
from torch import nn

__all__ = [
    "NORM_TYPES",
    "NormOption",
    "InterpolationMode",
    "AttentionType",
    "ChannelList",
    "Dropout",
    "DecoderParams",
    "norm_config",
    "make_norm",
    "LayerNorm2d",
    "ConvNormReLU",
    "SCSE",
    "Attention",
    "check_features",
    "format_reductions",
    "is_power_of_two",
    "resize_to",
    "SkipLevels",
    "AdaptiveAvgPool2d",
]

# --------------------------------------------------------------------------- normalisation

NORM_TYPES: tuple[str, ...] = ("batchnorm", "identity", "layernorm", "instancenorm", "inplace")
"""Normalisation names ``decoder_use_norm`` accepts (as a string or a dict's ``"type"``)."""

_INPLACE_DEFAULTS: dict[str, Any] = {"activation": "leaky_relu", "activation_param": 0.0}


def norm_config(use_norm: bool | str | dict[str, Any]) -> dict[str, Any]:
    """Turn a ``decoder_use_norm`` value into ``{"type": name, **layer_kwargs}``.

    ``True`` is batchnorm, ``False`` identity, a string names a type (case-insensitive),
    a dict gives ``type`` plus keyword arguments for the layer. Raises ``ValueError``.
    """
    if use_norm is True:
        return {"type": "batchnorm"}
    if use_norm is False:
        return {"type": "identity"}
    if isinstance(use_norm, str):
        name = use_norm.lower()
        if name not in NORM_TYPES:
            raise ValueError(f"unknown normalisation {use_norm!r}; expected a bool, one of {NORM_TYPES}, or a dict with 'type'")
        return {"type": name, **(_INPLACE_DEFAULTS if name == "inplace" else {})}
    if isinstance(use_norm, dict):
        if "type" not in use_norm:
            raise ValueError(f"a normalisation dict needs a 'type' key (one of {NORM_TYPES}), got {use_norm!r}")
        name = use_norm["type"]
        if not isinstance(name, str) or name.lower() not in NORM_TYPES:
            raise ValueError(f"unknown normalisation type {name!r}; expected one of {NORM_TYPES}")
        return {**use_norm, "type": name.lower()}
    raise ValueError(
        f"normalisation must be a bool, one of {NORM_TYPES}, or a dict like {{'type': 'batchnorm', 'eps': 1e-3}}; "
        f"got {use_norm!r}"
    )


def _check_norm_option(value: bool | str | dict[str, Any]) -> bool | str | dict[str, Any]:
    config = norm_config(value)
    if isinstance(value, bool):
        return value
    return config["type"] if isinstance(value, str) else config


_NORM_DESCRIPTION = (
    "Normalisation between convolution and ReLU: true (batchnorm), false (none), one of "
    "'batchnorm', 'identity', 'layernorm', 'instancenorm', 'inplace', or a dict "
    "{'type': <name>, **layer kwargs}."
)

NormOption = Annotated[
    bool | str | dict[str, Any],
    PlainValidator(_check_norm_option),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "boolean"},
                {"type": "string", "enum": list(NORM_TYPES)},
                {
                    "type": "object",
                    "properties": {"type": {"type": "string", "enum": list(NORM_TYPES)}},
                    "required": ["type"],
                    "additionalProperties": True,
                },
            ],
            "description": _NORM_DESCRIPTION,
        }
    ),
]
"""pydantic type of a ``decoder_use_norm`` field (strings are stored lower-case)."""


class LayerNorm2d(nn.LayerNorm):
    """LayerNorm over the channel dimension of an NCHW tensor.

    Same parameters (``weight``, ``bias`` of shape ``(C,)``) as ``nn.LayerNorm(C)``, so smp state
    dicts load; unlike smp 0.6 (which applies ``nn.LayerNorm`` to the last, spatial, axis and
    fails unless ``W == C``) it normalises each pixel's channel vector.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


def _inplace_abn() -> type[nn.Module]:
    try:
        from inplace_abn import InPlaceABN  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ImportError(
            "decoder_use_norm='inplace' needs the inplace_abn package "
            "(pip install inplace_abn --no-build-isolation); or pick 'batchnorm'"
        ) from exc
    return InPlaceABN


def make_norm(use_norm: bool | str | dict[str, Any], channels: int) -> nn.Module:
    """The normalisation layer for ``channels`` channels that ``use_norm`` describes."""
    config = norm_config(use_norm)
    kind = config.pop("type")
    layers: dict[str, Any] = {
        "batchnorm": nn.BatchNorm2d,
        "identity": None,
        "layernorm": LayerNorm2d,
        "instancenorm": nn.InstanceNorm2d,
    }
    if kind == "identity":
        return nn.Identity()
    layer = _inplace_abn() if kind == "inplace" else layers[kind]
    try:
        return layer(channels, **config)
    except TypeError as exc:
        raise ValueError(f"normalisation {kind!r}: invalid options {config!r}: {exc}") from exc


def _is_inplace_abn(module: nn.Module) -> bool:
    return type(module).__name__ == "InPlaceABN"


class ConvNormReLU(nn.Sequential):
    """Conv2d -> norm -> ReLU (smp's ``Conv2dReLU``: children ``0``, ``1``, ``2``).

    The convolution has a bias only without normalisation; with InPlaceABN, whose activation is
    built in, the ReLU is an identity.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        padding: int = 0,
        stride: int = 1,
        use_norm: bool | str | dict[str, Any] = "batchnorm",
    ) -> None:
        norm = make_norm(use_norm, out_channels)
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride=stride, padding=padding,
            bias=isinstance(norm, nn.Identity),
        )
        act: nn.Module = nn.Identity() if _is_inplace_abn(norm) else nn.ReLU(inplace=True)
        super().__init__(conv, norm, act)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """The norm and activation alone, for callers that compute the convolution themselves."""
        _, norm, activation = self
        return activation(norm(x))


class ByteMaskDropout(nn.Dropout):
    """``nn.Dropout`` that keeps a one-byte mask for the backward pass instead of a float one.

    On the CPU, ``nn.Dropout`` keeps a float mask as large as its input until the backward pass;
    this keeps a boolean mask, a quarter of that, with the same distribution (each element kept
    with probability ``1 - p``, survivors scaled by ``1 / (1 - p)``). Worth it on large
    full-resolution maps, such as in DPT's head.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0:
            return x
        if self.p == 1:
            return torch.zeros_like(x)
        keep = torch.rand_like(x) >= self.p
        return torch.where(keep, x, 0.0).mul_(1 / (1 - self.p))


# --------------------------------------------------------------------------- attention

class SCSE(nn.Module):
    """Concurrent spatial and channel squeeze-and-excitation (Roy et al., 2018)."""

    def __init__(self, in_channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = in_channels // reduction
        if hidden < 1:
            raise ValueError(
                f"scse attention needs at least {reduction} channels, got {in_channels}; "
                "use wider decoder_channels or decoder_attention_type=None"
            )
        self.cSE = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, in_channels, 1),
            nn.Sigmoid(),
        )
        self.sSE = nn.Sequential(nn.Conv2d(in_channels, 1, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.cSE(x) + x * self.sSE(x)


class Attention(nn.Module):
    """Optional attention: ``None`` is an identity, ``"scse"`` is :class:`SCSE`.

    The wrapper keeps smp's key layout (``<name>.attention.cSE.1.weight``).
    """

    def __init__(self, name: str | None, in_channels: int) -> None:
        super().__init__()
        if name is None:
            self.attention: nn.Module = nn.Identity()
        elif name == "scse":
            self.attention = SCSE(in_channels)
        else:
            raise ValueError(f"unknown attention type {name!r}; expected None or 'scse'")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(x)


# --------------------------------------------------------------------------- params types

InterpolationMode = Annotated[
    Literal["nearest", "bilinear", "bicubic", "area", "nearest-exact"],
    Field(description="torch.nn.functional.interpolate mode used to upsample in the decoder."),
]
AttentionType = Annotated[
    Literal["scse"] | None,
    Field(description="Attention in the decoder blocks: null (none) or 'scse'."),
]
Dropout = Annotated[float, Field(ge=0.0, lt=1.0, description="Dropout probability, in [0, 1).")]


def _check_channel_list(value: tuple[int, ...]) -> tuple[int, ...]:
    if not value:
        raise ValueError("needs at least one entry (one channel count per decoder block)")
    return value


ChannelList = Annotated[
    tuple[PositiveInt, ...],
    AfterValidator(_check_channel_list),
    Field(description="Output channels of each decoder block, deepest block first; one per block."),
]


class DecoderParams(BaseModel):
    """Base of the decoders' params models: unknown keys are errors, values are checked on assignment."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


# --------------------------------------------------------------------------- features

def format_reductions(reductions: Sequence[int]) -> str:
    return "(" + ", ".join(str(r) for r in reductions) + ")"


def is_power_of_two(value: int) -> bool:
    return value >= 1 and value & (value - 1) == 0


def check_features(
    name: str, encoder_channels: Sequence[int], encoder_reductions: Sequence[int]
) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Validate the encoder description a decoder receives; return both as int tuples."""
    channels = tuple(int(c) for c in encoder_channels)
    reductions = tuple(int(r) for r in encoder_reductions)
    if not channels:
        raise ValueError(f"{name} needs at least one encoder feature; encoder_channels is empty")
    if len(channels) != len(reductions):
        raise ValueError(
            f"{name}: encoder_channels {channels} and encoder_reductions {reductions} must have one entry per feature"
        )
    if any(c < 0 for c in channels) or any(r < 1 for r in reductions):
        raise ValueError(f"{name}: invalid encoder_channels {channels} / encoder_reductions {reductions}")
    if any(b < a for a, b in zip(reductions, reductions[1:])):
        raise ValueError(f"{name}: encoder_reductions {reductions} must be non-decreasing (fine to coarse)")
    return channels, reductions


def resize_to(x: torch.Tensor, size: Sequence[int], mode: str) -> torch.Tensor:
    """Interpolate ``x`` to ``size`` (a no-op when it already has that size)."""
    if tuple(x.shape[-2:]) == tuple(size):
        return x
    return F.interpolate(x, size=tuple(size), mode=mode)


def resize_bilinear(x: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Bilinear resize of ``x`` to ``size`` (``align_corners=False``)."""
    return F.interpolate(x, size=tuple(size), mode="bilinear", align_corners=False)


class SkipLevels:
    """The resolutions a U-Net-style decoder walks from the coarsest feature up to the input.

    Levels are the encoder's feature maps (fine to coarse), preceded by 0-channel placeholders
    for the power-of-two reductions finer than the first feature but above 1 (smp's
    "transformer-style" dummy feature for encoders that start at reduction 4), and followed,
    going up, by the input resolution (reduction 1, no skip). Decoder block ``i`` (deepest first)
    produces the resolution of ``targets[i]`` and merges ``skip_channels[i]`` channels there.

    >>> levels = SkipLevels("unet", (96, 192, 384, 768), (4, 8, 16, 32))
    >>> levels.head_channels, levels.skip_channels, levels.target_reductions
    (768, (384, 192, 96, 0, 0), (16, 8, 4, 2, 1))
    """

    def __init__(
        self, name: str, encoder_channels: Sequence[int], encoder_reductions: Sequence[int],
        *, strict_doubling: bool = False,
    ) -> None:
        channels, reductions = check_features(name, encoder_channels, encoder_reductions)
        if not all(is_power_of_two(r) for r in reductions):
            raise ValueError(
                f"{name} needs encoder reductions that are powers of two; "
                f"the encoder's reductions are {format_reductions(reductions)}"
            )
        if strict_doubling:
            for a, b in zip(reductions, reductions[1:]):
                if b != 2 * a:
                    raise ValueError(
                        f"{name} upsamples by exactly 2 per block, so it needs each feature at twice the "
                        f"reduction of the one before; the encoder's reductions are {format_reductions(reductions)} "
                        f"(a dilated encoder with output_stride < 32 cannot be used)"
                    )
        self.name = name
        self.encoder_reductions = reductions
        # Placeholder levels between reduction 1 (exclusive) and the first feature.
        pads: list[int] = []
        r = reductions[0] // 2
        while r >= 2:
            pads.insert(0, r)
            r //= 2
        self.num_placeholders = len(pads)
        level_channels = (0,) * len(pads) + channels
        level_reductions = tuple(pads) + reductions
        self.head_channels: int = level_channels[-1]
        self.head_reduction: int = level_reductions[-1]
        # Going up: every level below the head, then the input resolution unless a feature is there.
        skips = list(level_channels[:-1][::-1])
        targets = list(level_reductions[:-1][::-1])
        if level_reductions[0] > 1:
            skips.append(0)
            targets.append(1)
        self.skip_channels: tuple[int, ...] = tuple(skips)
        self.target_reductions: tuple[int, ...] = tuple(targets)
        self.has_skip: tuple[bool, ...] = tuple(
            i < len(level_channels) - 1 for i in range(len(targets))
        )
        """Whether block ``i`` receives a skip tensor (possibly a 0-channel placeholder)."""
        self.output_reduction: int = targets[-1] if targets else level_reductions[-1]

    @property
    def num_blocks(self) -> int:
        return len(self.target_reductions)

    def check_channels(self, decoder_channels: Sequence[int], field: str = "decoder_channels") -> tuple[int, ...]:
        """``decoder_channels`` must give one width per block; raise a ``ValueError`` that says why."""
        values = tuple(decoder_channels)
        if len(values) != self.num_blocks:
            raise ValueError(
                f"{self.name}: {field} has {len(values)} entries {values} but this encoder needs "
                f"{self.num_blocks} decoder blocks (encoder reductions "
                f"{format_reductions(self.encoder_reductions)} -> block outputs at reductions "
                f"{format_reductions(self.target_reductions)}); give {self.num_blocks} values, deepest first"
            )
        return values

    def split(self, features: Sequence[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor | None], list[tuple[int, int]]]:
        """Return ``(head, skips, sizes)`` for the blocks, deepest first.

        ``skips[i]`` is the skip tensor of block ``i`` (a 0-channel placeholder at missing levels,
        ``None`` at the input resolution); ``sizes[i]`` its output height and width.
        """
        first = features[0]
        r0 = self.encoder_reductions[0]
        batch, _, h0, w0 = first.shape
        pads = [
            first.new_empty(batch, 0, h0 * (r0 // r), w0 * (r0 // r))
            for r in self._placeholder_reductions()
        ]
        levels = pads + list(features)
        head = levels[-1]
        skips: list[torch.Tensor | None] = list(levels[:-1][::-1])
        sizes = [tuple(t.shape[-2:]) for t in skips]  # type: ignore[union-attr]
        if len(skips) < self.num_blocks:
            skips.append(None)
            sizes.append((h0 * r0, w0 * r0))
        return head, skips, sizes  # type: ignore[return-value]

    def _placeholder_reductions(self) -> list[int]:
        r0 = self.encoder_reductions[0]
        return [r0 >> k for k in range(self.num_placeholders, 0, -1)]


# --------------------------------------------------------------------------- pooling

def _window_means(length: int, bins: int, like: torch.Tensor) -> torch.Tensor:
    """``(bins, length)`` weights averaging the windows of adaptive pooling along one axis:
    bin ``i`` covers ``[floor(i * length / bins), ceil((i + 1) * length / bins))``."""
    positions = torch.arange(length, device=like.device)
    index = torch.arange(bins, device=like.device)
    start = index * length // bins
    end = ((index + 1) * length + bins - 1) // bins
    inside = (positions[None, :] >= start[:, None]) & (positions[None, :] < end[:, None])
    return inside.to(like.dtype) / (end - start).to(like.dtype)[:, None]


class AdaptiveAvgPool2d(nn.AdaptiveAvgPool2d):
    """``nn.AdaptiveAvgPool2d`` that stays correct in exported graphs with dynamic sizes.

    The ONNX exporter decomposes adaptive pooling with the example input's window bounds baked
    in, so other input sizes silently get wrong values. While exporting or tracing, this module
    pools by two matrix products whose window weights are computed from the input's size
    instead; otherwise it is ``nn.AdaptiveAvgPool2d``.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (torch.compiler.is_exporting() or torch.jit.is_tracing()):
            return super().forward(x)
        size = self.output_size if isinstance(self.output_size, tuple) else (self.output_size,) * 2
        height, width = x.shape[-2:]
        out_h = height if size[0] is None else size[0]
        out_w = width if size[1] is None else size[1]
        rows = _window_means(height, out_h, x)
        cols = _window_means(width, out_w, x)
        return rows @ x @ cols.transpose(0, 1)


# --------------------------------------------------------------------------- initialisation

def init_like_smp(module: nn.Module) -> None:
    """Initialise a decoder as smp's ``initialize_decoder`` does.

    Convolutions: Kaiming-uniform (fan-in, ReLU gain), zero bias; norm layers: weight 1, bias 0;
    linear layers: Xavier-uniform, zero bias.
    """
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_uniform_(m.weight, mode="fan_in", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm2d, nn.LayerNorm, nn.GroupNorm, nn.InstanceNorm2d)):
            if m.weight is not None:
                nn.init.ones_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
