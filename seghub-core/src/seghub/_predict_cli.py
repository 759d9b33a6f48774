"""``seghub predict``: segment image files with a saved model and write class-index PNG masks.

Images are read and written with Pillow (a dependency of seghub-core). Each
image is predicted with :func:`seghub.inference.sliding_window` (optionally through
:func:`seghub.inference.tta`), its blended output accumulated on the CPU. An image that cannot
be read or does not fit the model gets one line on stderr; the others are still predicted, and
the command exits with 2.

This module imports no torch at its top level: ``seghub --help`` stays quick.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import SeghubError

if TYPE_CHECKING:
    import torch

__all__ = ["add_predict_parser"]

EXIT_BAD_INPUT = 2
# the tint of classes 1, 2, ... in overlays (class 0, the background, is left untinted)
PALETTE = (
    (230, 25, 75), (60, 180, 75), (255, 225, 25), (0, 130, 200), (245, 130, 48),
    (145, 30, 180), (70, 240, 240), (240, 50, 230), (210, 245, 60), (250, 190, 212),
)
# modes Pillow converts to one of L, LA, RGB, RGBA before reading
_CONVERT = {"1": "L", "La": "LA", "RGBa": "RGBA", "RGBX": "RGB", "CMYK": "RGB", "YCbCr": "RGB", "LAB": "RGB", "HSV": "RGB"}
_BANDS = {"L": 1, "LA": 2, "RGB": 3, "RGBA": 4}


class BadImage(Exception):
    """An image the command skips, with the reason."""


def add_predict_parser(subparsers: Any) -> None:
    """Add the ``predict`` sub-command to the ``seghub`` parser's sub-parsers."""
    cmd = subparsers.add_parser(
        "predict", help="segment images with a saved model (sliding window, optional TTA); write PNG masks"
    )
    cmd.add_argument("model", metavar="MODEL_FOLDER", help="a folder written by save_pretrained (or a Hub repo id)")
    cmd.add_argument("images", nargs="+", metavar="IMAGE", help="image files (PNG, JPEG, TIFF, ... : what Pillow reads)")
    cmd.add_argument("--out", required=True, metavar="DIR", help="where to write <stem>.png masks (created if missing)")
    cmd.add_argument("--window", type=_window, default=(512, 512), metavar="N|H,W", help="window size (default 512)")
    cmd.add_argument("--overlap", type=_overlap, default=0.25, help="window overlap in [0, 1) (default 0.25)")
    cmd.add_argument("--blend", choices=("constant", "gaussian"), default="constant", help="blending of overlapping windows (default constant)")
    cmd.add_argument("--tta", choices=("none", "flips", "d4"), default="none", help="test-time augmentation (default none)")
    cmd.add_argument("--batch-size", type=_positive_int, default=4, metavar="N", help="windows per model call (default 4)")
    cmd.add_argument("--overlay", action="store_true", help="also write <stem>_overlay.png: the image tinted by class")
    cmd.add_argument("--device", help="device of the model (default cuda if available, else cpu); masks are blended on the cpu")
    cmd.add_argument("--no-progress", action="store_true", help="no progress bars on stderr")
    cmd.set_defaults(run=run_predict)


def _window(text: str) -> tuple[int, int]:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) == 1:
        values = values * 2
    if len(values) != 2 or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected a positive size N or H,W, got {text!r}")
    return values  # type: ignore[return-value]


def _overlap(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1), got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _pillow() -> Any:
    from PIL import Image  # imported here: seghub --help stays quick

    return Image


def run_predict(args: argparse.Namespace) -> int:
    """Predict every image; return 2 when any was skipped, else 0."""
    image_lib = _pillow()
    # the command is for large images the user names: Pillow's decompression-bomb limit (89M
    # pixels) would refuse them, so it is lifted while the command runs
    limit, image_lib.MAX_IMAGE_PIXELS = image_lib.MAX_IMAGE_PIXELS, None
    try:
        return _predict_all(image_lib, args)
    finally:
        image_lib.MAX_IMAGE_PIXELS = limit


