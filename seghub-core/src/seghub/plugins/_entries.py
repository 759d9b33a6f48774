"""What a plugin registers: one entry per encoder, encoder family and decoder name.

An entry holds its factory, params model and (for decoders) smp-style constructor as
``"module:attr"`` references and imports them only when a model is built. It is also the one
path from a spec section to a module: :meth:`validate_params` checks ``params`` with the plugin's
own pydantic model, :meth:`EncoderEntry.create` / :meth:`DecoderEntry.create` call the factory
with what was validated. The builder and the conformance kit both go through it.

The rule for factories: they trust their arguments. seghub validates ``params`` before calling
a factory and passes every field of the params model (its ``model_dump()``), so factories need
neither defaults nor checks of their own for them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .._excerpt import error_text
from ..errors import PluginError, SpecError, SpecIssue
from ..weights import PretrainedWeights, WeightsSource
from ._constraints import DecoderConstraints
from ._references import Ref, reference_name, resolve

__all__ = ["PluginInfo", "EncoderEntry", "EncoderFamily", "DecoderEntry", "NeckEntry", "BUILD_ERRORS"]

Location = tuple[str | int, ...]

BUILD_ERRORS: tuple[type[Exception], ...] = (ValueError, TypeError, OverflowError, MemoryError, RuntimeError)
"""What building a part from a validated spec may raise that the spec is to blame for: a
refusal, or sizes torch cannot allocate. Reported at the part's location in the spec."""


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
class _Part:
    """What encoder and decoder entries share: a name, a factory and a params model."""

    kind: ClassVar[str] = "part"

    name: str
    factory: Ref
    params: Ref | None = None
    description: str = ""
    plugin: PluginInfo = field(default_factory=lambda: PluginInfo("<unknown>"))

    def load_factory(self) -> Callable[..., Any]:
        return resolve(self.factory, f"{self.kind} {self.name!r}")

    def load_params_model(self) -> type | None:
        """The pydantic model validating this part's ``params`` (None: params pass unchecked)."""
        return None if self.params is None else resolve(self.params, f"params of {self.kind} {self.name!r}")

    def validate_params(self, params: Mapping[str, Any], root: Location | None = None) -> dict[str, Any]:
        """``params`` checked by the plugin's params model, as the factory will get them
        (every field, defaults filled in). Raises :class:`SpecError` with issues located from
        ``root`` (default ``(<kind>, "params")``)."""
        from pydantic import BaseModel, ValidationError

        from .._pydantic_issues import issues_from

        location = (self.kind, "params") if root is None else root
        model = self.load_params_model()
        if model is None:
            return dict(params)
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise SpecError([SpecIssue(location, (
                f"plugin {self.plugin.label!r} declares a params model for {self.kind} {self.name!r} that is not "
                "a pydantic model"
            ))])
        try:
            return model.model_validate(dict(params)).model_dump()
        except ValidationError as exc:
            command = f"seghub schema {self.name}"
            raise SpecError(issues_from(exc, location, model=model, schema_command=command)) from None

    def _call_factory(self, location: Location, **kwargs: Any) -> Any:
        """The factory's result. What it refuses (``ValueError``, ``TypeError``) and what torch
        cannot build (``RuntimeError`` and ``MemoryError`` of an allocation, ``OverflowError``)
        becomes a :class:`SpecError` at ``location`` (the original stays as ``__cause__``)."""
        factory = self.load_factory()
        try:
            return factory(**kwargs)
        except BUILD_ERRORS as exc:
            raise SpecError([SpecIssue(location, error_text(exc))]) from exc


