"""The registry plugins register on: handed to their ``seghub_register_*`` hooks."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ..errors import PluginError
from ..weights import WeightsSource
from ._constraints import DecoderConstraints
from ._entries import DecoderEntry, EncoderEntry, EncoderFamily, NeckEntry, PluginInfo
from ._references import Ref

__all__ = ["Registry"]


class Registry:
    """Records what one plugin registers, under that plugin; nothing is imported.

    Every method takes keywords after the name, so a registration reads as what it declares.
    """

    def __init__(self, plugin: PluginInfo | None = None) -> None:
        self.encoders: list[EncoderEntry] = []
        self.families: list[EncoderFamily] = []
        self.decoders: list[DecoderEntry] = []
        self.necks: list[NeckEntry] = []
        self.plugin = plugin or PluginInfo("<in-process>", in_process=True)

    def add_encoder(
        self,
        name: str,
        *,
        factory: Ref,
        params: Ref | None = None,
        weights: WeightsSource | str | None = None,
        description: str = "",
    ) -> None:
        """Register an encoder.

        Args:
            name: The name specs use, such as ``"resnet34"``.
            factory: ``"module:attr"`` of a callable ``(*, name, in_channels, depth,
                output_stride, weights, **params) -> nn.Module`` returning an encoder.
            params: ``"module:attr"`` of a pydantic model validating ``encoder.params``.
            weights: Tag -> :class:`~seghub.weights.PretrainedWeights`, or ``"module:attr"`` of
                such a table or of a function ``(name) -> table``.
            description: One line for listings.
        """
        _check_name(name, "encoder")
        self.encoders.append(
            EncoderEntry(name=name, factory=factory, params=params, weights=weights, description=description,
                         plugin=self.plugin)
        )

    def add_encoder_family(
        self,
        prefix: str,
        *,
        factory: Ref,
        aliases: Iterable[str] = (),
        params: Ref | None = None,
        weights: WeightsSource | str | None = None,
        list_names: Ref | None = None,
        validate_name: Ref | None = None,
        description: str = "",
    ) -> None:
        """Register every name that starts with ``prefix`` (or an alias) as one encoder family.

        The factory receives the canonical name (``prefix + model``). See :class:`EncoderFamily`.
        """
        _check_name(prefix, "encoder family prefix")
        self.families.append(
            EncoderFamily(
                prefix=prefix, factory=factory, aliases=tuple(aliases), params=params, weights=weights,
                list_names=list_names, validate_name=validate_name, description=description, plugin=self.plugin,
            )
        )

    def add_decoder(
        self,
        name: str,
        *,
        factory: Ref,
        params: Ref | None = None,
        constructor: Ref | None = None,
        description: str = "",
        constraints: DecoderConstraints | Mapping[str, Any] | None = None,
        encoder_defaults: Mapping[str, Any] | None = None,
        head_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        """Register a decoder.

        Args:
            name: The name specs use (case-insensitive), such as ``"unet"``.
            factory: ``"module:attr"`` of a callable ``(*, encoder_channels,
                encoder_reductions, **params) -> nn.Module`` returning a decoder.
            params: ``"module:attr"`` of a pydantic model validating ``decoder.params``.
            constructor: ``"module:attr"`` of the smp-style constructor
                (``Unet(encoder_name, *, encoder_depth, ..., classes, aux_params, **kwargs)``);
                it becomes ``seghub.<attr>`` and what :func:`seghub.create_model` calls.
            description: One line for listings.
            constraints: What the decoder can take (:class:`DecoderConstraints` or a mapping of
                its fields): checked by the builder, shown by ``seghub decoders``.
            encoder_defaults: Encoder spec fields this decoder prefers when the spec leaves
                them unset.
            head_defaults: Defaults for the segmentation head's null fields.
        """
        _check_name(name, "decoder")
        try:
            checked = DecoderConstraints.coerce(constraints)
        except (TypeError, ValueError) as exc:
            raise PluginError(f"decoder {name!r}: invalid constraints: {exc}") from exc
        self.decoders.append(
            DecoderEntry(
                name=name.lower(), factory=factory, params=params, constructor=constructor, description=description,
                constraints=checked, encoder_defaults=dict(encoder_defaults or {}),
                head_defaults=dict(head_defaults or {}), plugin=self.plugin,
            )
        )

    def add_neck(
        self,
        name: str,
        *,
        factory: Ref,
        params: Ref | None = None,
        description: str = "",
        priority: int = 100,
        selectable_outputs: bool = False,
    ) -> None:
        """Register a neck.

        Args:
            name: The name specs use in their ``neck`` section (case-insensitive).
            factory: ``"module:attr"`` of a callable ``(*, encoder_channels, encoder_reductions,
                **params) -> nn.Module`` returning a neck: ``out_channels``, ``reductions`` and
                ``forward(features) -> features``.
            params: ``"module:attr"`` of a pydantic model validating ``neck.params``.
            description: One line for listings.
            priority: The order in which the builder tries necks when it picks one (lower
                first): a neck that changes less should come first.
            selectable_outputs: The factory also takes ``output_reductions`` (a subset of its
                reductions) and builds only those outputs; the builder passes it for decoders
                that read only some features.
        """
        _check_name(name, "neck")
        if not isinstance(priority, int) or isinstance(priority, bool):
            raise PluginError(f"neck {name!r}: priority must be an int, got {priority!r}")
        self.necks.append(
            NeckEntry(name=name.lower(), factory=factory, params=params, description=description,
                      priority=priority, selectable_outputs=bool(selectable_outputs), plugin=self.plugin)
        )


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name or name != name.strip():
        raise PluginError(f"{what} name must be a non-empty string without surrounding spaces, got {name!r}")
