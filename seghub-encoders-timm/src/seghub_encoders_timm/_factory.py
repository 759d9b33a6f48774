"""The ``timm:`` encoder factory: picks pyramid or plain-ViT extraction from timm's
``feature_info`` and checks depth, output_stride and output_indices against it."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from ._create import create, probe
from ._encoder import TimmPyramidEncoder, TimmViTEncoder
from ._names import PREFIX, model_part, validate_name
from ._weights import resolve_weights

__all__ = ["build_encoder"]

MAX_DEFAULT_DEPTH = 5


def build_encoder(
    *,
    name: str,
    in_channels: int = 3,
    depth: int = 5,
    output_stride: int = 32,
    weights: str | None = None,
    output_indices: Sequence[int] | None = None,
    **timm_kwargs: Any,
) -> nn.Module:
    """Build the encoder ``timm:<model>[.<tag>]`` (or ``tu-<model>``).

    ``timm_kwargs`` go to ``timm.create_model``. Raises ``ValueError`` for a depth,
    output_stride or output_indices the model cannot give, or a model timm cannot turn into
    an encoder, and :class:`~seghub.errors.WeightsError` for weights that cannot be had.
    """
    model = model_part(name)
    validate_name(model)
    if in_channels < 1:
        raise ValueError(f"encoder.in_channels must be a positive integer, got {in_channels}")
    canonical = PREFIX + model
    timm_name, weights_file = resolve_weights(model, weights)
    features = probe(canonical, timm_name, features_only=True, **timm_kwargs)
    info = features.feature_info
    reductions = [int(r) for r in info.reduction()]
    if len(set(reductions)) == 1:
        # timm wraps a plain ViT in a getter: ``features.model`` is the ViT itself
        dynamic = getattr(getattr(features, "model", None), "dynamic_img_size", None) is not None
        return _build_vit(
            canonical, timm_name, weights_file, info.info, in_channels, depth, output_stride,
            output_indices, dynamic, timm_kwargs,
        )
    if output_indices is not None:
        raise ValueError(
            f"encoder.params.output_indices applies to plain ViTs only; {canonical!r} is a feature "
            "pyramid, choose its features with encoder.depth"
        )
    return _build_pyramid(
        canonical, timm_name, weights_file, list(info.out_indices), reductions, in_channels, depth,
        output_stride, timm_kwargs,
    )


def _build_pyramid(
    canonical: str,
    timm_name: str,
    weights_file: Path | None,
    indices: list[int],
    reductions: list[int],
    in_channels: int,
    depth: int,
    output_stride: int,
    timm_kwargs: dict[str, Any],
) -> TimmPyramidEncoder:
    # a feature at reduction 1 (VGG-like models) is the input resolution: not an encoder feature
    levels = [(i, r) for i, r in zip(indices, reductions) if r >= 2]
    steps = [r for _, r in levels]
    if not steps or any(b <= a for a, b in zip(steps, steps[1:])):
        raise ValueError(
            f"timm model {timm_name!r} cannot be used as an encoder: its feature reductions "
            f"{tuple(reductions)} are neither a pyramid (strictly increasing) nor constant (a plain ViT)"
        )
    min_depth = math.ceil(math.log2(steps[0]))
    max_depth = max(MAX_DEFAULT_DEPTH, math.ceil(math.log2(steps[-1])))
    if not min_depth <= depth <= max_depth:
        raise ValueError(
            f"encoder.depth={depth} is not supported by {canonical!r}: allowed {min_depth}..{max_depth} "
            f"(its features come at reductions {tuple(steps)}; depth d keeps those <= 2**d)"
        )
    chosen = [(i, r) for i, r in levels if r <= 2**depth]
    kwargs: dict[str, Any] = dict(
        features_only=True, out_indices=tuple(i for i, _ in chosen), in_chans=in_channels, **timm_kwargs
    )
    if output_stride < chosen[-1][1]:
        kwargs["output_stride"] = output_stride
        _check_dilation(canonical, timm_name, output_stride, [r for _, r in chosen], kwargs)
    model = create(canonical, timm_name, weights_file, **kwargs)
    pruned = _prune_trailing_blocks(model)
    return TimmPyramidEncoder(
        model,
        name=canonical,
        in_channels=in_channels,
        out_channels=model.feature_info.channels(),
        reductions=model.feature_info.reduction(),
        input_size=_fixed_input_size(model, timm_kwargs),
        channels_last=getattr(model, "output_fmt", None) == "NHWC",
        pruned_keys=["model." + key for key in pruned],
    )


def _prune_trailing_blocks(model: nn.Module) -> set[str]:
    """Drop the stages after the last one a feature comes from; returns the state-dict keys gone.

    timm's own feature classes (EfficientNet's, MobileNetV3's) build and run every stage whatever
    ``out_indices`` asks for: at depth 3 the later stages would cost compute and get no
    gradient (which breaks DistributedDataParallel). Their forward loops over ``blocks``, so a
    shorter ``blocks`` gives the same features.
    """
    blocks = getattr(model, "blocks", None)
    if not isinstance(blocks, nn.Sequential):
        return set()
    used = [
        int(parts[1]) for parts in (name.split(".") for name in model.feature_info.module_name())
        if len(parts) >= 2 and parts[0] == "blocks" and parts[1].isdigit()
    ]
    if not used or max(used) + 1 >= len(blocks):
        return set()
    before = set(model.state_dict())
    model.blocks = blocks[: max(used) + 1]
    return before - set(model.state_dict())


def _check_dilation(
    canonical: str, timm_name: str, output_stride: int, reductions: list[int], kwargs: dict[str, Any]
) -> None:
    """Refuse an output_stride timm cannot reach, before building the real model."""
    no_dilation = f"use output_stride >= {reductions[-1]} (no dilation) or a model that supports it"
    if output_stride < 2 or output_stride & (output_stride - 1):
        raise ValueError(f"encoder.output_stride must be a power of two, got {output_stride}")
    try:
        dilated = probe(canonical, timm_name, **kwargs).feature_info.reduction()
    except ValueError as exc:
        raise ValueError(
            f"encoder.output_stride={output_stride} is not supported by {canonical!r}: timm cannot dilate "
            f"it ({exc.__cause__ or exc}); {no_dilation}"
        ) from exc
    expected = [min(r, output_stride) for r in reductions]
    if list(dilated) != expected:
        raise ValueError(
            f"encoder.output_stride={output_stride} is not supported by {canonical!r}: timm gives reductions "
            f"{tuple(dilated)}, not {tuple(expected)}; {no_dilation}"
        )


def _vit_indices(canonical: str, n_blocks: int, depth: int, output_indices: Sequence[int] | None) -> list[int]:
    if output_indices is None:
        if not 1 <= depth <= n_blocks:
            raise ValueError(
                f"encoder.depth={depth} is not supported by {canonical!r}: a plain ViT with {n_blocks} "
                f"blocks gives 1..{n_blocks} features"
            )
        # depth blocks spread evenly, ending at the last one
        return [n_blocks * k // depth - 1 for k in range(1, depth + 1)]
    if len(output_indices) != depth:
        raise ValueError(
            f"encoder.params.output_indices {list(output_indices)} has {len(output_indices)} entries but "
            f"encoder.depth is {depth}; give one block index per feature"
        )
    bad = [i for i in output_indices if not -n_blocks <= i < n_blocks]
    if bad:
        raise ValueError(
            f"encoder.params.output_indices {bad} out of range: {canonical!r} has {n_blocks} blocks "
            f"(indices {-n_blocks}..{n_blocks - 1})"
        )
    indices = [i % n_blocks for i in output_indices]
    if any(b <= a for a, b in zip(indices, indices[1:])):
        raise ValueError(f"encoder.params.output_indices must name distinct blocks in order, got {list(output_indices)}")
    return indices


def _build_vit(
    canonical: str,
    timm_name: str,
    weights_file: Path | None,
    blocks: list[dict[str, Any]],
    in_channels: int,
    depth: int,
    output_stride: int,
    output_indices: Sequence[int] | None,
    supports_dynamic_size: bool,
    timm_kwargs: dict[str, Any],
) -> TimmViTEncoder:
    reduction = int(blocks[0]["reduction"])
    if output_stride < reduction:
        raise ValueError(
            f"encoder.output_stride={output_stride} is not supported by {canonical!r}: a plain ViT keeps "
            f"reduction {reduction} throughout and cannot dilate; use output_stride >= {reduction}"
        )
    indices = _vit_indices(canonical, len(blocks), depth, output_indices)
    kwargs: dict[str, Any] = dict(in_chans=in_channels, num_classes=0, **timm_kwargs)
    if supports_dynamic_size:
        kwargs.setdefault("dynamic_img_size", True)  # any multiple of the patch size, not one fixed size
    model = create(canonical, timm_name, weights_file, **kwargs)
    if not hasattr(model, "forward_intermediates"):
        raise ValueError(f"timm model {timm_name!r} cannot be used as an encoder: it has no forward_intermediates")
    before = set(model.state_dict())
    if hasattr(model, "prune_intermediate_layers"):
        # drop what the chosen blocks do not need: later blocks, the final norm, the classifier
        model.prune_intermediate_layers(indices, prune_norm=True, prune_head=True)
    pruned = (before - set(model.state_dict())) | _classifier_keys(model)
    dynamic = bool(getattr(model, "dynamic_img_size", False))
    patch_embed = getattr(model, "patch_embed", None)
    if dynamic and getattr(patch_embed, "dynamic_img_pad", None) is False:
        # timm's "divisible by patch size" assert formats the size into its message, which pins
        # it under torch.compile (a recompile per input size); padding instead changes nothing
        # for the multiples of the patch size the model takes, and keeps sizes symbolic.
        patch_embed.dynamic_img_pad = True
    return TimmViTEncoder(
        model,
        name=canonical,
        in_channels=in_channels,
        out_channels=[blocks[i]["num_chs"] for i in indices],
        reductions=[blocks[i]["reduction"] for i in indices],
        input_size=None if dynamic else _fixed_input_size(model, timm_kwargs),
        indices=indices,
        pruned_keys=["model." + key for key in pruned],
    )


def _classifier_keys(model: nn.Module) -> set[str]:
    """Keys of the classifier a ViT built with ``num_classes=0`` does not have."""
    names = (getattr(model, "pretrained_cfg", None) or {}).get("classifier") or ()
    if isinstance(names, str):
        names = (names,)
    return {f"{name}.{kind}" for name in names for kind in ("weight", "bias")}


def _fixed_input_size(model: nn.Module, timm_kwargs: dict[str, Any]) -> tuple[int, int] | None:
    """``(height, width)`` for models timm marks as taking one input size only, else None."""
    cfg = getattr(model, "pretrained_cfg", None) or {}
    if not cfg.get("fixed_input_size", False):
        return None
    size = timm_kwargs.get("img_size") or tuple(cfg.get("input_size", (3, 224, 224)))[-2:]
    if isinstance(size, int):
        return (size, size)
    height, width = size
    return (int(height), int(width))
