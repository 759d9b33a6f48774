"""SegmentationTask in one process: configs, modes, metrics, checkpoints and saving."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import seghub
import torch
from seghub.errors import SpecError
from seghub.metrics import ConfusionMatrixMetric

from seghub_lightning import SegmentationTask, ShapesDataModule

Spec = Callable[..., dict[str, Any]]


def shapes(**options: Any) -> ShapesDataModule:
    return ShapesDataModule(**{"size": 32, "train_size": 8, "val_size": 8, "test_size": 8, "predict_size": 4, "batch_size": 4, **options})


# -- construction -----------------------------------------------------------------------


def test_spec_or_model_exactly_one(tiny_spec: Spec) -> None:
    with pytest.raises(TypeError, match="exactly one of spec="):
        SegmentationTask()
    with pytest.raises(TypeError, match="exactly one of spec="):
        SegmentationTask(spec=tiny_spec(), model=seghub.build_model(tiny_spec()))


def test_a_spec_from_a_json_file_builds(tiny_spec: Spec, tmp_path: Path) -> None:
    import json

    (tmp_path / "spec.json").write_text(json.dumps(tiny_spec(classes=3)))
    assert SegmentationTask(spec=tmp_path / "spec.json").classes == 3


@pytest.mark.parametrize(
    ("head", "mode", "location"),
    [
        ({"activation": "softmax2d"}, "multiclass", "spec.segmentation_head.activation"),
        ({"classes": 4}, "binary", "spec.segmentation_head.classes"),
        ({"classes": 1}, "multiclass", "spec.segmentation_head.classes"),
    ],
)
def test_specs_the_task_would_train_wrongly_are_refused(tiny_spec: Spec, head: dict[str, Any], mode: str, location: str) -> None:
    spec = tiny_spec(**head)
    with pytest.raises(SpecError, match=location.replace(".", r"\.")):
        SegmentationTask(spec=spec, mode=mode)  # type: ignore[arg-type]


def test_spec_errors_are_located_from_the_task_argument(tiny_spec: Spec) -> None:
    spec = tiny_spec()
    spec["decoder"]["params"]["decoder_chanels"] = [8, 8, 8]
    with pytest.raises(SpecError) as caught:
        SegmentationTask(spec=spec)
    assert [issue.path for issue in caught.value.issues] == ["spec.decoder.params.decoder_chanels"]


def test_a_classification_head_is_refused(tiny_spec: Spec) -> None:
    spec = {**tiny_spec(), "classification_head": {"classes": 2}}
    with pytest.raises(SpecError, match=r"spec\.classification_head: SegmentationTask trains masks only"):
        SegmentationTask(spec=spec)


def test_unknown_mode_and_class_names_of_the_wrong_length(tiny_spec: Spec) -> None:
    with pytest.raises(ValueError, match="mode must be one of binary, multiclass, multilabel"):
        SegmentationTask(spec=tiny_spec(), mode="semantic")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="names 2 classes, the model has 4"):
        SegmentationTask(spec=tiny_spec(), class_names=["a", "b"])


@pytest.mark.parametrize(
    ("optimizer", "location", "message"),
    [
        ({"name": "AdamW", "params": {"lrr": 0.1}}, "optimizer.params.lrr", "AdamW takes no argument 'lrr'; it takes lr, "),
        ({"name": "Adamm"}, "optimizer.name", "cannot import 'Adamm'"),
        ({"name": "torch.nn.Linear"}, "optimizer.name", "not a subclass of torch.optim"),
        ({"name": "SGD", "params": {"params": []}}, "optimizer.params.params", "the task passes params itself"),
        ({"class_path": "SGD"}, "optimizer.class_path", "Extra inputs are not permitted"),
    ],
)
def test_optimizer_config_errors_are_located(tiny_spec: Spec, optimizer: dict[str, Any], location: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        SegmentationTask(spec=tiny_spec(), optimizer=optimizer)
    assert [issue.path for issue in caught.value.issues] == [location]
    assert message in str(caught.value)


def test_scheduler_config_errors_are_located(tiny_spec: Spec) -> None:
    with pytest.raises(SpecError) as caught:
        SegmentationTask(spec=tiny_spec(), lr_scheduler={"name": "StepLR", "params": {"step": 2}, "interval": "batch"})
    assert sorted(issue.path for issue in caught.value.issues) == ["lr_scheduler.interval", "lr_scheduler.params.step"]


def test_loss_config_errors_come_from_seghub_losses(tiny_spec: Spec) -> None:
    with pytest.raises(SpecError, match="unknown loss 'dise'") as caught:
        SegmentationTask(spec=tiny_spec(), loss=[{"name": "dice", "params": {"mode": "multiclass"}}, {"name": "dise"}])
    assert [issue.path for issue in caught.value.issues] == ["loss[1].name"]


# -- optimisation ---------------------------------------------------------------------------


def test_optimizer_and_step_scheduler_are_built_from_their_configs(tiny_spec: Spec, make_trainer: Callable[..., Any]) -> None:
    task = SegmentationTask(
        spec=tiny_spec(),
        optimizer={"name": "torch.optim.SGD", "params": {"lr": 0.5, "momentum": 0.9}},
        lr_scheduler={"name": "StepLR", "params": {"step_size": 2, "gamma": 0.1}, "interval": "step"},
    )
    trainer = make_trainer(max_steps=5, limit_val_batches=0)
    trainer.fit(task, shapes(train_size=20))
    (optimizer,) = trainer.optimizers
    assert isinstance(optimizer, torch.optim.SGD) and optimizer.defaults["momentum"] == 0.9
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5 * 0.1 ** (5 // 2))  # stepped every step


def test_a_frozen_encoder_is_left_out_of_the_optimizer(tiny_spec: Spec, make_trainer: Callable[..., Any]) -> None:
    model = seghub.build_model(tiny_spec()).freeze_encoder()
    encoder_before = {k: v.clone() for k, v in model.encoder.state_dict().items()}
    task = SegmentationTask(model=model)
    make_trainer(max_steps=2, limit_val_batches=0).fit(task, shapes())
    (optimizer,) = task.trainer.optimizers
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in model.decoder.parameters()} | {id(p) for p in model.segmentation_head.parameters()}
    assert all(torch.equal(v, model.encoder.state_dict()[k]) for k, v in encoder_before.items())


def test_gradients_are_freed_after_each_step_and_accumulation_still_sums_them(tiny_spec: Spec, make_trainer: Callable[..., Any]) -> None:
    torch.manual_seed(0)
    task = SegmentationTask(spec=tiny_spec(), optimizer={"name": "SGD", "params": {"lr": 0.1}})
    reference = seghub.build_model(tiny_spec())
    reference.load_state_dict(task.model.state_dict())
    data = shapes(train_size=16)
    make_trainer(max_steps=2, accumulate_grad_batches=2, limit_val_batches=0).fit(task, data)
    assert all(p.grad is None for p in task.parameters())  # not kept through the next forward pass

    optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    batches = list(data.train_dataloader())  # the loader's order follows the seed: Lightning's
    for first, second in (batches[:2], batches[2:]):
        optimizer.zero_grad()
        for batch in (first, second):
            (task.loss(reference(batch["image"]), batch["mask"]) / 2).backward()
        optimizer.step()
    for key, value in reference.state_dict().items():
        torch.testing.assert_close(task.model.state_dict()[key], value, rtol=1e-5, atol=1e-6, msg=key)


# -- modes, steps and metrics ---------------------------------------------------------------


@pytest.mark.parametrize(("mode", "classes"), [("binary", 1), ("multiclass", 4), ("multilabel", 3)])
def test_each_mode_trains_logs_and_predicts_masks(tiny_spec: Spec, make_trainer: Callable[..., Any], mode: str, classes: int) -> None:
    task = SegmentationTask(spec=tiny_spec(classes=classes), mode=mode)  # type: ignore[arg-type]
    data = shapes(classes=classes, mode=mode)
    trainer = make_trainer(max_epochs=1)
    trainer.fit(task, data)
    logged = set(trainer.callback_metrics)
    assert {"train/loss_step", "train/loss_epoch", "train/miou", "val/loss", "val/miou", "val/mdice"} <= logged
    (masks, *_) = trainer.predict(task, data)
    images = data.datasets["predict"].images
    with torch.no_grad():
        logits = task.model.eval()(images)
    if mode == "multiclass":
        assert masks.shape == (4, 32, 32) and torch.equal(masks, logits.argmax(1))
    elif mode == "binary":
        assert masks.shape == (4, 32, 32) and torch.equal(masks, (logits[:, 0] >= 0).long())  # sigmoid >= 0.5
    else:
        assert masks.shape == (4, 3, 32, 32) and torch.equal(masks, (logits >= 0).long())


def test_validation_metrics_are_over_the_whole_set_not_a_mean_of_batches(tiny_spec: Spec, make_trainer: Callable[..., Any]) -> None:
    torch.manual_seed(0)
    task = SegmentationTask(spec=tiny_spec(), class_names=["background", "circle", "triangle", "square"])
    data = shapes(val_size=12, batch_size=4)
    result = make_trainer().validate(task, data, verbose=False)[0]
    data.setup()
    images, masks = data.datasets["val"].images, data.datasets["val"].masks
    with torch.no_grad():
        logits = task.model.eval()(images)
    whole = ConfusionMatrixMetric(num_classes=4, mode="multiclass")
    whole.update(logits, masks)
    expected = whole.compute()
    assert result["val/miou"] == pytest.approx(float(expected["miou"]), rel=1e-12)
    for index, name in enumerate(["background", "circle", "triangle", "square"]):
        assert result[f"val/iou/{name}"] == pytest.approx(float(expected["iou"][index]), rel=1e-12, nan_ok=True)
    # the loss is the mean of the batches' losses (Dice over a batch is no per-pixel mean)
    losses = [float(task.loss(logits[i:i + 4], masks[i:i + 4])) for i in (0, 4, 8)]
    assert result["val/loss"] == pytest.approx(sum(losses) / 3, rel=1e-5)


def test_ignore_index_reaches_metrics_and_the_default_loss(tiny_spec: Spec, make_trainer: Callable[..., Any]) -> None:
    data = shapes(val_size=4)
    data.setup()
    masks = data.datasets["val"].masks
    masks[:, :16] = 255  # the top half is left out
    torch.manual_seed(0)
    task = SegmentationTask(spec=tiny_spec(), ignore_index=255)
    result = make_trainer().validate(task, data, verbose=False)[0]
    images = data.datasets["val"].images
    with torch.no_grad():
        logits = task.model.eval()(images)
    bottom = ConfusionMatrixMetric(num_classes=4, mode="multiclass")
    bottom.update(logits[:, :, 16:], masks[:, 16:])  # only the pixels that count
    assert result["val/miou"] == pytest.approx(float(bottom.compute()["miou"]), rel=1e-12)
    assert result["val/loss"] == pytest.approx(float(task.loss(logits[:, :, 16:], masks[:, 16:])), rel=1e-5)


@pytest.mark.filterwarnings("ignore:You are trying to")
def test_masks_of_the_wrong_layout_are_refused_with_the_expected_one(tiny_spec: Spec) -> None:
    task = SegmentationTask(spec=tiny_spec())
    batch = {"image": torch.randn(2, 3, 32, 32), "mask": torch.zeros(2, 16, 16, dtype=torch.long)}
    with pytest.raises(ValueError, match=r"class indices of shape \(2, 32, 32\)"):
        task.training_step(batch, 0)
    binary = SegmentationTask(spec=tiny_spec(classes=1), mode="binary")
    with pytest.raises(ValueError, match=r"binary masks must have shape \(N, H, W\)"):
        binary.training_step({"image": torch.randn(2, 3, 32, 32), "mask": torch.zeros(2, 3, 32, 32, dtype=torch.long)}, 0)
    with pytest.raises(ValueError, match=r"integer labels .* got torch\.float32"):
        binary.training_step({"image": torch.randn(2, 3, 32, 32), "mask": torch.zeros(2, 32, 32)}, 0)


@pytest.mark.filterwarnings("ignore:You are trying to")
def test_a_pair_batch_works_like_a_dict_batch(tiny_spec: Spec) -> None:
    torch.manual_seed(0)
    task = SegmentationTask(spec=tiny_spec())
    images, masks = torch.randn(2, 3, 32, 32), torch.randint(0, 4, (2, 32, 32))
    assert torch.equal(task.training_step((images, masks), 0), task.training_step({"image": images, "mask": masks}, 0))


def test_predict_window_predicts_images_larger_than_trained_on(tiny_spec: Spec) -> None:
    torch.manual_seed(0)
    task = SegmentationTask(spec=tiny_spec(), predict_window=(32, 32), predict_overlap=0.5).eval()
    with torch.no_grad():
        masks = task.predict_step({"image": torch.randn(1, 3, 48, 72)}, 0)
        assert masks.shape == (1, 48, 72) and masks.dtype == torch.int64
        image = torch.randn(2, 3, 32, 32)  # one window: the whole image, as without windows
        assert torch.equal(task.predict_step({"image": image}, 0), task(image).argmax(1))


# -- checkpoints and saving -----------------------------------------------------------------


def _trained(task: SegmentationTask, make_trainer: Callable[..., Any], tmp_path: Path) -> Path:
    trainer = make_trainer(max_steps=2, limit_val_batches=0)
    trainer.fit(task, shapes())
    path = tmp_path / "task.ckpt"
    trainer.save_checkpoint(path)
    return path


def test_a_checkpoint_is_plain_data_and_reloads_the_task(tiny_spec: Spec, make_trainer: Callable[..., Any], tmp_path: Path) -> None:
    task = SegmentationTask(
        spec=tiny_spec(), mode="multiclass", ignore_index=255, class_names=["a", "b", "c", "d"],
        loss={"name": "dice", "params": {"mode": "multiclass", "ignore_index": 255}},
        optimizer={"name": "SGD", "params": {"lr": 0.01}},
        lr_scheduler={"name": "StepLR", "params": {"step_size": 1}},
        predict_window=(32, 32),
    )
    path = _trained(task, make_trainer, tmp_path)
    checkpoint = torch.load(path, weights_only=True)  # no pickled objects in it
    assert checkpoint["hyper_parameters"]["optimizer"] == {"name": "SGD", "params": {"lr": 0.01}}
    reloaded = SegmentationTask.load_from_checkpoint(path)
    assert reloaded.hparams == task.hparams
    assert reloaded.model.spec == task.model.spec
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.equal(reloaded.eval()(images), task.eval()(images))


def test_a_built_model_is_recorded_by_its_spec(tiny_spec: Spec, make_trainer: Callable[..., Any], tmp_path: Path) -> None:
    model = seghub.build_model(tiny_spec())
    task = SegmentationTask(model=model)
    assert task.model is model and task.hparams["spec"] == model.spec.model_dump(mode="json")
    reloaded = SegmentationTask.load_from_checkpoint(_trained(task, make_trainer, tmp_path))
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in reloaded.model.state_dict().items())


def test_the_checkpoint_records_no_pretrained_weights_tag(tiny_spec: Spec, make_trainer: Callable[..., Any], tmp_path: Path) -> None:
    task = SegmentationTask(spec=tiny_spec())
    task.hparams["spec"]["encoder"]["weights"] = "imagenet"  # as if built from pretrained weights
    checkpoint = torch.load(_trained(task, make_trainer, tmp_path), weights_only=True)
    assert checkpoint["hyper_parameters"]["spec"]["encoder"]["weights"] is None  # loading downloads nothing
    assert task.hparams["spec"]["encoder"]["weights"] == "imagenet"  # the live task keeps its record


def test_the_trained_model_saves_as_a_seghub_folder(tiny_spec: Spec, make_trainer: Callable[..., Any], tmp_path: Path) -> None:
    task = SegmentationTask(spec=tiny_spec())
    _trained(task, make_trainer, tmp_path)
    task.model.save_pretrained(tmp_path / "folder")
    loaded = seghub.from_pretrained(tmp_path / "folder")
    images = torch.randn(2, 3, 32, 32)
    assert torch.equal(loaded.predict(images), task.model.predict(images))
