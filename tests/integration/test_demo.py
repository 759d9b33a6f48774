"""``seghub demo``: synthetic shapes, the PNG grid, IoU, and the command end to end."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from seghub._cli import main
from seghub._demo import PALETTE, mean_iou, run_demo, write_grid
from seghub.data.shapes import shapes_batch

# default demo: 32 px images shown 4x, 4 rows of 3 cells with 4 px gaps
GRID_32 = (3 * 128 + 4 * 4, 4 * 128 + 5 * 4)


def read_png(path: Path) -> tuple[int, int, torch.Tensor]:
    """Open a PNG with Pillow, check it is 8-bit RGB; give width, height and the (H, W, 3) pixels."""
    with Image.open(path) as image:
        assert image.format == "PNG" and image.mode == "RGB"
        return image.width, image.height, torch.from_numpy(np.asarray(image).copy())


def test_grid_cells_hold_image_mask_and_prediction(tmp_path: Path) -> None:
    # one 2x2 image shown 64x: grey levels, a mask with classes 0..3, a prediction of all 1
    image = torch.tensor([[[-1.0, 0.0], [1.0, 0.5]]]).expand(3, 2, 2)
    mask = torch.tensor([[0, 1], [2, 3]])
    width, height = write_grid(tmp_path / "g.png", image[None], mask[None], torch.ones(1, 2, 2, dtype=torch.long))
    assert read_png(tmp_path / "g.png")[:2] == (width, height) == (3 * 128 + 16, 128 + 8)
    pixels = read_png(tmp_path / "g.png")[2]
    assert pixels[0, 0].tolist() == [255, 255, 255]  # the gap
    cell = lambda col, y, x: pixels[4 + y * 64 + 32, 4 + col * 132 + x * 64 + 32].tolist()  # noqa: E731
    assert cell(0, 0, 0) == [0, 0, 0] and cell(0, 1, 0) == [255, 255, 255]  # -1 black, 1 white
    assert cell(0, 0, 1) == [128] * 3 and cell(0, 1, 1) == [191] * 3      # (v + 1) * 127.5, rounded
    assert [cell(1, y, x) for y in (0, 1) for x in (0, 1)] == [list(c) for c in PALETTE[:4]]
    assert {tuple(cell(2, y, x)) for y in (0, 1) for x in (0, 1)} == {PALETTE[1]}


@pytest.mark.parametrize(("classes", "values"), [(4, {0, 1, 2, 3}), (3, {0, 1, 2}), (2, {0, 1}), (1, {0, 1}), (9, {0, 1, 2, 3})])
def test_shapes_masks_hold_the_classes_the_model_has(classes: int, values: set[int]) -> None:
    images, masks = shapes_batch(24, 32, classes, torch.Generator().manual_seed(0), channels=2)
    assert images.shape == (24, 2, 32, 32) and masks.shape == (24, 32, 32)
    assert set(masks.unique().tolist()) == values
    assert all(bool((m > 0).any()) for m in masks)  # every image has a shape
    foreground = images.mean(1)[masks > 0].mean()
    assert foreground > images.mean(1)[masks == 0].mean() + 0.5  # bright shapes, dark background
    again, _ = shapes_batch(24, 32, classes, torch.Generator().manual_seed(0), channels=2)
    assert torch.equal(images, again)


def test_mean_iou_pools_pixels_and_skips_absent_classes() -> None:
    # class 0: 1 of 2 pixels; class 1: 1 of 3; class 3 only predicted: 0; class 2 absent: skipped
    true = torch.tensor([[0, 0, 1, 1, 0]])
    pred = torch.tensor([[0, 1, 1, 3, 3]])
    iou, per_class = mean_iou(pred, true, 4)
    assert per_class == pytest.approx({0: 1 / 3, 1: 1 / 3, 3: 0.0})
    assert iou == pytest.approx((1 / 3 + 1 / 3 + 0.0) / 3)
    assert mean_iou(true, true, 4) == (1.0, {0: 1.0, 1: 1.0})


def test_mean_iou_is_the_dataset_metrics_miou() -> None:
    pytest.importorskip("torchmetrics")  # nox -s tests installs it
    from seghub.metrics import ConfusionMatrixMetric

    g = torch.Generator().manual_seed(0)
    true, pred = torch.randint(0, 3, (4, 16, 16), generator=g), torch.randint(0, 3, (4, 16, 16), generator=g)
    metric = ConfusionMatrixMetric(num_classes=4)  # class 3 absent
    for chunk in range(4):
        metric.update(pred[chunk:chunk + 1], true[chunk:chunk + 1])
    scores = metric.compute()
    iou, per_class = mean_iou(pred, true, 4)
    assert iou == float(scores["miou"]) and list(per_class.values()) == scores["iou"][:3].tolist()
    assert set(per_class) == {0, 1, 2}


def test_demo_command_writes_a_png_and_prints_the_iou(tmp_path: Path) -> None:
    out = tmp_path / "demo.png"
    done = subprocess.run(
        [sys.executable, "-m", "seghub", "demo", "--seconds", "2", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    assert read_png(out)[:2] == GRID_32
    assert str(out.resolve()) in done.stdout
    assert re.search(r"^mean IoU: [01]\.\d{3} on 64 held-out images", done.stdout, re.M)
    assert "training: 100%|" in done.stderr  # tqdm's bar, redrawn rarely off a terminal
    assert "mask colours: background dark grey, circle red, triangle green, square blue" in done.stdout


def test_fixed_steps_learn_well_above_chance(tmp_path: Path) -> None:
    # the default model and recipe on two classes (background, circles): 20 steps are plenty
    spec = tmp_path / "circles.json"
    spec.write_text(json.dumps({
        "encoder": {"name": "resnet18"},
        "decoder": {"name": "unet", "params": {"decoder_channels": [128, 64, 32, 16, 16]}},
        "segmentation_head": {"classes": 2},
    }))
    result = run_demo(spec, steps=20, batch=8, out=tmp_path / "d.png", progress=None)
    assert result.steps == 20
    assert set(result.class_iou) == {"background", "circle"}
    assert result.background_iou < 0.45  # what predicting background everywhere scores
    assert result.iou > 0.6 and result.class_iou["circle"] > 0.4


def test_fixed_steps_are_reproducible(tmp_path: Path) -> None:
    first = run_demo(steps=2, batch=2, out=tmp_path / "a.png", progress=None)
    second = run_demo(steps=2, batch=2, out=tmp_path / "b.png", progress=None)
    assert first.loss == pytest.approx(second.loss, rel=1e-4)
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_user_spec_binary_single_channel(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({
        "encoder": {"name": "resnet18", "in_channels": 1, "depth": 4},
        "decoder": {"name": "fpn"},
        "segmentation_head": {"classes": 1, "activation": "sigmoid"},  # the demo trains logits
        "classification_head": {"classes": 2},                         # and leaves this out
    }))
    out = tmp_path / "new" / "binary.png"  # folders are made
    code = main(["demo", "--spec", str(spec), "--steps", "2", "--batch", "2", "--size", "48", "--out", str(out)])
    assert code == 0
    printed = capsys.readouterr().out
    assert "fpn/resnet18, binary mask" in printed and "shape" in printed
    cell = 48 * 2  # 48 px shown 2x
    assert read_png(out)[:2] == (3 * cell + 16, 4 * cell + 20)


def test_bad_options_exit_with_code_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--size", "40", "--steps", "1"]) == 2
    assert "divisible by 32" in capsys.readouterr().err
    for argv in (["demo", "--steps", "0"], ["demo", "--steps", "2", "--seconds", "1"]):
        with pytest.raises(SystemExit) as stop:
            main(argv)
        assert stop.value.code == 2
