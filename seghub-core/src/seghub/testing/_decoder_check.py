"""``check_decoder``: build a registered decoder into models and check it against the contract."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils import _pytree as pytree

from .._model import build_model
from .._protocols import check_decoder_output, reads_prefix_tokens, requires_divisible_input
from ..plugins import get_hub
from ..errors import InputShapeError, ProtocolError, SeghubError, SpecError
from ._common import Size, as_size, cannot_load, crash, dead_parameters, isolated
from ._import_light import HEAVY_MODULES, check_import_light
from ._report import ConformanceError, ConformanceReport
from ._synthetic import synthetic_encoder, synthetic_registered
from ._traced import compile_problem, export_problem

__all__ = ["check_decoder"]

CLASSES = 2


class _DecoderCheck:
    """Builds models around one decoder and runs them, recording into one report."""

    def __init__(
        self, decoder: dict[str, Any], uses_tokens: bool, report: ConformanceReport, size: tuple[int, int],
        batch_size: int,
    ) -> None:
        self.decoder, self.uses_tokens, self.report = decoder, uses_tokens, report
        self.size, self.batch_size = size, batch_size

    def build(self, encoder: dict[str, Any], label: str, *, refusal_ok: bool) -> nn.Module | None:
        """``build_model`` with ``encoder`` and the decoder; None when refused or broken."""
        # neck null: the decoder itself is checked, not the neck the builder would put in front of it
        spec = {"encoder": encoder, "neck": None, "decoder": self.decoder, "segmentation_head": {"classes": CLASSES}}
        crashed = (
            f"{label}: building raised {{}}; refuse features the decoder cannot use with ValueError naming the mismatch"
        )
        try:
            model = build_model(spec)
        except SpecError as exc:
            cause = exc.__cause__
            if cause is not None and not isinstance(cause, ValueError):
                self.report.problem(crashed.format(crash(cause)))
            elif refusal_ok:
                self.report.refusal(f"{label}: {exc}")
            else:
                self.report.problem(
                    f"{label}: refused: {exc}; the check's own encoder and params must build: fix them, or make "
                    "the decoder take these features"
                )
            return None
        except ProtocolError as exc:
            self.report.problem(f"{label}: {exc}")
            return None
        except Exception as exc:
            self.report.problem(crashed.format(crash(exc)))
            return None
        declared = reads_prefix_tokens(model.decoder)
        if declared != self.uses_tokens:
            self.report.problem(
                f"{label}: the decoder module says uses_prefix_tokens={declared} but its registered factory says "
                f"{self.uses_tokens}; declare it as a class attribute (the builder reads it from the factory)"
            )
            return None
        return model

    def run(self, model: nn.Module, label: str, *, backward: bool, size: tuple[int, int] | None = None) -> Any:
        """Forward a batch in train mode and check decoder output and mask; returns the
        decoder's inputs (detached), or None after a problem."""
        height, width = size or self.size
        x = torch.randn(self.batch_size, model.encoder.in_channels, height, width)
        seen: dict[str, Any] = {}
        handle = model.decoder.register_forward_hook(lambda _m, args, out: seen.update(args=args, out=out))
        model.train()
        try:
            mask = model(x)
            check_decoder_output(model.decoder, x, seen["out"])
        except InputShapeError as exc:
            self.report.problem(f"{label}: {exc} (pass the check an input_size= the model takes)")
            return None
        except ProtocolError as exc:
            self.report.problem(f"{label}: {exc}; declare the channels and reduction forward really gives")
            return None
        except Exception as exc:
            self.report.problem(f"{label}: forward on a {tuple(x.shape)} input raised {crash(exc)}")
            return None
        finally:
            handle.remove()
        if tuple(mask.shape) != (self.batch_size, CLASSES, height, width):
            self.report.problem(
                f"{label}: the mask is {tuple(mask.shape)} for a {tuple(x.shape)} input; the head upsamples the "
                f"decoder output by its declared reduction {model.decoder.reduction}, so declare the real one"
            )
            return None
        if backward and not self._backward_ok(model, mask, label):
            return None
        self.report.checked.append(label)
        return pytree.tree_map_only(torch.Tensor, lambda t: t.detach(), seen["args"])

    def _backward_ok(self, model: nn.Module, mask: torch.Tensor, label: str) -> bool:
        try:
            mask.float().sum().backward()
        except Exception as exc:
            self.report.problem(f"{label}: backward through the mask raised {crash(exc)}")
            return False
        dead = dead_parameters(model.decoder)
        model.zero_grad(set_to_none=True)
        if dead:
            self.report.problem(
                f"{label}: no gradient reaches decoder parameters {dead}; build only the layers forward uses "
                "with these features (unused parameters waste memory and break DistributedDataParallel)"
            )
        return dead is None


