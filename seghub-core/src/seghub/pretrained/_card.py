"""The model card (``README.md``) of a saved model: metadata, a summary, how to load it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, TypedDict

from ..errors import SeghubError
from ..plugins import get_hub
from ._config import PretrainedConfig

if TYPE_CHECKING:
    from torch import nn

    from .._spec import ModelSpec

__all__ = ["CardInfo", "check_card_info", "model_card"]


class CardInfo(TypedDict, total=False):
    """What the model card says beyond the model itself (all optional)."""

    description: str
    dataset: str | Sequence[str]
    metrics: Mapping[str, Any]
    license: str
    tags: Sequence[str]


def check_card_info(card_info: Mapping[str, Any]) -> None:
    """Refuse model card fields that :class:`CardInfo` does not have (typos, mostly)."""
    unknown = sorted(set(card_info) - set(CardInfo.__annotations__))
    if unknown:
        allowed = ", ".join(CardInfo.__annotations__)
        raise TypeError(f"unknown model card field(s) {', '.join(unknown)}; allowed: {allowed}")


def _architecture_name(decoder: str, provider: str | None) -> str:
    """The decoder's smp-style constructor name (``Unet``) when it has one, else its name."""
    try:
        entry = get_hub().decoder(decoder, provider)
    except SeghubError:
        return decoder
    return entry.constructor_name or entry.name


def _activation_text(value: Any) -> str:
    return "none" if value in (None, "identity") else str(value)


def model_card(
    model: nn.Module,
    spec: ModelSpec,
    config: PretrainedConfig,
    card_info: Mapping[str, Any],
    *,
    preprocessing: Mapping[str, Any] | None = None,
    repo_id: str | None = None,
) -> str:
    """The README.md of a saved model: YAML metadata, a summary table, metrics, how to load."""
    from huggingface_hub import ModelCardData

    by_kind = {p.split(" ")[0]: r for r in config.requires for p in r.provides}

    def origin(kind: str) -> str:
        req = by_kind.get(kind)
        if req is None:
            return ""
        name = req.distribution or f"in-process plugin {req.plugin}"
        return f" from {name} {req.version}" if req.version else f" from {name}"

    datasets = card_info.get("dataset")
    datasets = [datasets] if isinstance(datasets, str) else list(datasets or [])
    metrics = dict(card_info.get("metrics") or {})
    data = ModelCardData(
        library_name="seghub",
        pipeline_tag="image-segmentation",
        tags=["seghub", "semantic-segmentation", "pytorch", *card_info.get("tags", ())],
        license=card_info.get("license"),
        datasets=datasets or None,
        metrics=list(metrics) or None,
    )
    arch = _architecture_name(spec.decoder.name, spec.decoder.provider)
    enc = spec.encoder
    init = f"; initialised from `{enc.weights}` weights" if enc.weights else ""
    head = spec.segmentation_head
    cls = spec.classification_head
    cls_text = (
        f"{cls.classes} classes, {cls.pooling} pooling, dropout {cls.dropout or 0}, "
        f"activation: {_activation_text(cls.activation)}" if cls is not None else "none"
    )
    rows = [
        ("Architecture", f"{arch} (decoder `{spec.decoder.name}`{origin('decoder')})"),
        ("Encoder", f"`{enc.name}`{origin('encoder')}: {enc.in_channels} input channels, depth {enc.depth}, "
                    f"output stride {enc.output_stride}{init}"),
        ("Segmentation head", f"{head.classes} classes, activation: {_activation_text(head.activation)}"),
        ("Classification head", cls_text),
        ("Parameters", f"{sum(p.numel() for p in model.parameters()):,}"),
        ("Dataset", ", ".join(datasets) or "not given"),
    ]
    installs = " ".join(r.distribution for r in config.requires if r.distribution)
    where = repo_id or "<this folder or its Hub repo id>"
    lines = [
        "---",
        data.to_yaml().strip(),
        "---",
        "",
        f"# {arch} with a {enc.name} encoder",
        "",
        card_info.get("description") or "A segmentation model built with seghub.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in rows),
        "",
    ]
    if metrics:
        lines += ["## Metrics", "", "| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in metrics.items()), ""]
    lines += [
        "## How to load",
        "",
        "```bash",
        f"pip install {installs}",
        "```",
        "",
        "```python",
        "import seghub",
        "",
        f"model = seghub.from_pretrained({json.dumps(where)})",
        f"mask = model.predict(images)  # images: (N, {enc.in_channels}, H, W) float tensor",
        "```",
        "",
    ]
    if preprocessing:
        lines += [
            f"Inputs are normalised as for the encoder's `{enc.weights}` weights: mean {preprocessing['mean']}, "
            f"std {preprocessing['std']}, input range {preprocessing['input_range']} (`model.preprocessing_params`).",
            "",
        ]
    lines += ["## Spec", "", "```json", json.dumps(config.spec, indent=2), "```", ""]
    return "\n".join(lines)
