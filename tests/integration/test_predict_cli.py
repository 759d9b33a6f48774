"""``seghub predict``: masks equal to the Python API's, channel rules, normalisation, overlays,
bad files (one message each, the others still predicted, exit 2), and the console script."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import seghub
from seghub._cli import main
from seghub._predict_cli import PALETTE
from seghub.inference import sliding_window, tta

pytestmark = pytest.mark.usefixtures("one_thread")

WINDOW = ["--window", "32", "--no-progress"]


def _save(folder: Path, *, classes: int, in_channels: int = 3, weights: str | None = None, activation: str | None = None) -> Path:
    torch.manual_seed(classes + in_channels)
    model = seghub.build_model({
        "encoder": {"name": "resnet18", "weights": None, "depth": 3, "in_channels": in_channels},
        "decoder": {"name": "unet", "params": {"decoder_channels": [16, 8, 8]}},
        "segmentation_head": {"classes": classes, "activation": activation},
    })
    if activation is None:  # an untrained head picks one class nearly everywhere: centre each class's logits
        with torch.no_grad():
            head = model.segmentation_head[0]
            head.bias.zero_()
            probe = model.eval()(torch.rand(1, in_channels, 32, 32, generator=torch.Generator().manual_seed(0)))
            head.bias.copy_(-probe.flatten(2).median(-1).values[0])
    if weights is not None:  # as if trained from these weights: the spec records the tag
        model.spec = model.spec.model_copy(update={"encoder": model.spec.encoder.model_copy(update={"weights": weights})})
    return model.save_pretrained(folder)


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    return {
        "multiclass": _save(root / "multiclass", classes=3),
        "binary": _save(root / "binary", classes=1),
        "grey": _save(root / "grey", classes=2, in_channels=1),
        "imagenet": _save(root / "imagenet", classes=3, weights="imagenet"),
    }


def _pixels(height: int, width: int, bands: int, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (height, width, bands), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def _write(path: Path, pixels: torch.Tensor, mode: str) -> Path:
    height, width = pixels.shape[:2]
    Image.frombytes(mode, (width, height), bytes(pixels.flatten().tolist())).save(path)
    return path


def _read(path: Path) -> torch.Tensor:
    with Image.open(path) as image:
        assert image.mode in ("L", "RGB")
        data = torch.tensor(list(image.tobytes()), dtype=torch.uint8)
        return data.view(image.height, image.width, -1).squeeze(-1)


def _expected(folder: Path, x: torch.Tensor, *, augment: str | None = None) -> torch.Tensor:
    model = seghub.from_pretrained(folder).eval()
    output = sliding_window(tta(model, augment) if augment else model, x, window=32)
    return output.argmax(0) if output.shape[0] > 1 else (torch.sigmoid(output[0]) > 0.5).long()


def _as_input(pixels: torch.Tensor) -> torch.Tensor:
    return pixels.permute(2, 0, 1).float() / 255


def test_masks_equal_the_python_api_for_rgb_grey_and_rgba(models, tmp_path, capsys):
    rgb, grey, rgba = _pixels(37, 50, 3, 1), _pixels(20, 70, 1, 2), _pixels(33, 33, 4, 3)
    files = [_write(tmp_path / "rgb.png", rgb, "RGB"), _write(tmp_path / "grey.png", grey, "L"), _write(tmp_path / "rgba.png", rgba, "RGBA")]
    assert main(["predict", str(models["multiclass"]), *map(str, files), "--out", str(tmp_path / "out"), *WINDOW]) == 0
    inputs = {"rgb": _as_input(rgb), "grey": _as_input(grey).expand(3, -1, -1), "rgba": _as_input(rgba[..., :3])}
    for stem, x in inputs.items():
        mask = _read(tmp_path / "out" / f"{stem}.png")
        assert mask.shape == x.shape[-2:]
        assert torch.equal(mask.long(), _expected(models["multiclass"], x))
    out = capsys.readouterr().out
    assert f"{files[0]} -> {tmp_path / 'out' / 'rgb.png'}" in out


def test_binary_masks_are_0_and_1(models, tmp_path):
    image = _write(tmp_path / "b.png", _pixels(40, 45, 3), "RGB")
    assert main(["predict", str(models["binary"]), str(image), "--out", str(tmp_path), *WINDOW]) == 0
    mask = _read(tmp_path / "b.png")
    expected = _expected(models["binary"], _as_input(_pixels(40, 45, 3)))
    assert torch.equal(mask.long(), expected) and set(mask.unique().tolist()) <= {0, 1}
    assert 0 < int(expected.sum()) < expected.numel()  # both classes occur: the threshold was tested


def test_inputs_are_normalised_as_the_weights_expect(models, tmp_path):
    pixels = _pixels(32, 40, 3, 5)
    image = _write(tmp_path / "n.png", pixels, "RGB")
    assert main(["predict", str(models["imagenet"]), str(image), "--out", str(tmp_path), *WINDOW]) == 0
    prep = seghub.preprocessing_params("resnet18", "imagenet")
    mean, std = torch.tensor(prep["mean"]).view(3, 1, 1), torch.tensor(prep["std"]).view(3, 1, 1)
    normalised = (_as_input(pixels) - mean) / std
    assert torch.equal(_read(tmp_path / "n.png").long(), _expected(models["imagenet"], normalised))
    assert not torch.equal(_expected(models["imagenet"], normalised), _expected(models["imagenet"], _as_input(pixels)))


def test_tta_and_16_bit_grey(models, tmp_path):
    values = torch.randint(0, 65536, (24, 30), generator=torch.Generator().manual_seed(7))
    Image.frombytes("I;16", (30, 24), b"".join(int(v).to_bytes(2, "little") for v in values.flatten())).save(tmp_path / "deep.png")
    assert main(["predict", str(models["multiclass"]), str(tmp_path / "deep.png"), "--out", str(tmp_path / "o"), "--tta", "d4", *WINDOW]) == 0
    x = (values.float() / 65535).expand(3, -1, -1)
    assert torch.equal(_read(tmp_path / "o" / "deep.png").long(), _expected(models["multiclass"], x, augment="d4"))


def test_overlay_tints_every_class_but_the_background(models, tmp_path):
    pixels = _pixels(40, 40, 3, 9)
    image = _write(tmp_path / "v.png", pixels, "RGB")
    assert main(["predict", str(models["multiclass"]), str(image), "--out", str(tmp_path / "o"), "--overlay", *WINDOW]) == 0
    mask, overlay = _read(tmp_path / "o" / "v.png").long(), _read(tmp_path / "o" / "v_overlay.png")
    assert overlay.shape == (40, 40, 3) and set(mask.unique().tolist()) == {0, 1, 2}
    background = mask == 0
    assert torch.equal(overlay[background], pixels[background])
    for k in (1, 2):
        expected = ((pixels[mask == k].float() + torch.tensor(PALETTE[k - 1])) / 2).round()
        assert torch.equal(overlay[mask == k].float(), expected)


def test_bad_files_are_reported_and_the_others_predicted(models, tmp_path, capsys):
    good = _write(tmp_path / "good.png", _pixels(30, 30, 1), "L")
    with_alpha = _write(tmp_path / "alpha.png", _pixels(30, 30, 2), "LA")
    colour = _write(tmp_path / "colour.png", _pixels(30, 30, 3), "RGB")
    (tmp_path / "text.png").write_text("not an image")
    truncated = tmp_path / "cut.png"
    truncated.write_bytes(good.read_bytes()[:60])
    (tmp_path / "again").mkdir()
    again = _write(tmp_path / "again" / "good.png", _pixels(30, 30, 1), "L")
    paths = [good, colour, tmp_path / "text.png", tmp_path / "missing.png", truncated, again, with_alpha]
    code = main(["predict", str(models["grey"]), *map(str, paths), "--out", str(tmp_path / "out"), *WINDOW])
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[0] == f"seghub: error: {colour}: the image has 3 channels (RGB) but the model takes 1; convert it to grey first"
    assert err[1].startswith(f"seghub: error: {tmp_path / 'text.png'}: cannot read it as an image")
    assert err[2].startswith(f"seghub: error: {tmp_path / 'missing.png'}: cannot read it as an image")
    assert err[3].startswith(f"seghub: error: {truncated}: cannot read it as an image")
    assert err[4] == f"seghub: error: {again}: its output good.png would overwrite that of {good}; rename one"
    assert len(err) == 5
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["alpha.png", "good.png"]
    assert torch.equal(_read(tmp_path / "out" / "good.png").long(), _expected(models["grey"], _as_input(_pixels(30, 30, 1))))


def test_an_overlay_name_taken_by_another_mask_is_reported(models, tmp_path, capsys):
    first = _write(tmp_path / "x.png", _pixels(16, 16, 3), "RGB")
    second = _write(tmp_path / "x_overlay.png", _pixels(16, 16, 3), "RGB")
    limit = Image.MAX_IMAGE_PIXELS
    assert main(["predict", str(models["binary"]), str(first), str(second), "--out", str(tmp_path / "o"), "--overlay", *WINDOW]) == 2
    assert capsys.readouterr().err.strip() == (
        f"seghub: error: {second}: its output x_overlay.png would overwrite that of {first}; rename one"
    )
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x.png", "x_overlay.png"]
    assert Image.MAX_IMAGE_PIXELS == limit  # lifted for the command only


def test_a_bad_device_is_one_message(models, tmp_path, capsys):
    image = _write(tmp_path / "i.png", _pixels(16, 16, 3), "RGB")
    assert main(["predict", str(models["binary"]), str(image), "--out", str(tmp_path), "--device", "nope", *WINDOW]) == 2
    assert "seghub: error: --device 'nope' is not a device" in capsys.readouterr().err


def test_a_model_that_outputs_class_indices_is_refused(tmp_path, capsys):
    folder = _save(tmp_path / "argmax", classes=3, activation="argmax")
    image = _write(tmp_path / "i.png", _pixels(16, 16, 3), "RGB")
    assert main(["predict", str(folder), str(image), "--out", str(tmp_path), *WINDOW]) == 2
    assert "activation is 'argmax': class indices cannot be blended" in capsys.readouterr().err


def test_console_script_shows_progress(models, tmp_path):
    image = _write(tmp_path / "p.png", _pixels(40, 40, 3), "RGB")
    command = [sys.executable, "-m", "seghub", "predict", str(models["binary"]), str(image), "--out", str(tmp_path / "o"),
               "--window", "32", "--device", "cpu", "--blend", "gaussian"]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert "p.png: 100%" in result.stderr and "4/4" in result.stderr  # one bar, labelled with the image, over 2 x 2 windows
    assert (tmp_path / "o" / "p.png").is_file()
