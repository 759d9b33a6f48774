"""``seghub demo``: build a spec, train it briefly on synthetic shapes, show and score the result.

The spec is the one shipped in the package (``seghub/specs/default.json``) or the user's. The
model trains on its mask logits (a spec's activation and classification head are left out for
the demo) on batches drawn afresh every step, for a number of seconds or, reproducibly, of
steps; then it predicts held-out images. The demo writes a PNG grid (image, true mask,
prediction per row) and prints the mean IoU over classes next to what predicting background
everywhere scores.
"""

from __future__ import annotations

import json
import math
import sys
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

import torch
from PIL import Image
from torch import nn
from tqdm import tqdm

from ._model import build_model
from ._validation import validate_spec
from .data.shapes import SHAPE_NAMES, shapes_batch
from .metrics import confusion_matrix, confusion_matrix_scores
from ._spec import ModelSpec

__all__ = ["DemoResult", "default_spec", "demo_spec", "mean_iou", "print_demo", "run_demo", "write_grid"]

PALETTE = ((40, 40, 40), (230, 25, 75), (60, 180, 75), (0, 130, 200), (255, 225, 25), (145, 30, 180))
PALETTE_NAMES = ("dark grey", "red", "green", "blue", "yellow", "purple")
HELD_OUT = 64
GRID_ROWS = 4


@dataclass(frozen=True)
class DemoResult:
    """What a demo run did and reached."""

    steps: int
    seconds: float
    loss: float
    iou: float
    class_iou: dict[str, float]
    background_iou: float
    png: Path
    class_names: tuple[str, ...]


def default_spec() -> dict[str, Any]:
    """The spec shipped with seghub for the demo."""
    text = resources.files("seghub").joinpath("specs", "default.json").read_text(encoding="utf-8")
    return json.loads(text)


def demo_spec(spec: str | Path | None = None) -> ModelSpec:
    """The validated spec to train: ``spec`` (a JSON path) or the shipped default, without
    mask activation or classification head."""
    resolved = validate_spec(default_spec() if spec is None else spec).spec
    head = resolved.segmentation_head.model_copy(update={"activation": None})
    return resolved.model_copy(update={"segmentation_head": head, "classification_head": None})


def _progress_bar(total: float, stream: TextIO) -> tqdm:
    """A tqdm bar over ``total`` steps or seconds; redrawn every 5 s where ``stream`` is no
    terminal (logs, pipes), so a log gets a few lines, not hundreds."""
    interactive = stream.isatty()
    return tqdm(
        total=total, file=stream, desc="training", bar_format="{l_bar}{bar}| {elapsed}{postfix}",
        mininterval=0.1 if interactive else 5.0, ascii=not interactive,
    )


