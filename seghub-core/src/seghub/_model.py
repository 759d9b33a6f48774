"""SegmentationModel: encoder -> decoder -> segmentation head (+ optional classification head),
and :func:`build_model`, which assembles one from a spec."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _NormBase

from ._builder import assemble
from ._protocols import Capabilities
from ._spec import ModelSpec
from ._validation import SpecLike
from .checkpointing import checkpoint, is_active
from .errors import InputShapeError
from ._preprocessing import preprocessing_params as weights_preprocessing
from .pretrained import PretrainedMixin

__all__ = ["SegmentationModel", "build_model", "from_pretrained"]


class SegmentationModel(PretrainedMixin, nn.Module):
    """A segmentation model assembled from an encoder, a decoder and heads.

    ``forward(x)`` returns the mask ``(N, classes, H, W)``, or ``(mask, label)`` when a
    classification head is present. Build one with :func:`seghub.build_model`; it keeps its
    validated spec as :attr:`spec`. :meth:`save_pretrained`, :meth:`from_pretrained` and
    :meth:`push_to_hub` save, load and share it (``config.json`` + ``model.safetensors``).
    """

    # what smp's models declare, and code written for smp reads before scripting or compiling
    _is_torch_scriptable = False  # TorchScript is not supported; torch.compile and torch.export are
    _is_torch_exportable = True
    _is_torch_compilable = True

    spec: ModelSpec | None

    def __init__(
        self,
        encoder: nn.Module,
        decoder: nn.Module,
        segmentation_head: nn.Module,
        classification_head: nn.Module | None = None,
        *,
        capabilities: Capabilities,
        neck: nn.Module | None = None,
        spec: ModelSpec | None = None,
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.neck = neck
        self.decoder = decoder
        self.segmentation_head = segmentation_head
        self.classification_head = classification_head
        self.spec = spec
        self.capabilities = capabilities
        self._frozen_params: list[nn.Parameter] | None = None
        # whole-part activation checkpointing, for an encoder/decoder that does not checkpoint itself
        self._checkpoint_whole_encoder = False
        self._checkpoint_whole_decoder = False

    @classmethod
    def from_spec(cls, spec: SpecLike) -> SegmentationModel:
        """Build the model a spec describes: see :func:`build_model`."""
        parts = assemble(spec)
        model = cls(
            parts.encoder, parts.decoder, parts.segmentation_head, parts.classification_head,
            capabilities=parts.capabilities, neck=parts.neck, spec=parts.spec,
        )
        encoder_on, decoder_on = parts.spec.encoder.checkpointing, parts.spec.decoder.checkpointing
        if encoder_on or decoder_on:
            model.set_grad_checkpointing(encoder=encoder_on, decoder=decoder_on)
        return model

    @property
    def input_divisor(self) -> int:
        """Input height and width must be multiples of this."""
        return self.capabilities.input_divisor

    @property
    def requires_divisible_input_shape(self) -> bool:
        """smp's flag: whether inputs must have a height and width divisible by something."""
        return self.capabilities.input_divisor > 1

    # -- forward -------------------------------------------------------------------------

    def check_input_shape(self, x: torch.Tensor) -> None:
        """Refuse, with :class:`~seghub.InputShapeError`, an input this model cannot take: not an
        ``(N, C, H, W)`` floating tensor with the encoder's channel count, a height or width below
        the smallest valid size, or not a multiple of the input divisor (naming the nearest
        valid sizes)."""
        expected = f"(N, {self.encoder.in_channels}, H, W)"
        if not isinstance(x, torch.Tensor):
            raise InputShapeError(f"the model takes a tensor of shape {expected}, got {type(x).__name__}")
        if x.ndim != 4:
            raise InputShapeError(f"the model takes a 4-d tensor of shape {expected}, got shape {tuple(x.shape)}")
        if x.shape[1] != self.encoder.in_channels:
            raise InputShapeError(
                f"the model takes {self.encoder.in_channels} input channels, shape {expected}; got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise InputShapeError(f"the model takes a floating-point tensor; got {x.dtype} (convert with x.float())")
        height, width = int(x.shape[-2]), int(x.shape[-1])
        smallest = self.capabilities.min_input_size
        if height < smallest or width < smallest:
            who = self.capabilities.min_input_reason or "this model"
            raise InputShapeError(
                f"{who} needs at least {smallest}x{smallest}; got {height}x{width}; pad or resize the input"
            )
        divisor = self.input_divisor
        if height % divisor == 0 and width % divisor == 0:
            return
        lower = (max(divisor, height // divisor * divisor), max(divisor, width // divisor * divisor))
        upper = (math.ceil(height / divisor) * divisor, math.ceil(width / divisor) * divisor)
        nearest = " or ".join(dict.fromkeys(f"{h}x{w}" for h, w in (lower, upper) if min(h, w) >= smallest))
        raise InputShapeError(
            f"input of height {height} and width {width} cannot be taken by this model: both must be "
            f"divisible by {divisor} (the encoder's total reduction). Nearest valid sizes: {nearest}; "
            "pad or resize the input."
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        if not (torch.compiler.is_compiling() or torch.jit.is_tracing()):
            self.check_input_shape(x)
        whole_encoder, whole_decoder = self._checkpoint_whole_encoder, self._checkpoint_whole_decoder
        if self.capabilities.prefix_tokens:
            features, prefix_tokens = self._run(whole_encoder, self.encoder.forward_with_tokens, x)
            decoded = self._run(whole_decoder, self.decoder, self._neck(features), prefix_tokens)
        else:
            features = self._run(whole_encoder, self.encoder, x)
            decoded = self._run(whole_decoder, self.decoder, self._neck(features))
        mask = self.segmentation_head(decoded)
        if self.classification_head is None:
            return mask
        return mask, self.classification_head(features[-1])

    def _neck(self, features: list[torch.Tensor]) -> list[torch.Tensor]:
        return features if self.neck is None else self.neck(features)

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
        itself = {
            "encoder": self.capabilities.encoder_checkpoints_itself,
            "decoder": self.capabilities.decoder_checkpoints_itself,
        }
        for name, on in settings.items():
            if itself[name]:
                getattr(self, name).set_grad_checkpointing(bool(on))
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
        return weights_preprocessing(self.spec.encoder.name, self.spec.encoder.weights, provider=self.spec.encoder.provider)


def build_model(spec: SpecLike) -> SegmentationModel:
    """Build a :class:`SegmentationModel` from a spec: a dict, a :class:`~seghub.ModelSpec`, or
    the path of a JSON file. The model keeps the validated, fully resolved spec as
    ``model.spec``; building from it gives the same architecture."""
    return SegmentationModel.from_spec(spec)


from_pretrained = SegmentationModel.from_pretrained
