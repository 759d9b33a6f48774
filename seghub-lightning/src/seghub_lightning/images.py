"""Reading images and class-index masks into tensors with Pillow.

Images: PNG, JPEG or TIFF of any Pillow mode: 1 (grey), 2 (grey + alpha), 3 (RGB), 4 (RGBA,
CMYK) channels of 8 or 16 bits, or 32-bit integer or float; a multi-page TIFF gives one channel
per page, for any channel count. 8- and 16-bit values are scaled to [0, 1]; 32-bit integer
and float values are kept as they are. Masks: single-channel PNGs whose values are the class
indices (modes 1, L, P, I;16).
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageSequence

__all__ = ["IMAGE_SUFFIXES", "MASK_SUFFIXES", "read_image", "read_mask"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
MASK_SUFFIXES = (".png",)
_EIGHT_BIT = {"L", "LA", "RGB", "RGBA", "CMYK", "RGBX", "YCbCr", "LAB", "HSV"}
_SIXTEEN_BIT = {"I;16", "I;16L", "I;16B", "I;16N"}
_SAMPLES_PER_PIXEL = 277  # the TIFF tag


def _pixels(picture: Image.Image, path: Path) -> torch.Tensor:
    """``(C, H, W)`` float32 from one Pillow image; 8/16-bit scaled to [0, 1]."""
    if picture.mode == "1":
        picture = picture.convert("L")
    elif picture.mode in ("P", "PA"):  # palette colours, as the picture shows them
        picture = picture.convert("RGBA" if picture.mode == "PA" or "transparency" in picture.info else "RGB")
    width, height = picture.size
    if picture.mode in _EIGHT_BIT:
        data = torch.frombuffer(bytearray(picture.tobytes()), dtype=torch.uint8)
        return data.reshape(height, width, len(picture.getbands())).permute(2, 0, 1).float() / 255
    if picture.mode in _SIXTEEN_BIT:
        return _wide(picture.convert("I"), height, width).float()[None] / 65535
    if picture.mode in ("I", "F"):
        return _wide(picture, height, width).float()[None]
    raise ValueError(f"image {str(path)!r}: Pillow mode {picture.mode!r} is not supported; save it as grey, RGB(A) or a TIFF of 8/16/32-bit bands")


def _wide(picture: Image.Image, height: int, width: int) -> torch.Tensor:
    """A 32-bit single-band picture (modes I and F) as an ``(H, W)`` tensor."""
    dtype = torch.int32 if picture.mode == "I" else torch.float32
    return torch.frombuffer(bytearray(picture.tobytes()), dtype=dtype).reshape(height, width)


def read_image(path: str | Path) -> torch.Tensor:
    """The image at ``path`` as ``(C, H, W)`` float32."""
    path = Path(path)
    with Image.open(path) as picture:
        pages = getattr(picture, "n_frames", 1)
        if picture.format == "TIFF" and pages > 1:
            bands = []
            for page in ImageSequence.Iterator(picture):
                band = _pixels(page, path)
                if band.shape[0] != 1 or (bands and band.shape != bands[0].shape):
                    raise ValueError(
                        f"image {str(path)!r}: a multi-page TIFF is read as one channel per page, so every "
                        f"page must be one band of one size; page {len(bands)} is {tuple(band.shape)} (C, H, W)"
                    )
                bands.append(band)
            return torch.cat(bands)
        samples = picture.tag_v2.get(_SAMPLES_PER_PIXEL, 1) if picture.format == "TIFF" else None
        if samples is not None and samples > len(picture.getbands()):
            # Pillow would drop the extra samples of an interleaved TIFF without a word
            raise ValueError(
                f"image {str(path)!r}: a TIFF with {samples} interleaved samples per pixel; Pillow reads only "
                f"{len(picture.getbands())} of them. Save one band per page (a multi-page TIFF) instead"
            )
        return _pixels(picture, path)


def read_mask(path: str | Path) -> torch.Tensor:
    """The class-index mask at ``path`` as ``(H, W)`` int64."""
    path = Path(path)
    with Image.open(path) as picture:
        if picture.mode == "1":
            picture = picture.convert("L").point(lambda value: value // 255)
        if picture.mode in ("L", "P"):  # a palette PNG's indices are the classes (as in Pascal VOC)
            width, height = picture.size
            return torch.frombuffer(bytearray(picture.tobytes()), dtype=torch.uint8).reshape(height, width).long()
        if picture.mode in _SIXTEEN_BIT or picture.mode == "I":
            width, height = picture.size
            return _wide(picture.convert("I"), height, width).long()
        raise ValueError(
            f"mask {str(path)!r} is a {picture.mode} image; masks must be single-channel PNGs of class "
            "indices (Pillow modes 1, L, P or I;16), not colour-coded"
        )
