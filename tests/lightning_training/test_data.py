"""FolderDataModule (pairing, splits, checks, augmentation), ShapesDataModule and MaskWriter."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from PIL import Image

from seghub_lightning import FolderDataModule, MaskWriter, SegmentationTask, ShapesDataModule
from seghub_lightning.images import read_mask


def write_pair(root: Path, name: str, mask: list[list[int]], *, suffix: str = ".png", image_size: tuple[int, int] | None = None) -> None:
    height, width = len(mask), len(mask[0])
    (root / "images").mkdir(exist_ok=True)
    (root / "masks").mkdir(exist_ok=True)
    w, h = image_size or (width, height)
    picture = Image.new("RGB", (w, h))
    picture.putdata([(10 * i % 256, 20, 30) for i in range(w * h)])
    picture.save(root / "images" / f"{name}{suffix}")
    label = Image.new("L", (width, height))
    label.putdata([v for row in mask for v in row])
    label.save(root / "masks" / f"{name}.png")


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for index in range(10):
        write_pair(tmp_path, f"img{index:02d}", [[0, 1, 2, 3], [index % 4, 0, 0, 0]], suffix=".tif" if index % 3 else ".png")
    return tmp_path


def module(root: Path, **options: object) -> FolderDataModule:
    return FolderDataModule(images=root / "images", masks=root / "masks", **options)  # type: ignore[arg-type]


def test_batches_hold_images_masks_and_names(folder: Path) -> None:
    data = module(folder, classes=4, val_fraction=0.2, batch_size=4)
    data.setup("fit")
    batch = next(iter(data.val_dataloader()))
    assert batch["image"].shape == (2, 3, 2, 4) and batch["image"].dtype == torch.float32
    assert batch["mask"].shape == (2, 2, 4) and batch["mask"].dtype == torch.int64
    assert batch["name"] == data.splits["val"]
    assert torch.equal(batch["mask"][:, 0], torch.tensor([[0, 1, 2, 3]] * 2))


def test_random_split_is_seeded_disjoint_and_complete(folder: Path) -> None:
    splits = []
    for seed in (0, 0, 1):
        data = module(folder, val_fraction=0.2, test_fraction=0.3, seed=seed)
        data.setup()
        splits.append(data.splits)
    assert splits[0] == splits[1] != splits[2]
    counts = {name: len(names) for name, names in splits[0].items()}
    assert counts == {"train": 5, "val": 2, "test": 3}
    assert sorted(sum(splits[0].values(), [])) == [f"img{i:02d}" for i in range(10)]


def test_split_files_name_the_images_with_or_without_suffix(folder: Path) -> None:
    (folder / "train.txt").write_text("# training images\nimg00\nimg01.tif\n\nimg02\n")
    (folder / "val.txt").write_text("img05  # held out\n")
    data = module(folder, train_split=folder / "train.txt", val_split=folder / "val.txt")
    data.setup()
    assert data.splits == {"train": ["img00", "img01", "img02"], "val": ["img05"], "test": []}
    assert data.test_dataloader() == []  # no test split: Lightning skips the loop


def test_split_file_naming_an_unknown_image_names_file_and_line(folder: Path) -> None:
    (folder / "train.txt").write_text("img00\nnope\n")
    with pytest.raises(ValueError, match=r"train\.txt', line 2: no image named 'nope'"):
        module(folder, train_split=folder / "train.txt").setup()


def test_val_split_without_train_split_is_refused(folder: Path) -> None:
    with pytest.raises(ValueError, match="give train_split too"):
        module(folder, val_split=folder / "val.txt")


def test_image_without_mask_is_named(folder: Path) -> None:
    (folder / "masks" / "img04.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"no mask for image '.*img04\.tif'"):
        module(folder).setup()


def test_mask_without_image_is_named(folder: Path) -> None:
    (folder / "images" / "img00.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"no image for mask '.*img00\.png'"):
        module(folder).setup()


def test_two_images_of_one_name_are_refused(folder: Path) -> None:
    Image.new("RGB", (4, 2)).save(folder / "images" / "img00.jpg")
    with pytest.raises(ValueError, match=r"share the name 'img00'"):
        module(folder).setup()


def test_mask_of_another_size_names_both_files(tmp_path: Path) -> None:
    write_pair(tmp_path, "a", [[0, 1], [1, 0]], image_size=(3, 2))
    data = module(tmp_path, val_fraction=0.0)
    with pytest.raises(ValueError, match=r"mask '.*a\.png' is 2x2 \(W x H\) but its image '.*a\.png' is 3x2"):
        data.dataset("train")[0]


@pytest.mark.parametrize(("mode", "classes", "value"), [("multiclass", 4, 4), ("multiclass", 2, 255), ("binary", 1, 2)])
def test_class_values_out_of_range_name_the_mask(tmp_path: Path, mode: str, classes: int, value: int) -> None:
    write_pair(tmp_path, "a", [[0, 1], [value, 0]])
    data = module(tmp_path, mode=mode, classes=classes, val_fraction=0.0)
    with pytest.raises(ValueError, match=rf"mask '.*a\.png' holds class values \[{value}\] outside 0\.\.{1 if mode == 'binary' else classes - 1}; set ignore_index={value}"):
        data.dataset("train")[0]


def test_ignore_index_is_allowed_outside_the_classes(tmp_path: Path) -> None:
    write_pair(tmp_path, "a", [[0, 1], [255, 0]])
    data = module(tmp_path, classes=2, ignore_index=255, val_fraction=0.0)
    assert torch.equal(data.dataset("train")[0]["mask"], torch.tensor([[0, 1], [255, 0]]))


def test_augmentation_changes_image_and_mask_together_in_training_only(folder: Path) -> None:
    def flip(image: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return image.flip(-1), mask.flip(-1)

    plain, augmented = module(folder, val_fraction=0.5), module(folder, val_fraction=0.5, augment=flip)
    for split in ("train", "val"):
        before, after = plain.dataset(split)[0], augmented.dataset(split)[0]
        flipped = split == "train"
        assert torch.equal(after["image"], before["image"].flip(-1) if flipped else before["image"])
        assert torch.equal(after["mask"], before["mask"].flip(-1) if flipped else before["mask"])


def test_mean_and_std_normalise_per_channel(folder: Path) -> None:
    plain = module(folder).dataset("train")[0]["image"]
    normalised = module(folder, mean=[0.5, 0.0, 0.1], std=[0.5, 2.0, 1.0]).dataset("train")[0]["image"]
    expected = (plain - torch.tensor([0.5, 0.0, 0.1])[:, None, None]) / torch.tensor([0.5, 2.0, 1.0])[:, None, None]
    assert torch.allclose(normalised, expected)


def test_predict_folder_gives_images_and_names(folder: Path) -> None:
    batch = next(iter(module(folder, predict_images=folder / "images", batch_size=3).predict_dataloader()))
    assert batch["name"] == ["img00", "img01", "img02"] and "mask" not in batch
    assert batch["image"].shape == (3, 3, 2, 4)


def test_multilabel_mode_is_refused_for_index_masks(folder: Path) -> None:
    with pytest.raises(ValueError, match="'binary' or 'multiclass'"):
        module(folder, mode="multilabel")


# -- synthetic shapes ----------------------------------------------------------------------


def shapes(**options: object) -> ShapesDataModule:
    data = ShapesDataModule(**{"size": 16, "train_size": 6, "val_size": 4, "test_size": 2, "predict_size": 2, **options})  # type: ignore[arg-type]
    data.setup()
    return data


def test_shapes_are_the_same_for_a_seed_and_differ_between_seeds() -> None:
    first, again, other = shapes(seed=3), shapes(seed=3), shapes(seed=4)
    for split in ("train", "val", "test", "predict"):
        assert torch.equal(first.datasets[split].images, again.datasets[split].images)
        assert torch.equal(first.datasets[split].masks, again.datasets[split].masks)
        assert not torch.equal(first.datasets[split].images, other.datasets[split].images)


def test_a_split_does_not_depend_on_the_other_splits_sizes() -> None:
    assert torch.equal(shapes(train_size=6).datasets["val"].images, shapes(train_size=20).datasets["val"].images)


def test_multilabel_shapes_are_the_multiclass_masks_one_hot_without_background() -> None:
    multiclass, multilabel = shapes(classes=4), shapes(classes=3, mode="multilabel")
    index = multiclass.datasets["train"].masks
    channels = multilabel.datasets["train"].masks
    assert channels.shape == (6, 3, 16, 16)
    assert torch.equal(multilabel.datasets["train"].images, multiclass.datasets["train"].images)
    for kind in range(1, 4):
        assert torch.equal(channels[:, kind - 1], (index == kind).long())


def test_binary_shapes_are_zero_and_one() -> None:
    masks = shapes(classes=1, mode="binary").datasets["train"].masks
    assert masks.shape == (6, 16, 16) and set(masks.unique().tolist()) == {0, 1}


def test_shapes_train_order_follows_the_seed() -> None:
    def order(seed: int) -> torch.Tensor:
        return torch.cat([batch["image"] for batch in shapes(seed=seed, batch_size=2).train_dataloader()])

    assert torch.equal(order(1), order(1))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"classes": 4, "mode": "binary"}, "classes must be 1"),
        ({"classes": 1, "mode": "multiclass"}, "needs classes >= 2"),
        ({"classes": 4, "mode": "multilabel"}, "1, 2 or 3"),
        ({"classes": 4, "mode": "semantic"}, "mode must be"),
    ],
)
def test_shapes_refuse_classes_that_do_not_fit_the_mode(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        ShapesDataModule(**options)  # type: ignore[arg-type]


# -- a folder end to end, and predicted masks written back ------------------------------------


def test_a_task_trains_on_a_folder_and_writes_its_predictions_named_like_the_images(
    tmp_path: Path, tiny_spec: Any, make_trainer: Any
) -> None:
    generator = torch.Generator().manual_seed(0)
    for index in range(6):
        write_pair(tmp_path, f"tile{index}", torch.randint(0, 3, (32, 32), generator=generator).tolist())
    data = module(tmp_path, classes=3, val_fraction=0.0, predict_images=tmp_path / "images", batch_size=4)
    task = SegmentationTask(spec=tiny_spec(classes=3))
    out = tmp_path / "predicted"
    trainer = make_trainer(max_steps=2, callbacks=[MaskWriter(out)])
    trainer.fit(task, data)
    predictions = torch.cat(trainer.predict(task, data))
    assert sorted(p.name for p in out.iterdir()) == [f"tile{i}.png" for i in range(6)]
    for index in range(6):
        assert torch.equal(read_mask(out / f"tile{index}.png"), predictions[index])


def test_mask_writer_writes_16_bit_classes_and_one_png_per_label(tmp_path: Path) -> None:
    writer = MaskWriter(tmp_path)
    many = torch.tensor([[[0, 300], [65535, 7]]])
    writer.write_on_batch_end(None, None, many, None, {"name": ["a"]}, 0, 0)  # type: ignore[arg-type]
    assert torch.equal(read_mask(tmp_path / "a.png"), many[0])
    labels = torch.tensor([[[[1, 0]], [[0, 1]]]])  # one image, two labels, 1 x 2 pixels
    writer.write_on_batch_end(None, None, labels, None, {"image": None}, 3, 0)  # type: ignore[arg-type]
    assert torch.equal(read_mask(tmp_path / "3-0-0.png"), labels[0, 0])
    assert torch.equal(read_mask(tmp_path / "3-0-1.png"), labels[0, 1])