@dataclass(frozen=True)
class EncoderEntry(_Part):
    """A registered encoder name."""

    kind: ClassVar[str] = "encoder"

    weights: WeightsSource | str | None = None

    def weights_table(self) -> Mapping[str, PretrainedWeights]:
        """The weights this encoder offers, by tag."""
        source = self.weights
        if source is None:
            return {}
        source = resolve(source, f"weights of encoder {self.name!r}")
        if callable(source):
            source = source(self.name)
        return dict(source)

    def create(
        self,
        *,
        in_channels: int,
        depth: int,
        output_stride: int,
        weights: str | None,
        params: Mapping[str, Any],
        location: Location = ("encoder",),
    ) -> Any:
        """Call the factory with the spec's encoder fields and ``params`` as
        :meth:`validate_params` returned them."""
        return self._call_factory(
            location, name=self.name, in_channels=in_channels, depth=depth, output_stride=output_stride,
            weights=weights, **params,
        )


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

    def member(self, model: str) -> EncoderEntry:
        """The entry of one member, named ``prefix + model``, without checking that it exists."""
        return EncoderEntry(
            name=self.prefix + model, factory=self.factory, params=self.params, weights=self.weights,
            description=self.description, plugin=self.plugin,
        )

    def entry(self, name: str) -> EncoderEntry:
        """The entry for one concrete name of the family (canonical prefix); the family's
        ``validate_name`` refuses names it does not know."""
        model = self.split(name)
        if model is None:
            raise PluginError(f"{name!r} is not a member of encoder family {self.prefix!r}")
        if self.validate_name is not None:
            resolve(self.validate_name, f"encoder family {self.prefix!r}")(model)
        return self.member(model)

    def names(self, pattern: str | None = None) -> list[str]:
        if self.list_names is None:
            return []
        lister = resolve(self.list_names, f"encoder family {self.prefix!r}")
        return [self.prefix + name for name in lister(pattern)]


@dataclass(frozen=True)
class DecoderEntry(_Part):
    """A registered decoder name (stored lower-case; lookups are case-insensitive).

    ``constructor``: the smp-style constructor (``seghub.Unet``), optional; without one,
    :func:`seghub.create_model` maps smp's arguments to a spec itself. ``constraints``: what the
    decoder can take (:class:`DecoderConstraints`). ``encoder_defaults``: encoder spec fields the
    decoder prefers when the spec leaves them unset (PSPNet: ``{"depth": 3}``).
    ``head_defaults``: the segmentation head's null fields (``{"kernel_size": 1}``); an
    ``upsampling`` left unset is the decoder's output reduction, so masks come out at input size.
    """

    kind: ClassVar[str] = "decoder"

    constructor: Ref | None = None
    constraints: DecoderConstraints = field(default_factory=DecoderConstraints)
    encoder_defaults: Mapping[str, Any] = field(default_factory=dict)
    head_defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def constructor_name(self) -> str | None:
        """The constructor's public name (``"Unet"``), read from its reference without importing it."""
        return None if self.constructor is None else reference_name(self.constructor)

    def load_constructor(self) -> Callable[..., Any] | None:
        return None if self.constructor is None else resolve(self.constructor, f"constructor of decoder {self.name!r}")

    def create(
        self,
        *,
        encoder_channels: tuple[int, ...],
        encoder_reductions: tuple[int, ...],
        params: Mapping[str, Any],
        encoder_prefix_tokens: int | None = None,
        location: Location = ("decoder",),
    ) -> Any:
        """Call the factory with the encoder's declarations and ``params`` as
        :meth:`validate_params` returned them; ``encoder_prefix_tokens`` is passed only when
        given (to decoders that read prefix tokens)."""
        tokens = {} if encoder_prefix_tokens is None else {"encoder_prefix_tokens": encoder_prefix_tokens}
        return self._call_factory(
            location, encoder_channels=encoder_channels, encoder_reductions=encoder_reductions, **tokens, **params
        )


@dataclass(frozen=True)
class NeckEntry(_Part):
    """A registered neck name (stored lower-case; lookups are case-insensitive).

    A neck is built from the encoder's declarations, like a decoder, and declares its own
    ``out_channels`` and ``reductions``, so the decoder sees it as the encoder. When a spec
    leaves ``neck`` out and the decoder cannot use the encoder's features, the builder tries the
    registered necks in ascending ``priority`` (then by name) and takes the first that makes the
    features fit. A neck with ``selectable_outputs`` builds only the outputs it is asked for
    (its factory takes ``output_reductions``), so a decoder that reads only some gets no
    unused branch.
    """

    kind: ClassVar[str] = "neck"

    priority: int = 100
    selectable_outputs: bool = False

    def create(
        self,
        *,
        encoder_channels: tuple[int, ...],
        encoder_reductions: tuple[int, ...],
        params: Mapping[str, Any],
        output_reductions: tuple[int, ...] | None = None,
        location: Location = ("neck",),
    ) -> Any:
        """Call the factory with the encoder's declarations and ``params`` as
        :meth:`validate_params` returned them; ``output_reductions`` (for necks registered with
        ``selectable_outputs``) names the outputs to build."""
        selected = {} if output_reductions is None else {"output_reductions": output_reductions}
        return self._call_factory(
            location, encoder_channels=encoder_channels, encoder_reductions=encoder_reductions, **selected, **params
        )