def _logits(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    output = model(images)
    return output[0] if isinstance(output, tuple) else output


def _loss(logits: torch.Tensor, masks: torch.Tensor) -> torch.Tensor:
    if logits.shape[1] == 1:
        return nn.functional.binary_cross_entropy_with_logits(logits[:, 0], masks.float())
    return nn.functional.cross_entropy(logits, masks)


def _predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    model.eval()
    with torch.inference_mode():
        logits = _logits(model, images)
    return (logits[:, 0] > 0).long() if logits.shape[1] == 1 else logits.argmax(1)


def mean_iou(pred: torch.Tensor, true: torch.Tensor, classes: int) -> tuple[float, dict[int, float]]:
    """Mean intersection over union over the classes present in ``true`` or ``pred``, and each
    of those classes' IoU (pixels of the whole set pooled per class), by :mod:`seghub.metrics`:
    absent classes score NaN there and are left out here."""
    scores = confusion_matrix_scores(confusion_matrix(pred, true, mode="multiclass", num_classes=classes))
    per_class = {c: value for c, value in enumerate(scores["iou"].tolist()) if not math.isnan(value)}
    return float(scores["miou"]), per_class


def _colour(index: int) -> tuple[int, int, int]:
    if index < len(PALETTE):
        return PALETTE[index]
    return ((index * 97) % 256, (index * 57) % 256, (index * 151) % 256)


def _mask_rgb(mask: torch.Tensor) -> torch.Tensor:
    rgb = torch.zeros(*mask.shape, 3, dtype=torch.uint8)
    for value in mask.unique().tolist():
        rgb[mask == value] = torch.tensor(_colour(int(value)), dtype=torch.uint8)
    return rgb


def _image_rgb(image: torch.Tensor) -> torch.Tensor:
    picture = ((image.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
    if picture.shape[0] == 1:
        picture = picture.expand(3, -1, -1)
    elif picture.shape[0] == 2:
        picture = torch.cat([picture, torch.zeros_like(picture[:1])])
    return picture[:3].permute(1, 2, 0)


def write_grid(path: Path, images: torch.Tensor, masks: torch.Tensor, preds: torch.Tensor, gap: int = 4) -> tuple[int, int]:
    """A PNG with one row per image: the image, its true mask, the prediction. Gives (w, h)."""
    count, size = images.shape[0], images.shape[-1]
    scale = max(1, 128 // size)
    cell = size * scale
    width, height = 3 * cell + 4 * gap, count * cell + (count + 1) * gap
    canvas = torch.full((height, width, 3), 255, dtype=torch.uint8)
    for row in range(count):
        cells = (_image_rgb(images[row]), _mask_rgb(masks[row]), _mask_rgb(preds[row]))
        for col, picture in enumerate(cells):
            big = picture.repeat_interleave(scale, 0).repeat_interleave(scale, 1)
            top, left = gap + row * (cell + gap), gap + col * (cell + gap)
            canvas[top:top + cell, left:left + cell] = big
    Image.fromarray(canvas.numpy()).save(path, format="PNG")
    return width, height


def run_demo(
    spec: str | Path | None = None,
    *,
    seconds: float = 30.0,
    steps: int | None = None,
    size: int = 32,
    batch: int = 16,
    lr: float = 3e-3,
    seed: int = 0,
    out: str | Path = "seghub-demo.png",
    progress: TextIO | None = sys.stderr,
) -> DemoResult:
    """Train ``spec`` on synthetic shapes for ``seconds`` (or exactly ``steps`` steps, then the
    run is reproducible), write the PNG grid to ``out`` and score held-out images."""
    model_spec = demo_spec(spec)
    classes = model_spec.segmentation_head.classes
    channels = model_spec.encoder.in_channels
    torch.manual_seed(seed)
    model = build_model(model_spec)
    model.check_input_shape(torch.empty(1, channels, size, size))
    data = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=1e-4)
    bar = _progress_bar(steps if steps is not None else seconds, progress) if progress else None

    done, loss, start = 0, float("nan"), time.perf_counter()
    model.train()
    while True:
        elapsed = time.perf_counter() - start
        if (steps is not None and done >= steps) or (steps is None and done and elapsed >= seconds):
            break
        images, masks = shapes_batch(batch, size, classes, data, channels)
        optimizer.zero_grad(set_to_none=True)
        value = _loss(_logits(model, images), masks)
        value.backward()
        optimizer.step()
        done, loss = done + 1, value.item()
        if bar is not None:
            bar.set_postfix_str(f"step {done}  loss {loss:.3f}", refresh=False)
            # the bar counts steps, or seconds for a run that has a time budget
            bar.update(1 if steps is not None else min(time.perf_counter() - start, seconds) - bar.n)
    elapsed = time.perf_counter() - start
    if bar is not None:
        bar.close()

    images, masks = shapes_batch(HELD_OUT, size, classes, torch.Generator().manual_seed(seed + 1), channels)
    preds = torch.cat([_predict(model, chunk) for chunk in images.split(16)])
    counted = max(classes, 2)
    iou, per_class = mean_iou(preds, masks, counted)
    background, _ = mean_iou(torch.zeros_like(masks), masks, counted)
    known = ("background", "shape") if classes == 1 else SHAPE_NAMES
    names = tuple(known[c] if c < len(known) else f"class {c}" for c in range(counted))
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_grid(path, images[:GRID_ROWS], masks[:GRID_ROWS], preds[:GRID_ROWS])
    class_iou = {names[c]: v for c, v in per_class.items()}
    return DemoResult(done, elapsed, loss, iou, class_iou, background, path, names)


def print_demo(spec: str | Path | None = None, **options: Any) -> int:
    """Run :func:`run_demo` and print what it trained, where the PNG is and the IoU reached."""
    model_spec = demo_spec(spec)
    result = run_demo(spec, **options)
    classes = model_spec.segmentation_head.classes
    what = f"{model_spec.decoder.name}/{model_spec.encoder.name}, " + ("binary mask" if classes == 1 else f"{classes} classes")
    print(f"trained {what} for {result.steps} steps in {result.seconds:.1f} s (last loss {result.loss:.3f})")
    print(f"wrote {result.png.resolve()} (rows: image, true mask, prediction)")
    print(f"mean IoU: {result.iou:.3f} on {HELD_OUT} held-out images "
          f"(predicting background everywhere scores {result.background_iou:.3f})")
    print("  " + "  ".join(f"{name} {value:.3f}" for name, value in result.class_iou.items()))
    colours = zip(result.class_names, PALETTE_NAMES)
    print("mask colours: " + ", ".join(f"{name} {colour}" for name, colour in colours))
    return 0
