"""Images and masks read with Pillow: every mode, hand-made pixels, and the refusals."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
import torch
from PIL import Image

from seghub_lightning.images import read_image, read_mask

PIXELS = [[0, 51, 255], [128, 7, 200]]  # 2 x 3


def grey(mode: str = "L", values: list[list[int]] = PIXELS) -> Image.Image:
    picture = Image.new(mode, (3, 2))
    picture.putdata([v for row in values for v in row])
    return picture


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_grey_8_bit_is_scaled_to_unit_range(tmp_path: Path, suffix: str) -> None:
    path = tmp_path / f"a{suffix}"
    grey().save(path)
    assert torch.equal(read_image(path), torch.tensor([PIXELS], dtype=torch.float32) / 255)


def test_rgb_and_rgba_keep_their_channels_in_order(tmp_path: Path) -> None:
    rgba = Image.new("RGBA", (2, 1))
    rgba.putdata([(255, 0, 51, 102), (0, 255, 0, 255)])
    rgba.save(tmp_path / "a.png")
    rgba.convert("RGB").save(tmp_path / "b.png")
    expected = torch.tensor([[[255, 0]], [[0, 255]], [[51, 0]], [[102, 255]]], dtype=torch.float32) / 255
    assert torch.equal(read_image(tmp_path / "a.png"), expected)
    assert torch.equal(read_image(tmp_path / "b.png"), expected[:3])


def test_grey_with_alpha_has_two_channels(tmp_path: Path) -> None:
    picture = Image.new("LA", (1, 1), (10, 255))
    picture.save(tmp_path / "a.png")
    assert torch.equal(read_image(tmp_path / "a.png"), torch.tensor([[[10.0]], [[255.0]]]) / 255)


def test_16_bit_png_is_scaled_by_65535(tmp_path: Path) -> None:
    values = [[0, 1000, 65535], [32768, 7, 40000]]
    grey("I;16", values).save(tmp_path / "a.png")
    assert torch.equal(read_image(tmp_path / "a.png"), torch.tensor([values], dtype=torch.float32) / 65535)


def test_float_tiff_keeps_its_values(tmp_path: Path) -> None:
    picture = Image.new("F", (2, 1))
    picture.putdata([-1.5, 1000.25])
    picture.save(tmp_path / "a.tif")
    assert torch.equal(read_image(tmp_path / "a.tif"), torch.tensor([[[-1.5, 1000.25]]]))


def test_palette_image_is_read_as_its_colours(tmp_path: Path) -> None:
    picture = Image.new("P", (2, 1))
    picture.putpalette([0, 0, 0, 255, 128, 0] + [0] * 762)
    picture.putdata([1, 0])
    picture.save(tmp_path / "a.png")
    assert torch.equal(read_image(tmp_path / "a.png"), torch.tensor([[[255, 0]], [[128, 0]], [[0, 0]]]) / 255.0)


def test_jpeg_is_decoded_by_pillow(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), (200, 100, 50)).save(tmp_path / "a.jpg", quality=95)
    image = read_image(tmp_path / "a.jpg")
    assert image.shape == (3, 8, 8)
    assert torch.allclose(image.mean((1, 2)), torch.tensor([200, 100, 50]) / 255, atol=3 / 255)


def test_multi_page_tiff_gives_one_channel_per_page(tmp_path: Path) -> None:
    pages = [grey(values=[[c * 10 + i for i in range(3)], [c, c, c]]) for c in range(5)]
    pages[0].save(tmp_path / "a.tif", save_all=True, append_images=pages[1:])
    expected = torch.tensor([[[c * 10 + i for i in range(3)], [c, c, c]] for c in range(5)], dtype=torch.float32) / 255
    assert torch.equal(read_image(tmp_path / "a.tif"), expected)


def test_multi_page_tiff_with_a_colour_page_is_refused(tmp_path: Path) -> None:
    grey().save(tmp_path / "a.tif", save_all=True, append_images=[Image.new("RGB", (3, 2))])
    with pytest.raises(ValueError, match=r"a\.tif.*one channel per page.*page 1"):
        read_image(tmp_path / "a.tif")


def _interleaved_tiff(path: Path, samples: int) -> None:
    """A 1x1 uncompressed RGB TIFF with ``samples - 3`` extra samples per pixel (4 or 5 samples:
    the extra-samples list fits in its entry)."""
    bits_offset = 8 + 2 + 11 * 12 + 4  # after the header and the one directory
    data_offset = bits_offset + 2 * samples
    extra = struct.pack("<HH", 0, 0)  # ExtraSamples: unspecified, inline
    entries = [  # (tag, type: 3 SHORT / 4 LONG, count, the 4 value bytes)
        (256, 3, 1, struct.pack("<HH", 1, 0)), (257, 3, 1, struct.pack("<HH", 1, 0)),
        (258, 3, samples, struct.pack("<I", bits_offset)), (259, 3, 1, struct.pack("<HH", 1, 0)),
        (262, 3, 1, struct.pack("<HH", 2, 0)), (273, 4, 1, struct.pack("<I", data_offset)),
        (277, 3, 1, struct.pack("<HH", samples, 0)), (278, 3, 1, struct.pack("<HH", 1, 0)),
        (279, 4, 1, struct.pack("<I", samples)), (284, 3, 1, struct.pack("<HH", 1, 0)),
        (338, 3, samples - 3, extra),
    ]
    directory = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHI", t, k, c) + v for t, k, c, v in entries)
    body = b"II*\x00" + struct.pack("<I", 8) + directory + struct.pack("<I", 0)
    body += struct.pack(f"<{samples}H", *([8] * samples))
    path.write_bytes(body + bytes(range(10, 10 + samples)))


def test_interleaved_tiff_with_more_samples_than_pillow_reads_is_refused(tmp_path: Path) -> None:
    _interleaved_tiff(tmp_path / "a.tif", 5)
    with Image.open(tmp_path / "a.tif") as picture:  # what the check guards against
        assert picture.mode == "RGB"
    with pytest.raises(ValueError, match=r"a\.tif.*5 interleaved samples.*reads only 3.*multi-page"):
        read_image(tmp_path / "a.tif")


@pytest.mark.parametrize("mode", ["L", "I;16"])
def test_mask_values_are_the_class_indices(tmp_path: Path, mode: str) -> None:
    values = [[0, 1, 2], [3, 255, 0]] if mode == "L" else [[0, 1, 300], [3, 65535, 0]]
    grey(mode, values).save(tmp_path / "m.png")
    mask = read_mask(tmp_path / "m.png")
    assert mask.dtype == torch.int64 and torch.equal(mask, torch.tensor(values))


def test_palette_mask_gives_indices_not_colours(tmp_path: Path) -> None:
    picture = Image.new("P", (3, 1))
    picture.putpalette([0, 0, 0, 128, 0, 0, 0, 128, 0] + [0] * 759)
    picture.putdata([2, 0, 1])
    picture.save(tmp_path / "m.png")
    assert torch.equal(read_mask(tmp_path / "m.png"), torch.tensor([[2, 0, 1]]))


def test_one_bit_mask_is_zero_and_one(tmp_path: Path) -> None:
    grey("1", [[0, 1, 1], [1, 0, 0]]).save(tmp_path / "m.png")
    assert torch.equal(read_mask(tmp_path / "m.png"), torch.tensor([[0, 1, 1], [1, 0, 0]]))


def test_colour_mask_is_refused_naming_the_file(tmp_path: Path) -> None:
    Image.new("RGB", (3, 2)).save(tmp_path / "m.png")
    with pytest.raises(ValueError, match=r"m\.png.*RGB image.*single-channel PNGs of class indices"):
        read_mask(tmp_path / "m.png")
