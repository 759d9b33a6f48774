"""The two kinds of timm encoder: a feature pyramid and a plain ViT (imports torch, not timm)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from seghub.errors import InputShapeError

__all__ = ["TimmPyramidEncoder", "TimmViTEncoder"]


class _TimmEncoder(nn.Module):
    """What both kinds share: the wrapped timm module as ``model`` and the declared shapes."""

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        in_channels: int,
        out_channels: Sequence[int],
        reductions: Sequence[int],
        input_size: tuple[int, int] | None = None,
    ) -> None:
        super().__init__()
        self.model = model
        self.name = name
        self.in_channels = int(in_channels)
        self.out_channels = tuple(int(c) for c in out_channels)
        self.reductions = tuple(int(r) for r in reductions)
        self.input_size = input_size
        """``(height, width)`` when the model takes only that input size, else None."""

    def _check_size(self, x: torch.Tensor) -> None:
        if self.input_size is not None and tuple(x.shape[-2:]) != self.input_size:
            height, width = self.input_size
            raise InputShapeError(
                f"encoder {self.name!r} takes only {height}x{width} inputs, got "
                f"{x.shape[-2]}x{x.shape[-1]}; resize the input or set encoder.params.img_size"
            )

    def extra_repr(self) -> str:
        return f"name={self.name!r}, out_channels={self.out_channels}, reductions={self.reductions}"


class TimmPyramidEncoder(_TimmEncoder):
    """A hierarchical timm backbone (CNN, ConvNeXt, Swin, ...) built with ``features_only``.

    Features that timm returns channels-last (NHWC) are turned into NCHW.
    """

    def __init__(self, model: nn.Module, *, channels_last: bool, **kwargs: object) -> None:
        super().__init__(model, **kwargs)  # type: ignore[arg-type]
        self._channels_last = bool(channels_last)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps, NCHW, fine to coarse."""
        self._check_size(x)
        features = self.model(x)
        if self._channels_last:
            return [feature.permute(0, 3, 1, 2).contiguous() for feature in features]
        return list(features)


class TimmViTEncoder(_TimmEncoder):
    """A plain ViT whose intermediate blocks (``indices``) become the features.

    ``num_prefix_tokens`` is the number of class/register tokens the ViT carries;
    :meth:`forward_with_tokens` also returns them, for decoders that read them out (DPT).
    """

    def __init__(
        self, model: nn.Module, *, indices: Sequence[int], pruned_keys: Sequence[str] = (), **kwargs: object
    ) -> None:
        super().__init__(model, **kwargs)  # type: ignore[arg-type]
        self.indices = tuple(int(i) for i in indices)
        self.num_prefix_tokens = int(getattr(model, "num_prefix_tokens", 0) or 0)
        self._pruned_keys = frozenset(pruned_keys)

    def smp_state_dict_to_seghub(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """An smp ViT encoder's state dict in this encoder's layout.

        smp keeps the whole timm model (classifier, final norm, blocks after the last one used)
        although its forward never runs those parts; this encoder drops them, so their keys go.
        """
        return {key: value for key, value in state_dict.items() if key not in self._pruned_keys}

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The chosen blocks' outputs as NCHW maps (prefix tokens dropped)."""
        self._check_size(x)
        features = self.model.forward_intermediates(x, indices=list(self.indices), intermediates_only=True)
        return list(features)

    def forward_with_tokens(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """``(features, prefix_tokens)``: tokens are ``(batch, num_prefix_tokens, channels)``
        per feature, or None when the ViT has no prefix tokens."""
        if self.num_prefix_tokens == 0:
            return self.forward(x), None
        self._check_size(x)
        pairs = self.model.forward_intermediates(
            x, indices=list(self.indices), intermediates_only=True, return_prefix_tokens=True
        )
        return [feature for feature, _ in pairs], [tokens for _, tokens in pairs]
