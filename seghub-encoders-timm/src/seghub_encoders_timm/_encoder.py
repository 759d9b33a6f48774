"""The two kinds of timm encoder: a feature pyramid and a plain ViT (imports torch, not timm)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from seghub.checkpointing import GradCheckpointing, checkpoint, is_active
from seghub.errors import InputShapeError

__all__ = ["TimmPyramidEncoder", "TimmViTEncoder"]


class _TimmEncoder(GradCheckpointing, nn.Module):
    """What both kinds share: the wrapped timm module as ``model`` and the declared shapes.

    ``set_grad_checkpointing(True)`` checkpoints in training: through timm's own
    ``set_grad_checkpointing`` (per block) where the model has it and keeps no running
    statistics, else the whole timm model at once (see also :class:`TimmPyramidEncoder`).
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        name: str,
        in_channels: int,
        out_channels: Sequence[int],
        reductions: Sequence[int],
        input_size: tuple[int, int] | None = None,
        pruned_keys: Sequence[str] = (),
    ) -> None:
        super().__init__()
        self.model = model
        self._pruned_keys = frozenset(pruned_keys)
        self.name = name
        self.in_channels = int(in_channels)
        self.out_channels = tuple(int(c) for c in out_channels)
        self.reductions = tuple(int(r) for r in reductions)
        self.input_size = input_size
        """``(height, width)`` when the model takes only that input size, else None."""

    def smp_state_dict_to_seghub(self, state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """An smp timm encoder's state dict in this encoder's layout.

        smp keeps the whole timm model (classifier, final norm, blocks after the last one used)
        although its forward never runs those parts; this encoder drops them, so their keys go.
        """
        return {key: value for key, value in state_dict.items() if key not in self._pruned_keys}

    def _call_model(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function`` (the timm model or one of its methods), checkpointed as set.

        timm's checkpointing is switched on only for this call, so it never acts in evaluation,
        without autograd or under export. Models with batch-norm-like running statistics are
        checkpointed whole by seghub, which keeps those statistics exact.
        """
        if not (self.grad_checkpointing and is_active(self)):
            return function(*args, **kwargs)
        if not (hasattr(self.model, "set_grad_checkpointing") and not _has_running_stats(self.model)):
            return checkpoint(function, *args, **kwargs)
        self.model.set_grad_checkpointing(True)
        try:
            return function(*args, **kwargs)
        finally:
            self.model.set_grad_checkpointing(False)

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

    Features that timm returns channels-last (NHWC) are turned into NCHW. With checkpointing
    on, a ``features_only`` module list (timm's ``FeatureListNet``) is run stage by stage with
    seghub's checkpointing, as timm would (the first and last stage and in-place modules run
    plainly), so batch-norm statistics stay exact.
    """

    def __init__(self, model: nn.Module, *, channels_last: bool, **kwargs: object) -> None:
        super().__init__(model, **kwargs)  # type: ignore[arg-type]
        self._channels_last = bool(channels_last)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Feature maps, NCHW, fine to coarse."""
        self._check_size(x)
        if self.grad_checkpointing and is_active(self) and _is_stage_list(self.model):
            features = self._forward_stages(x)
        else:
            features = self._call_model(self.model, x)
        if self._channels_last:
            return [feature.permute(0, 3, 1, 2).contiguous() for feature in features]
        return list(features)

    def _forward_stages(self, x: torch.Tensor) -> list[torch.Tensor]:
        """timm's ``FeatureListNet.forward`` with seghub's checkpoint around each middle stage."""
        stages = list(self.model.items())  # type: ignore[operator]
        outputs = self.model.return_layers
        features = []
        for i, (name, module) in enumerate(stages):
            plain = i in (0, len(stages) - 1) or getattr(module, "inplace", False) is True
            x = module(x) if plain else checkpoint(module, x)
            if name in outputs:
                if isinstance(x, (tuple, list)):
                    features.append(torch.cat(x, 1) if self.model.concat else x[0])
                else:
                    features.append(x)
        return features


def _is_stage_list(model: nn.Module) -> bool:
    """Whether ``model`` is timm's ``FeatureDictNet``/``FeatureListNet``: stages in a ModuleDict."""
    return isinstance(model, nn.ModuleDict) and hasattr(model, "return_layers") and hasattr(model, "concat")


def _has_running_stats(model: nn.Module) -> bool:
    return any(isinstance(m, _NormBase) and m.track_running_stats for m in model.modules())


class TimmViTEncoder(_TimmEncoder):
    """A plain ViT whose intermediate blocks (``indices``) become the features.

    ``num_prefix_tokens`` is the number of class/register tokens the ViT carries;
    :meth:`forward_with_tokens` also returns them, for decoders that read them out (DPT).
    """

    def __init__(self, model: nn.Module, *, indices: Sequence[int], **kwargs: object) -> None:
        super().__init__(model, **kwargs)  # type: ignore[arg-type]
        self.indices = tuple(int(i) for i in indices)
        self.num_prefix_tokens = int(getattr(model, "num_prefix_tokens", 0) or 0)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The chosen blocks' outputs as NCHW maps (prefix tokens dropped)."""
        self._check_size(x)
        features = self._call_model(
            self.model.forward_intermediates, x, indices=list(self.indices), intermediates_only=True
        )
        return list(features)

    def forward_with_tokens(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
        """``(features, prefix_tokens)``: tokens are ``(batch, num_prefix_tokens, channels)``
        per feature, or None when the ViT has no prefix tokens."""
        if self.num_prefix_tokens == 0:
            return self.forward(x), None
        self._check_size(x)
        pairs = self._call_model(
            self.model.forward_intermediates,
            x,
            indices=list(self.indices),
            intermediates_only=True,
            return_prefix_tokens=True,
        )
        return [feature for feature, _ in pairs], [tokens for _, tokens in pairs]
