"""``check_encoder``: run a registered encoder through the contract a plugin author must meet."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from .._protocols import InputDivisor, PrefixTokenEncoder, check_encoder_attributes, check_encoder_output
from ..plugins import get_hub
from ..errors import ProtocolError, SeghubError, SpecError
from ..plugins import EncoderEntry
from ._common import Size, as_size, cannot_load, crash, dead_parameters, isolated
from ._import_light import HEAVY_MODULES, check_import_light
from ._report import ConformanceError, ConformanceReport
from ._traced import compile_problem, export_problem

__all__ = ["check_encoder"]


@dataclass(frozen=True)
class _Config:
    depth: int
    in_channels: int = 3
    output_stride: int = 32

    def __str__(self) -> str:
        return f"[depth={self.depth}, in_channels={self.in_channels}, output_stride={self.output_stride}]"


class _EncoderCheck:
    """Builds and runs one encoder in several configurations, recording into one report."""

    def __init__(
        self, entry: EncoderEntry, params: dict[str, Any], report: ConformanceReport, size: tuple[int, int],
        batch_size: int,
    ) -> None:
        self.entry, self.params, self.report = entry, params, report
        self.size, self.batch_size = size, batch_size

    def build(self, config: _Config, *, refusal_ok: bool) -> nn.Module | None:
        """The encoder for ``config``, built through its registry entry as ``build_model`` builds
        it; None when refused (recorded) or broken (a problem)."""
        try:
            encoder = self.entry.create(
                in_channels=config.in_channels, depth=config.depth, output_stride=config.output_stride,
                weights=None, params=self.params,
            )
        except SpecError as exc:
            cause = exc.__cause__
            if not isinstance(cause, ValueError):  # a TypeError from the factory is a crash
                self.report.problem(
                    f"{config}: the factory raised {crash(cause or exc)}; refuse unsupported settings with "
                    "ValueError naming the field and the allowed values"
                )
            elif refusal_ok:
                self.report.refusal(f"{config}: {cause}")
            else:
                self.report.problem(f"{config}: refused (ValueError: {cause}); this setting must be supported")
            return None
        except Exception as exc:  # a crash, not a clean refusal
            self.report.problem(
                f"{config}: the factory raised {crash(exc)}; refuse unsupported settings with ValueError "
                "naming the field and the allowed values"
            )
            return None
        return encoder if self._attributes_ok(encoder, config) else None

    def _attributes_ok(self, encoder: nn.Module, config: _Config) -> bool:
        try:
            check_encoder_attributes(encoder)
        except ProtocolError as exc:
            self.report.problem(f"{config}: {exc}")
            return False
        ok = True
        if encoder.in_channels != config.in_channels:
            self.report.problem(
                f"{config}: in_channels is {encoder.in_channels}; set it to the factory's in_channels argument"
            )
            ok = False
        if len(encoder.out_channels) > config.depth:
            self.report.problem(
                f"{config}: declares {len(encoder.out_channels)} feature maps; depth {config.depth} allows at "
                f"most {config.depth} (depth bounds the downsampling stages used)"
            )
            ok = False
        divisor = encoder.input_divisor if isinstance(encoder, InputDivisor) else None
        if divisor is not None and (not isinstance(divisor, int) or isinstance(divisor, bool) or divisor < 1):
            self.report.problem(f"{config}: input_divisor must be a positive int when set, got {divisor!r}")
            ok = False
        return ok

    def run(self, encoder: nn.Module, config: _Config, *, backward: bool) -> bool:
        """Forward a batch in train mode, compare with the declarations, optionally backward."""
        height, width = self.size
        divisor = encoder.input_divisor if isinstance(encoder, InputDivisor) else 1
        if height % divisor or width % divisor:
            self.report.problem(
                f"{config}: the check's input_size {self.size} is not divisible by the encoder's "
                f"input_divisor {divisor}; pass input_size= a size the encoder takes"
            )
            return False
        x = torch.randn(self.batch_size, config.in_channels, height, width)
        encoder.train()
        try:
            features = encoder(x)
            check_encoder_output(encoder, x, features)
        except ProtocolError as exc:
            self.report.problem(f"{config}: {exc}; make forward return what out_channels and reductions declare")
            return False
        except Exception as exc:
            self.report.problem(f"{config}: forward on a {tuple(x.shape)} input raised {crash(exc)}")
            return False
        ok = self._tokens_ok(encoder, x, features, config)
        if backward:
            ok = self._backward_ok(encoder, features, config) and ok
        if ok:
            self.report.checked.append(str(config))
        return ok

    def _backward_ok(self, encoder: nn.Module, features: Sequence[torch.Tensor], config: _Config) -> bool:
        try:
            sum(feature.float().mean() for feature in features).backward()
        except Exception as exc:
            self.report.problem(f"{config}: backward through the features raised {crash(exc)}")
            return False
        dead = dead_parameters(encoder)
        encoder.zero_grad(set_to_none=True)
        if dead:
            self.report.problem(
                f"{config}: no gradient reaches {dead}; build only the layers forward uses at this depth "
                "(unused parameters waste memory and break DistributedDataParallel)"
            )
        return dead is None

    def _tokens_ok(self, encoder: nn.Module, x: torch.Tensor, features: Sequence[torch.Tensor], config: _Config) -> bool:
        if not callable(getattr(encoder, "forward_with_tokens", None)):
            return True
        where = f"{config}: forward_with_tokens"
        if not isinstance(encoder, PrefixTokenEncoder):
            self.report.problem(
                f"{where} exists but num_prefix_tokens does not; declare both (see seghub's PrefixTokenEncoder "
                "protocol), or the builder never hands the tokens to a decoder"
            )
            return False
        try:
            with torch.no_grad():
                result = encoder.forward_with_tokens(x)
            feats, tokens = result
        except Exception as exc:
            self.report.problem(f"{where} must return (features, prefix_tokens); it raised {crash(exc)}")
            return False
        if [tuple(f.shape) for f in feats] != [tuple(f.shape) for f in features]:
            self.report.problem(f"{where} returned features of other shapes than forward")
            return False
        if tokens is None:
            return True
        declared = int(encoder.num_prefix_tokens or 0)
        expected = [(x.shape[0], declared, c) for c in encoder.out_channels]
        if declared < 1 or [tuple(t.shape) for t in tokens] != expected:
            self.report.problem(
                f"{where} returned prefix tokens of shapes {[tuple(t.shape) for t in tokens]}; with "
                f"num_prefix_tokens={declared} they must be {expected} (batch, tokens, channels), one per "
                "feature, or None when the encoder has no prefix tokens"
            )
            return False
        return True


def check_encoder(
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    provider: str | None = None,
    depths: Iterable[int] = (1, 2, 3, 4, 5),
    in_channels: Iterable[int] = (1, 3, 4),
    output_strides: Iterable[int] = (8, 16),
    input_size: Size = 64,
    batch_size: int = 2,
    backward: bool = True,
    compile: bool | str = False,
    export: bool = False,
    import_light: bool = True,
    heavy_modules: Sequence[str] = HEAVY_MODULES,
) -> ConformanceReport:
    """Check the installed encoder ``name`` against seghub's encoder contract.

    Builds it through its registered factory (``weights=None``, ``params`` validated by its
    params model) and checks, for each of ``depths`` at ``in_channels=3, output_stride=32``: a
    clean refusal (``ValueError``) or the protocol attributes, at most ``depth`` features, the
    features' real channels and sizes against the declared ``out_channels`` and ``reductions``
    for an ``input_size`` batch, and a backward pass that reaches every parameter. At least one
    depth must build. At the deepest depth built: every ``in_channels`` must work, and each of
    ``output_strides`` is refused cleanly or gives the stride-32 reductions capped at it.
    ``compile`` (True for the default backend, or a backend name) adds
    ``torch.compile(fullgraph=True)``, ``export`` adds ``torch.export.export``, both compared
    with eager mode. ``import_light`` checks in a fresh interpreter that loading the plugin's
    entry-point module and running its hooks imports none of ``heavy_modules``.

    Returns the :class:`ConformanceReport`; raises :class:`ConformanceError` listing every problem.
    """
    report = ConformanceReport(f"encoder {name!r}")
    try:
        entry = get_hub().encoder(name, provider)
        entry.load_factory()
    except SeghubError as exc:
        raise ConformanceError(report.subject, [cannot_load(exc)]) from exc
    try:
        options = entry.validate_params(params or {})
    except SpecError as exc:
        raise ConformanceError(report.subject, [f"the params given to the check do not validate: {exc}"]) from exc
    check = _EncoderCheck(entry, options, report, as_size(input_size), batch_size)
    depths = tuple(depths)
    with isolated():
        built: dict[int, nn.Module] = {}
        for depth in depths:
            encoder = check.build(_Config(depth), refusal_ok=True)
            if encoder is not None and check.run(encoder, _Config(depth), backward=backward):
                built[depth] = encoder
        if not built:
            if not report.problems:
                report.problem(f"every depth in {depths} was refused; at least one must build")
        else:
            deepest = max(built)
            _check_in_channels(check, deepest, in_channels)
            _check_output_strides(check, built[deepest], deepest, output_strides, backward)
            _check_traced(check, built[deepest], _Config(deepest), compile, export)
    if import_light:
        check_import_light(report, entry.plugin, heavy_modules)
    report.raise_if_failed()
    return report


def _check_in_channels(check: _EncoderCheck, depth: int, in_channels: Iterable[int]) -> None:
    for channels in in_channels:
        if channels == 3:
            continue  # the depth sweep ran with 3
        config = _Config(depth, in_channels=channels)
        encoder = check.build(config, refusal_ok=False)
        if encoder is not None:
            check.run(encoder, config, backward=False)


def _check_output_strides(
    check: _EncoderCheck, base: nn.Module, depth: int, output_strides: Iterable[int], backward: bool
) -> None:
    for stride in output_strides:
        config = _Config(depth, output_stride=stride)
        encoder = check.build(config, refusal_ok=True)
        if encoder is None:
            continue
        expected = tuple(min(r, stride) for r in base.reductions)
        if tuple(encoder.reductions) != expected or tuple(encoder.out_channels) != tuple(base.out_channels):
            check.report.problem(
                f"{config}: declares out_channels {tuple(encoder.out_channels)} and reductions "
                f"{tuple(encoder.reductions)}; expected {tuple(base.out_channels)} and {expected} (the "
                "output_stride=32 ones, reductions capped at the output stride): dilate the stages past "
                "the output stride instead of striding, or refuse it with ValueError"
            )
            continue
        check.run(encoder, config, backward=backward)


def _check_traced(
    check: _EncoderCheck, encoder: nn.Module, config: _Config, compile: bool | str, export: bool
) -> None:
    if not (compile or export):
        return
    height, width = check.size
    x = torch.randn(check.batch_size, encoder.in_channels, height, width)
    problems = []
    if compile:
        problems.append(compile_problem(encoder, (x,), "inductor" if compile is True else str(compile)))
    if export:
        problems.append(export_problem(encoder, (x,)))
    for problem in filter(None, problems):
        check.report.problem(f"{config}: {problem}")