def _predict_all(image_lib: Any, args: argparse.Namespace) -> int:
    import torch

    from ._model import from_pretrained
    from .inference import sliding_window, tta

    model = from_pretrained(args.model).eval()
    try:
        model.to(_device(args.device))
    except (RuntimeError, AssertionError) as exc:  # torch raises AssertionError for CUDA without a CUDA build
        raise SeghubError(f"cannot use --device {args.device!r}: {exc}") from exc
    in_channels = int(model.spec.encoder.in_channels) if model.spec is not None else int(model.encoder.in_channels)
    activation = model.spec.segmentation_head.activation if model.spec is not None else None
    if activation in ("argmax", "argmax2d"):
        raise SeghubError(
            f"the model's segmentation_head.activation is {activation!r}: class indices cannot be blended across "
            "windows; save the model with activation null (or softmax) to predict with it"
        )
    preprocessing = model.preprocessing_params
    predictor = model if args.tta == "none" else tta(model, args.tta)
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    skipped = 0
    for path, problem in _targets(args.images, overlay=args.overlay):
        try:
            if problem:
                raise BadImage(problem)
            pixels = read_image(image_lib, path, in_channels)
        except BadImage as exc:
            print(f"seghub: error: {path}: {exc}", file=sys.stderr)
            skipped += 1
            continue
        x = normalise(pixels, preprocessing)
        with torch.inference_mode():
            output = sliding_window(
                predictor, x, window=args.window, overlap=args.overlap, blend=args.blend, batch_size=args.batch_size,
                device="cpu", progress=False if args.no_progress else Path(path).name,
            )
            classes = class_indices(output, activation)
        mask_path = out_dir / f"{Path(path).stem}.png"
        write_mask(image_lib, classes, mask_path)
        written = [str(mask_path)]
        if args.overlay:
            overlay_path = out_dir / f"{Path(path).stem}_overlay.png"
            write_overlay(image_lib, pixels, classes, overlay_path)
            written.append(str(overlay_path))
        print(f"{path} -> {', '.join(written)}")
    return EXIT_BAD_INPUT if skipped else 0


def _device(name: str | None) -> torch.device:
    import torch

    if name is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        return torch.device(name)
    except RuntimeError as exc:
        raise SeghubError(f"--device {name!r} is not a device: {exc}") from exc


def _targets(paths: list[str], *, overlay: bool) -> list[tuple[str, str | None]]:
    """Each path with the reason to skip it, if any: an output file an earlier image writes."""
    writer: dict[str, str] = {}  # output file name -> the image that writes it
    targets: list[tuple[str, str | None]] = []
    for path in paths:
        stem = Path(path).stem
        names = [f"{stem}.png", f"{stem}_overlay.png"] if overlay else [f"{stem}.png"]
        taken = next((name for name in names if writer.get(name, path) != path), None)
        if taken is None:
            writer.update(dict.fromkeys(names, path))
            targets.append((path, None))
        else:
            targets.append((path, f"its output {taken} would overwrite that of {writer[taken]}; rename one"))
    return targets


def read_image(image_lib: Any, path: str, in_channels: int) -> torch.Tensor:
    """The image as ``(in_channels, H, W)`` float32 in [0, 1] (8-bit values / 255, 16-bit / 65535).

    Channels: an image with ``in_channels`` bands is taken as it is; a model of 3 channels takes
    grey images (replicated) and drops an alpha band; a model of 1 channel drops the alpha band
    of grey+alpha. Anything else (colour for a grey model, RGB for a 4-channel one) is refused.
    """
    import torch

    try:
        with image_lib.open(path) as opened:
            opened.load()
            image = opened
    except (OSError, ValueError) as exc:  # missing, not an image, truncated
        raise BadImage(f"cannot read it as an image: {exc}") from exc
    if image.mode.startswith("I;16") or image.mode == "I":
        values = torch.frombuffer(bytearray(image.convert("I").tobytes()), dtype=torch.int32)
        pixels, bands, mode = values.view(1, image.height, image.width).float().div_(65535.0), 1, f"{image.mode} (16-bit grey)"
    else:
        if image.mode in ("P", "PA"):
            converted = image.convert("RGBA" if image.mode == "PA" or "transparency" in image.info else "RGB")
        else:
            converted = image.convert(_CONVERT[image.mode]) if image.mode in _CONVERT else image
        if converted.mode not in _BANDS:
            raise BadImage(f"Pillow mode {image.mode!r} is not supported; save it as 8- or 16-bit grey, RGB or RGBA")
        bands, mode = _BANDS[converted.mode], converted.mode
        raw = torch.frombuffer(bytearray(converted.tobytes()), dtype=torch.uint8)
        pixels = raw.view(image.height, image.width, bands).permute(2, 0, 1).float().div_(255.0)
    return _fit_channels(pixels, bands, mode, in_channels)


