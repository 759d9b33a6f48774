"""Pretrained weights: where they live, how to load them offline-safely, how to adapt them.

Plugins declare their weights as :class:`PretrainedWeights` (a pinned Hugging Face file plus
the preprocessing the network was trained with) and load them with :func:`load_state_dict`.
Only safetensors files are read, so nothing downloaded is ever unpickled.

This module imports no torch at its top level: plugin modules may import it freely.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._huggingface import HubFileError, hub_file
from .errors import WeightsError

if TYPE_CHECKING:
    import torch

__all__ = [
    "PretrainedWeights",
    "Preprocessing",
    "WeightsTable",
    "load_state_dict",
    "adapt_input_conv",
]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class Preprocessing:
    """How inputs must be prepared for a pretrained encoder.

    ``x = (x / 255 * (input_range[1] - input_range[0]) + input_range[0] - mean) / std`` for
    8-bit images, channel by channel, in ``input_space`` channel order.
    """

    mean: tuple[float, ...] = IMAGENET_MEAN
    std: tuple[float, ...] = IMAGENET_STD
    input_range: tuple[float, float] = (0.0, 1.0)
    input_space: str = "RGB"

    def as_dict(self) -> dict[str, Any]:
        """The smp-style dict: ``mean``, ``std``, ``input_range``, ``input_space``."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class PretrainedWeights:
    """One pretrained checkpoint: a safetensors file on the Hugging Face Hub at a pinned revision.

    ``repo_id`` may be None for weights a plugin loads by its own means (timm's hub
    integration); they still carry their preprocessing. ``url`` and ``description`` are
    informational.
    """

    repo_id: str | None
    revision: str | None = None
    filename: str = "model.safetensors"
    preprocessing: Preprocessing = field(default_factory=Preprocessing)
    description: str = ""


WeightsTable = Mapping[str, PretrainedWeights]
"""Weights an encoder offers, by tag (``"imagenet"``, ``"ssl"``, ...)."""

WeightsSource = WeightsTable | Callable[[str], WeightsTable]
"""A table, or a function from an encoder name to its table (for families of encoders)."""


def resolve_file(weights: PretrainedWeights, *, encoder: str = "", tag: str = "") -> Path:
    """Find the weights file in the Hugging Face cache, downloading it when allowed.

    A tag that is a path to an existing ``.safetensors`` file is not handled here; see
    :func:`load_state_dict`. Raises :class:`~seghub.errors.WeightsError` naming the repo,
    revision and file looked for, and how to build without weights.
    """
    if weights.repo_id is None:
        raise WeightsError(f"weights {tag!r} of encoder {encoder!r} name no Hugging Face repo")
    try:
        return hub_file(weights.repo_id, weights.filename, revision=weights.revision)
    except HubFileError as exc:
        what = f"weights {tag!r} of encoder {encoder!r}" if encoder else "pretrained weights"
        raise WeightsError(
            f"could not load {what}: looked for {weights.filename!r} in Hugging Face repo {weights.repo_id!r} "
            f"at revision {weights.revision or 'main'!r}; {exc.reason}. To build without pretrained weights set "
            "encoder.weights to null (encoder_weights=None in the smp-style constructors)."
        ) from exc


def load_state_dict(
    weights: PretrainedWeights | str | os.PathLike[str], *, encoder: str = "", tag: str = ""
) -> dict[str, torch.Tensor]:
    """Load a state dict from a local safetensors file or a declared Hub checkpoint.

    Only safetensors are accepted; a truncated or corrupt file raises
    :class:`~seghub.errors.WeightsError`.
    """
    if isinstance(weights, PretrainedWeights):
        path = resolve_file(weights, encoder=encoder, tag=tag)
    else:
        path = Path(weights)
        if not path.is_file():
            raise WeightsError(f"weights file {str(path)!r} does not exist")
    if path.suffix != ".safetensors":
        raise WeightsError(
            f"refusing to load {str(path)!r}: only .safetensors files are loaded (never pickles)"
        )
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        raise WeightsError(f"weights file {str(path)!r} is corrupt or truncated: {exc}") from exc


def adapt_input_conv(weight: torch.Tensor, in_channels: int) -> torch.Tensor:
    """Adapt a pretrained first-convolution kernel ``(out, 3, kh, kw)`` to ``in_channels``.

    The rule, shared by every seghub encoder:

    * 1 channel: the sum of the input-channel kernels, so a grey image ``g`` gives the same
      response as the RGB image ``(g, g, g)``.
    * ``n >= 2`` channels: the kernels are repeated cyclically (channel ``i`` takes kernel
      ``i % c``) and scaled by ``c / n``. The total weight stays that of the pretrained kernel,
      averaged over the channels: when ``n`` is a multiple of ``c``, ``n / c`` stacked copies of
      an image give exactly the pretrained response; otherwise an input with all channels equal
      sees ``(c / n) * sum(W[i % c])``, which keeps the scale but not the exact response.
    * ``n == c``: unchanged.
    """
    if in_channels < 1:
        raise ValueError(f"in_channels must be a positive integer, got {in_channels}")
    pretrained_channels = weight.shape[1]
    if in_channels == pretrained_channels:
        return weight
    if in_channels == 1:
        return weight.sum(dim=1, keepdim=True)
    index = [i % pretrained_channels for i in range(in_channels)]
    return weight[:, index] * (pretrained_channels / in_channels)
