"""What plugins register: encoder and decoder entries, and the registry they call.

Entries hold their factory and params model as ``"module:attr"`` strings (or objects), and
resolve them only when a model is built, so that registering costs no heavy import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import PluginError
from .weights import PretrainedWeights, WeightsSource

__all__ = ["Registry", "PluginInfo", "EncoderEntry", "EncoderFamily", "DecoderEntry", "resolve"]

Ref = str | Callable[..., Any]
"""A ``"module:attr"`` string or the object itself."""


def resolve(ref: Any, what: str) -> Any:
    """Import a ``"module:attr"`` reference (other objects are returned as they are)."""
    if not isinstance(ref, str):
        return ref
    module_name, sep, attr = ref.partition(":")
    if not sep or not module_name or not attr:
        raise PluginError(f"{what}: {ref!r} is not a 'module:attr' reference")
    try:
        obj: Any = importlib.import_module(module_name)
        for part in attr.split("."):
            obj = getattr(obj, part)
    except (ImportError, AttributeError) as exc:
        raise PluginError(f"{what}: cannot import {ref!r}: {exc}") from exc
    return obj


@dataclass(frozen=True)
class PluginInfo:
    """A plugin as seghub sees it: entry-point name, distribution, version and load status."""

    name: str
    distribution: str | None = None
    version: str | None = None
    status: str = "ok"  # "ok" | "failed" | "disabled"
    reason: str = ""
    in_process: bool = False

    @property
    def label(self) -> str:
        """The distribution name where known (what users install), else the plugin name."""
        return self.distribution or self.name


@dataclass(frozen=True)
class EncoderEntry:
    """A registered encoder name."""

    name: str
    factory: Ref
    params: Ref | None = None
    weights: WeightsSource | str | None = None
    description: str = ""
    plugin: PluginInfo = field(default_factory=lambda: PluginInfo("<unknown>"))

    def load_factory(self) -> Callable[..., Any]:
        return resolve(self.factory, f"encoder {self.name!r}")

    def load_params_model(self) -> type | None:
        return None if self.params is None else resolve(self.params, f"params of encoder {self.name!r}")

    def weights_table(self) -> Mapping[str, PretrainedWeights]:
        """The weights this encoder offers, by tag."""
        source = self.weights
        if source is None:
            return {}
        source = resolve(source, f"weights of encoder {self.name!r}")
        if callable(source):
            source = source(self.name)
        return dict(source)


@dataclass(frozen=True)
class EncoderFamily:
    """A prefix that stands for an open set of encoder names, such as ``timm:<model>``.

    ``list_names`` is a ``"module:attr"`` function ``(pattern: str | None) -> Iterable[str]``
    returning the names after the prefix; it is called only for listings and suggestions.
    ``validate_name``, optional, ``(name) -> None``, raises an error for a name that exists in
    no model list (``name`` is without the prefix).
    """

    prefix: str
    factory: Ref
    aliases: tuple[str, ...] = ()
    params: Ref | None = None
    weights: WeightsSource | str | None = None
    list_names: Ref | None = None
    validate_name: Ref | None = None
    description: str = ""
    plugin: PluginInfo = field(default_factory=lambda: PluginInfo("<unknown>"))

    def split(self, name: str) -> str | None:
        """The model part of ``name`` when it carries this family's prefix or an alias."""
        for prefix in (self.prefix, *self.aliases):
            if name.startswith(prefix) and len(name) > len(prefix):
                return name[len(prefix):]
        return None

    def entry(self, name: str) -> EncoderEntry:
        """The entry for one concrete name of the family (canonical prefix)."""
        model = self.split(name)
        assert model is not None
        if self.validate_name is not None:
            resolve(self.validate_name, f"encoder family {self.prefix!r}")(model)
        return EncoderEntry(
            name=self.prefix + model,
            factory=self.factory,
            params=self.params,
            weights=self.weights,
            description=self.description,
            plugin=self.plugin,
        )

    def names(self, pattern: str | None = None) -> list[str]:
        if self.list_names is None:
            return []
        lister = resolve(self.list_names, f"encoder family {self.prefix!r}")
        return [self.prefix + name for name in lister(pattern)]


@dataclass(frozen=True)
class DecoderEntry:
    """A registered decoder name (stored lower-case; lookups are case-insensitive).

    ``encoder_defaults`` are encoder spec fields the decoder prefers when the spec leaves them
    unset (PSPNet: ``{"depth": 3}``; DeepLabV3: ``{"output_stride": 8}``). ``head_defaults``
    fill the segmentation head's null fields (``{"kernel_size": 1, "upsampling": 4}``); an
    ``upsampling`` left unset defaults to the decoder's output reduction, so masks come out at
    input resolution.
    """

    name: str
    factory: Ref
    params: Ref | None = None
    description: str = ""
    encoder_defaults: Mapping[str, Any] = field(default_factory=dict)
    head_defaults: Mapping[str, Any] = field(default_factory=dict)
    plugin: PluginInfo = field(default_factory=lambda: PluginInfo("<unknown>"))

    def load_factory(self) -> Callable[..., Any]:
        return resolve(self.factory, f"decoder {self.name!r}")

    def load_params_model(self) -> type | None:
        return None if self.params is None else resolve(self.params, f"params of decoder {self.name!r}")


class Registry:
    """The object plugins register on, handed to the ``seghub_register_*`` hooks.

    Each method records the entry under the plugin currently registering; nothing is imported.
    """

    def __init__(self) -> None:
        self.encoders: list[EncoderEntry] = []
        self.families: list[EncoderFamily] = []
        self.decoders: list[DecoderEntry] = []
        self._plugin = PluginInfo("<in-process>", in_process=True)

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
        self.encoders.append(EncoderEntry(name, factory, params, weights, description, self._plugin))

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
                prefix, factory, tuple(aliases), params, weights, list_names, validate_name,
                description, self._plugin,
            )
        )

    def add_decoder(
        self,
        name: str,
        *,
        factory: Ref,
        params: Ref | None = None,
        description: str = "",
        encoder_defaults: Mapping[str, Any] | None = None,
        head_defaults: Mapping[str, Any] | None = None,
    ) -> None:
        """Register a decoder.

        Args:
            name: The name specs use (case-insensitive), such as ``"unet"``.
            factory: ``"module:attr"`` of a callable ``(*, encoder_channels,
                encoder_reductions, **params) -> nn.Module`` returning a decoder.
            params: ``"module:attr"`` of a pydantic model validating ``decoder.params``.
            description: One line for listings.
            encoder_defaults: Encoder spec fields this decoder prefers when the spec leaves
                them unset.
            head_defaults: Defaults for the segmentation head's null fields.
        """
        _check_name(name, "decoder")
        self.decoders.append(
            DecoderEntry(
                name.lower(), factory, params, description, dict(encoder_defaults or {}),
                dict(head_defaults or {}), self._plugin,
            )
        )


def _check_name(name: str, what: str) -> None:
    if not isinstance(name, str) or not name or name != name.strip():
        raise PluginError(f"{what} name must be a non-empty string without surrounding spaces, got {name!r}")