def _encoder_spec(encoder: str | Mapping[str, Any] | None) -> dict[str, Any]:
    if encoder is None:
        return synthetic_encoder()
    if isinstance(encoder, str):
        return {"name": encoder}
    return dict(encoder)


def _label(encoder: dict[str, Any], **changes: int) -> str:
    shown = {k: v for k, v in {**encoder, **changes}.items() if k in ("name", "depth", "output_stride", "in_channels")}
    return "[encoder " + ", ".join(f"{k}={v}" for k, v in shown.items()) + "]"


def check_decoder(
    name: str,
    *,
    params: Mapping[str, Any] | None = None,
    provider: str | None = None,
    encoder: str | Mapping[str, Any] | None = None,
    input_size: Size = 64,
    depths: Iterable[int] = (1, 2, 3, 4, 5),
    output_strides: Iterable[int] = (8, 16),
    batch_size: int = 2,
    backward: bool = True,
    compile: bool | str = False,
    export: bool = False,
    import_light: bool = True,
    heavy_modules: Sequence[str] = HEAVY_MODULES,
) -> ConformanceReport:
    """Check the installed decoder ``name`` against seghub's decoder contract.

    ``encoder`` is an encoder name or encoder spec dict (default: the kit's synthetic encoder
    with reductions 2..32, see :func:`synthetic_encoder`). The decoder (with ``params``) is built
    with it through :func:`seghub.build_model`, which must succeed; a train-mode forward of an
    ``input_size`` batch must give the decoder output its declared ``out_channels`` and
    ``reduction`` promise and an input-sized mask, and a backward pass must reach every
    decoder parameter. The same encoder at each of ``depths`` and ``output_strides`` must be
    refused cleanly (``ValueError`` from a factory) or pass the same checks. A decoder that
    sets ``requires_divisible_input = False`` must also take an input one divisor larger.
    ``compile``, ``export`` and ``import_light`` as in :func:`check_encoder`, on the decoder.

    Returns the :class:`ConformanceReport`; raises :class:`ConformanceError` listing every problem.
    """
    report = ConformanceReport(f"decoder {name!r}")
    try:
        entry = get_hub().decoder(name, provider)
        uses_tokens = reads_prefix_tokens(entry.load_factory())
    except SeghubError as exc:
        raise ConformanceError(report.subject, [cannot_load(exc)]) from exc
    decoder = {"name": name, "provider": provider, "params": dict(params or {})}
    check = _DecoderCheck(decoder, uses_tokens, report, as_size(input_size), batch_size)
    base = _encoder_spec(encoder)
    with synthetic_registered(), isolated():
        model = check.build(base, _label(base), refusal_ok=False)
        inputs = None if model is None else check.run(model, _label(base), backward=backward)
        if inputs is not None:
            _check_odd_size(check, model, _label(base))
            _check_traced(check, model.decoder, inputs, _label(base), compile, export)
        for key, values in (("depth", depths), ("output_stride", output_strides)):
            for value in values:
                label = _label(base, **{key: value})
                swept = check.build({**base, key: value}, label, refusal_ok=True)
                if swept is not None:
                    check.run(swept, label, backward=backward)
    if import_light:
        check_import_light(report, entry.plugin, heavy_modules)
    report.raise_if_failed()
    return report


def _check_odd_size(check: _DecoderCheck, model: nn.Module, label: str) -> None:
    """A decoder that waives the divisibility rule must take sizes the rule would refuse."""
    if requires_divisible_input(model.decoder):
        return
    step = int(model.input_divisor)
    height, width = check.size
    check.run(model, f"{label} (requires_divisible_input=False: input {height + step}x{width + step})",
              backward=False, size=(height + step, width + step))


def _check_traced(check: _DecoderCheck, decoder: nn.Module, inputs: Any, label: str, compile: bool | str, export: bool) -> None:
    problems = []
    if compile:
        problems.append(compile_problem(decoder, inputs, "inductor" if compile is True else str(compile)))
    if export:
        problems.append(export_problem(decoder, inputs))
    for problem in filter(None, problems):
        check.report.problem(f"{label}: {problem}")
