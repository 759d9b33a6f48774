"""SegmentationModel: encoder -> decoder -> segmentation head (+ optional classification head)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from ._pretrained import PretrainedMixin
from .checkpointing import checkpoint, is_active
from .errors import InputShapeError

if TYPE_CHECKING:
    from ._spec import ModelSpec

__all__ = ["SegmentationModel"]


class SegmentationModel(PretrainedMixin, nn.Module):
    """A segmentation model assembled from an encoder, a decoder and heads.

    ``forward(x)`` returns the mask ``(N, classes, H, W)``, or ``(mask, label)`` when a
    classification head is present. Build one with :func:`seghub.build_model`; it keeps its
    validated spec as :attr:`spec`. :meth:`save_pretrained`, :meth:`from_pretrained` and
    :meth:`push_to_hub` save, load and share it (``config.json`` + ``model.safetensors``).
    """

    spec: ModelSpec | None

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        segmentation_head: nn.Module,
        classification_head: nn.Module | None = None,
        *,
        spec: ModelSpec | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder
        self.segmentation_head = segmentation_head
        self.classification_head = classification_head
        self.spec = spec
        self.input_divisor = _input_divisor(encoder, decoder)
        self._pass_prefix_tokens = bool(getattr(decoder, "uses_prefix_tokens", False)) and hasattr(
            encoder, "forward_with_tokens"
        )
        self._frozen_params: list[nn.Parameter] | None = None
        # whole-part activation checkpointing, for an encoder/decoder without set_grad_checkpointing
        self._checkpoint_whole_encoder = False
        self._checkpoint_whole_decoder = False

    # -- forward -------------------------------------------------------------------------

    def check_input_shape(self, x: torch.Tensor) -> None:
        """Raise :class:`~seghub.InputShapeError` when H or W is not a multiple of the divisor."""
        divisor = self.input_divisor
        height, width = int(x.shape[-2]), int(x.shape[-1])
        if height % divisor == 0 and width % divisor == 0:
            return
        lower = (max(divisor, height // divisor * divisor), max(divisor, width // divisor * divisor))
        upper = (math.ceil(height / divisor) * divisor, math.ceil(width / divisor) * divisor)
        nearest = " or ".join(dict.fromkeys(f"{h}x{w}" for h, w in (lower, upper)))
        raise InputShapeError(
            f"input of height {height} and width {width} cannot be taken by this model: both must be "
            f"divisible by {divisor} (the encoder's total reduction). Nearest valid sizes: {nearest}; "
            "pad or resize the input."
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not (torch.compiler.is_compiling() or torch.jit.is_tracing()):
            self.check_input_shape(x)
        whole_encoder, whole_decoder = self._checkpoint_whole_encoder, self._checkpoint_whole_decoder
        if self._pass_prefix_tokens:
            features, prefix_tokens = self._run(whole_encoder, self.encoder.forward_with_tokens, x)
            decoded = self._run(whole_decoder, self.decoder, features, prefix_tokens)
        else:
            features = self._run(whole_encoder, self.encoder, x)
            decoded = self._run(whole_decoder, self.decoder, features)
        mask = self.segmentation_head(decoded)
        if self.classification_head is None:
            return mask
        return mask, self.classification_head(features[-1])

    def _run(self, whole: bool, function: Any, *args: Any) -> Any:
        if whole and is_active(self):
            return checkpoint(function, *args)
        return function(*args)

    @torch.inference_mode()
    def predict(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``forward`` in eval mode without autograd (the model stays in eval mode)."""
        if self.training:
            self.eval()
        return self(x)

    # -- activation checkpointing --------------------------------------------------------

    def set_grad_checkpointing(
        self, enable: bool = True, *, encoder: bool | None = None, decoder: bool | None = None
    ) -> SegmentationModel:
        """Switch activation checkpointing of the encoder and the decoder; each follows
        ``enable`` unless given. A part with its own ``set_grad_checkpointing`` checkpoints its
        stages or blocks; a part without it is checkpointed as a whole. Either way it acts only in
        training with autograd on (see :mod:`seghub.checkpointing`); ``spec`` records the setting."""
        settings = {
            "encoder": enable if encoder is None else encoder,
            "decoder": enable if decoder is None else decoder,
        }
        for name, on in settings.items():
            part = getattr(self, name)
            if callable(getattr(part, "set_grad_checkpointing", None)):
                part.set_grad_checkpointing(bool(on))
            else:
                setattr(self, f"_checkpoint_whole_{name}", bool(on))
        if self.spec is not None:
            self.spec = self.spec.model_copy(
                update={
                    name: getattr(self.spec, name).model_copy(update={"checkpointing": bool(on)})
                    for name, on in settings.items()
                }
            )
        return self

    # -- encoder freezing ----------------------------------------------------------------

    @property
    def encoder_frozen(self) -> bool:
        return self._frozen_params is not None

    def freeze_encoder(self) -> SegmentationModel:
        """Stop gradients to the encoder and keep its normalisation statistics fixed, even in
        train mode. :meth:`unfreeze_encoder` undoes exactly this."""
        if self._frozen_params is None:
            self._frozen_params = [p for p in self.encoder.parameters() if p.requires_grad]
            for param in self._frozen_params:
                param.requires_grad_(False)
        self._set_encoder_norm_mode(False)
        return self

    def unfreeze_encoder(self) -> SegmentationModel:
        """Give back gradients to the parameters :meth:`freeze_encoder` froze, and let the
        encoder's normalisation layers follow the model's train/eval mode again."""
        if self._frozen_params is not None:
            for param in self._frozen_params:
                param.requires_grad_(True)
            self._frozen_params = None
        self._set_encoder_norm_mode(self.training)
        return self

    def train(self, mode: bool = True) -> SegmentationModel:
        super().train(mode)
        if self.encoder_frozen:
            self._set_encoder_norm_mode(False)
        return self

    def _set_encoder_norm_mode(self, mode: bool) -> None:
        for module in self.encoder.modules():
            if isinstance(module, _NormBase):
                module.train(mode)

    # -- metadata ------------------------------------------------------------------------

    @property
    def preprocessing_params(self) -> dict[str, Any] | None:
        """Mean, std, input range and space of the encoder's pretrained weights (None without)."""
        if self.spec is None or self.spec.encoder.weights is None:
            return None
        from ._builder import preprocessing_params

        return preprocessing_params(self.spec.encoder.name, self.spec.encoder.weights, provider=self.spec.encoder.provider)


def _input_divisor(encoder: nn.Module, decoder: nn.Module) -> int:
    divisor = int(getattr(encoder, "input_divisor", 1) or 1)
    if getattr(decoder, "requires_divisible_input", True):
        divisor = math.lcm(divisor, max(int(r) for r in encoder.reductions))  # type: ignore[union-attr]
    return divisor
