"""The encoder factory seghub calls: ``build_encoder(*, name, in_channels, depth, output_stride, weights)``."""

from __future__ import annotations

import difflib
import os
from pathlib import Path

import torch
from torch import nn

from seghub.errors import UnknownNameError, WeightsError
from seghub.weights import load_state_dict

from ._archs import ARCHS
from ._resnet import ResNetEncoder
from ._weights import weights_table

__all__ = ["build_encoder", "load_weights"]

OUTPUT_STRIDES = (8, 16, 32)


def build_encoder(
    *,
    name: str,
    in_channels: int = 3,
    depth: int = 5,
    output_stride: int = 32,
    weights: str | os.PathLike[str] | None = None,
) -> ResNetEncoder:
    """Build a ResNet/ResNeXt encoder, optionally with pretrained weights.

    Args:
        name: One of ``ENCODER_NAMES`` (``"resnet34"``, ``"resnext50_32x4d"``, ...).
        in_channels: Input channels, any positive integer; pretrained RGB kernels are adapted
            with :func:`seghub.weights.adapt_input_conv`.
        depth: 1..5, the number of feature maps returned (reductions 2 .. 2**depth).
        output_stride: 32, 16 or 8 (the last stages dilated instead of strided).
        weights: A tag of :func:`weights_table` (``"imagenet"``, ...), a path to a
            ``.safetensors`` file, or None for random initialisation.

    Raises:
        UnknownNameError: ``name`` is not a ResNet/ResNeXt of this plugin.
        ValueError: ``in_channels``, ``depth`` or ``output_stride`` is out of range.
        WeightsError: unknown tag, or the weights cannot be found or do not fit.
    """
    arch = ARCHS.get(name)
    if arch is None:
        close = difflib.get_close_matches(name, ARCHS, n=3)
        hint = f" Did you mean {', '.join(map(repr, close))}?" if close else ""
        raise UnknownNameError(f"unknown ResNet encoder {name!r}.{hint} Known: {', '.join(ARCHS)}")
    if not _is_int(in_channels) or in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer; got {in_channels!r}")
    if not _is_int(depth) or not 1 <= depth <= 5:
        raise ValueError(f"depth must be an integer from 1 to 5 for encoder {name!r}; got {depth!r}")
    if not _is_int(output_stride) or output_stride not in OUTPUT_STRIDES:
        allowed = ", ".join(map(str, OUTPUT_STRIDES))
        raise ValueError(
            f"output_stride must be one of {allowed} for encoder {name!r}; got {output_stride!r}"
        )
    state_dict = None if weights is None else load_weights(name, weights)
    # Build on the meta device, then allocate and initialise once: nn.Conv2d's own init and
    # the random init a checkpoint would overwrite are skipped (seconds for the big ResNeXts).
    device = torch.empty(0).device  # the default device, or that of an enclosing torch.device(...)
    with torch.device("meta"):
        encoder = ResNetEncoder(
            arch, in_channels=in_channels, depth=depth, output_stride=output_stride, name=name
        )
    _materialize(encoder, device)
    encoder.reset_parameters(convolutions=state_dict is None)
    if state_dict is not None:
        encoder.load_pretrained(state_dict)
    return encoder


def load_weights(name: str, weights: str | os.PathLike[str]) -> dict[str, torch.Tensor]:
    """Load the state dict that ``weights`` (a tag or a ``.safetensors`` path) names for ``name``."""
    table = weights_table(name)
    if isinstance(weights, str) and weights in table:
        return load_state_dict(table[weights], encoder=name, tag=weights)
    if isinstance(weights, (str, os.PathLike)):
        path = Path(weights)
        if path.suffix == ".safetensors" and path.is_file():
            return load_state_dict(path, encoder=name, tag=str(weights))
    available = ", ".join(map(repr, table)) or "none"
    not_found = ""
    if isinstance(weights, (str, os.PathLike)) and str(weights).endswith(".safetensors"):
        not_found = f" ({str(weights)!r} is not an existing file)"
    raise WeightsError(
        f"unknown weights {weights!r} for encoder {name!r}{not_found}; available tags: "
        f"{available}, or a path to an existing .safetensors file, or None for random weights"
    )


def _materialize(module: nn.Module, device: torch.device) -> None:
    """Give every meta parameter and buffer uninitialised storage on ``device``, in place.

    ``Module.to_empty`` does the same but, from the meta device, first imports torch's
    symbolic-shape machinery (about half a second); plain ``torch.empty`` does not.
    """
    if device.type == "meta":
        return
    for submodule in module.modules():
        for name, param in list(submodule.named_parameters(recurse=False)):
            storage = torch.empty(param.shape, dtype=param.dtype, device=device)
            setattr(submodule, name, nn.Parameter(storage, requires_grad=param.requires_grad))
        for name, buffer in list(submodule.named_buffers(recurse=False)):
            setattr(submodule, name, torch.empty(buffer.shape, dtype=buffer.dtype, device=device))


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