def _fit_channels(pixels: torch.Tensor, bands: int, mode: str, in_channels: int) -> torch.Tensor:
    if bands == in_channels:
        return pixels.contiguous()
    colour = pixels[:3] if bands >= 3 else pixels[:1]  # alpha (band 2 of LA, band 4 of RGBA) dropped
    if in_channels == colour.shape[0]:
        return colour.contiguous()
    if in_channels == 3 and colour.shape[0] == 1:
        return colour.expand(3, -1, -1).contiguous()
    hint = "convert it to grey first" if in_channels == 1 else f"the model needs {in_channels}-band images"
    raise BadImage(f"the image has {bands} channel{'s' if bands > 1 else ''} ({mode}) but the model takes {in_channels}; {hint}")


def normalise(pixels: torch.Tensor, preprocessing: dict[str, Any] | None) -> torch.Tensor:
    """Scale ``pixels`` (in [0, 1]) as the encoder's pretrained weights expect: channel order
    ``input_space``, then range ``input_range``, then ``(x - mean) / std``, mean and std taken
    cyclically when the model has other than 3 channels. Without preprocessing: unchanged."""
    if not preprocessing:
        return pixels
    if preprocessing.get("input_space", "RGB") == "BGR" and pixels.shape[0] == 3:
        pixels = pixels.flip(0)
    low, high = preprocessing.get("input_range", (0.0, 1.0))
    channels = pixels.shape[0]
    mean = [float(preprocessing["mean"][i % len(preprocessing["mean"])]) for i in range(channels)]
    std = [float(preprocessing["std"][i % len(preprocessing["std"])]) for i in range(channels)]
    pixels = pixels * (high - low) + low
    return (pixels - pixels.new_tensor(mean).view(-1, 1, 1)) / pixels.new_tensor(std).view(-1, 1, 1)


def class_indices(output: torch.Tensor, activation: Any) -> torch.Tensor:
    """``(H, W)`` class per pixel from the blended ``(K, H, W)`` output: for one class, 1 where
    the probability (sigmoid of a logit, or the output of a sigmoid activation) is above 0.5;
    for several, the argmax over classes (multilabel models too: the strongest label wins)."""
    import torch

    if output.shape[0] > 1:
        return output.argmax(0)
    if activation in (None, "identity"):
        return (torch.sigmoid(output[0]) > 0.5).long()
    if activation == "sigmoid":
        return (output[0] > 0.5).long()
    raise SeghubError(
        f"a one-class model with segmentation_head.activation {activation!r} cannot be thresholded; "
        "use null (logits) or 'sigmoid'"
    )


def write_mask(image_lib: Any, classes: torch.Tensor, path: Path) -> None:
    """An 8-bit grey PNG of class indices (16-bit beyond 256 classes)."""
    import torch

    height, width = classes.shape
    if int(classes.max()) < 256:
        image = image_lib.frombytes("L", (width, height), _bytes(classes.to(torch.uint8)))
    else:
        image = image_lib.frombytes("I;16", (width, height), _bytes(classes.to(torch.uint16)))
    image.save(path, format="PNG")


def write_overlay(image_lib: Any, pixels: torch.Tensor, classes: torch.Tensor, path: Path) -> None:
    """The image (``pixels`` as read: its first three bands, or its first band as grey) with each
    non-background pixel blended half-and-half with its class colour, as an RGB PNG."""
    import torch

    height, width = classes.shape
    base = pixels[:3] if pixels.shape[0] >= 3 else pixels[:1].expand(3, -1, -1)
    base = base.permute(1, 2, 0).mul(255.0).round_()
    palette = torch.tensor(((0, 0, 0), *PALETTE), dtype=torch.float32)
    index = torch.where(classes > 0, (classes - 1) % len(PALETTE) + 1, 0)
    tinted = (base + palette[index]).div_(2).round_()
    blended = torch.where((classes > 0).unsqueeze(-1), tinted, base).to(torch.uint8)
    image_lib.frombytes("RGB", (width, height), _bytes(blended)).save(path, format="PNG")


def _bytes(tensor: torch.Tensor) -> bytes:
    import torch

    # a fresh contiguous copy owns exactly its elements, so its storage is the raw pixel bytes
    return bytes(tensor.clone(memory_format=torch.contiguous_format).untyped_storage())
