"""SegmentationTask: a seghub model, a loss, metrics and an optimizer as a LightningModule.

Everything about scale (devices, processes, machines, precision, accumulation, checkpoints)
is Lightning's Trainer; the task only says what one step computes and what it logs. Metrics are
torchmetrics objects, so their state is summed across processes before they are computed.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import lightning.pytorch as pl
import torch
from seghub import ModelSpec, SegmentationModel, build_model
from seghub.errors import SpecError, SpecIssue
from seghub.losses import LossConfig, build_loss
from seghub.metrics import ConfusionMatrixMetric
from torch import nn
from torchmetrics import MeanMetric

from .optim import LRSchedulerConfig, OptimizerConfig, build_lr_scheduler, build_optimizer, parse_config

__all__ = ["Mode", "SegmentationTask"]

Mode = Literal["binary", "multiclass", "multilabel"]
MODES: tuple[str, ...] = ("binary", "multiclass", "multilabel")
STAGES = ("train", "val", "test")
# mappings first: LightningCLI hands them over as they are, and seghub.losses locates errors
LossLike = dict[str, Any] | list[dict[str, Any]] | LossConfig | Sequence[Mapping[str, Any] | LossConfig]


def _build_network(spec: Any, model: SegmentationModel | None) -> SegmentationModel:
    if (spec is None) == (model is None):
        raise TypeError("SegmentationTask takes exactly one of spec= (a dict, JSON path or ModelSpec) and model= (a built SegmentationModel)")
    if model is None:
        if not isinstance(spec, (ModelSpec, Mapping, str, os.PathLike)):
            raise TypeError(f"spec must be a dict, a JSON path or a seghub.ModelSpec, got {type(spec).__name__}")
        try:
            return build_model(spec)
        except SpecError as exc:  # located from the task's arguments, as the other configs
            raise SpecError([SpecIssue(("spec", *issue.loc), issue.message) for issue in exc.issues]) from None
    if not isinstance(model, SegmentationModel):
        raise TypeError(f"model must be a seghub.SegmentationModel, got {type(model).__name__}")
    if model.spec is None:
        raise TypeError("model has no spec, so a checkpoint could not rebuild it: build it with seghub.build_model")
    return model


def _check_network(network: SegmentationModel, mode: str) -> None:
    """The task trains on mask logits: refuse what it would silently get wrong."""
    head = network.spec.segmentation_head  # type: ignore[union-attr]
    issues = []
    if head.activation is not None:
        issues.append(SpecIssue(("spec", "segmentation_head", "activation"), (
            f"the task trains on logits, but the model applies {head.activation!r}: set it to null "
            "and apply the activation to the predictions yourself")))
    if network.classification_head is not None:
        issues.append(SpecIssue(("spec", "classification_head"), (
            "SegmentationTask trains masks only; remove the classification head (an untrained head "
            "would also stop DistributedDataParallel, which needs a gradient for every parameter)")))
    if mode == "binary" and head.classes != 1:
        issues.append(SpecIssue(("spec", "segmentation_head", "classes"), (
            f"mode 'binary' trains one mask channel, the spec has {head.classes}: set classes to 1, "
            "or use mode 'multiclass' or 'multilabel'")))
    if mode == "multiclass" and head.classes < 2:
        issues.append(SpecIssue(("spec", "segmentation_head", "classes"), (
            "mode 'multiclass' needs at least 2 classes (background counts); for one foreground "
            "channel use mode 'binary'")))
    if issues:
        raise SpecError(issues)


def _plain(value: Any) -> Any:
    """Configs as plain data (dicts, lists, numbers, strings), for hyperparameters that survive a
    checkpoint loaded weights-only (no unpickling of arbitrary classes)."""
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class SegmentationTask(pl.LightningModule):
    """Train, evaluate and run a seghub model with Lightning.

    Args:
        spec: The model to build: a spec dict, the path of a JSON spec or a
            :class:`seghub.ModelSpec`. Give this or ``model``.
        model: A built :class:`seghub.SegmentationModel` (its ``spec`` is recorded, so a
            checkpoint rebuilds it). Give this or ``spec``.
        mode: ``"binary"`` (one mask channel; masks of 0/1), ``"multiclass"`` (masks of class
            indices) or ``"multilabel"`` (one 0/1 mask channel per class).
        loss: A :func:`seghub.losses.build_loss` config: ``{"name": ..., "params": {...}}``, a
            list of such (a weighted sum) or a ``LossConfig``. Default: Dice in ``mode``, with
            ``ignore_index``.
        optimizer: ``{"name": "AdamW", "params": {"lr": 1e-3}}`` (a torch.optim name or
            an import path); an :class:`OptimizerConfig`. Default: AdamW with its defaults.
        lr_scheduler: Optional ``{"name": ..., "params": {...}, "interval": "epoch" |
            "step", "frequency": 1, "monitor": "val/loss"}``; an :class:`LRSchedulerConfig`.
        ignore_index: Mask value of pixels that no metric counts. Losses take their own
            ``ignore_index`` param (the default loss gets this one).
        class_names: One name per mask channel, for the per-class metric names
            (``val/iou/<name>``); default the class indices.
        train_metrics: Also compute the metrics on the training batches (``train/miou``, ...).
        predict_window: ``(height, width)``: predict through
            :func:`seghub.inference.sliding_window` with this window, for images larger than
            what was trained on; None predicts whole images at once.
        predict_overlap: The windows' overlap, a fraction of the window.
        predict_blend: How overlapping windows merge: ``"constant"`` (mean) or ``"gaussian"``
            (window centres count more).

    A batch is a dict with ``"image"`` ``(N, C, H, W)`` and ``"mask"`` (``(N, H, W)`` class
    indices for binary and multiclass, ``(N, classes, H, W)`` for multilabel), or an
    ``(image, mask)`` pair. Logged per stage (``train``, ``val``, ``test``): ``<stage>/loss``
    and what :class:`seghub.metrics.ConfusionMatrixMetric` computes over the whole epoch
    (``<stage>/miou``, ``<stage>/iou/<class>``, ...). ``predict_step`` returns masks:
    ``(N, H, W)`` class indices (binary: 0/1), or ``(N, classes, H, W)`` 0/1 for multilabel.
    """

    def __init__(
        self,
        *,
        # dict first: LightningCLI then hands a config's spec over as written, and seghub
        # validates it (jsonargparse's own reading of ModelSpec is not seghub's)
        spec: dict[str, Any] | str | os.PathLike[str] | ModelSpec | None = None,
        model: SegmentationModel | None = None,
        mode: Mode = "multiclass",
        loss: LossLike | None = None,
        # dict first: LightningCLI then hands the mapping over as it is, and the task reports
        # a bad one as a located SpecError
        optimizer: dict[str, Any] | OptimizerConfig | None = None,
        lr_scheduler: dict[str, Any] | LRSchedulerConfig | None = None,
        ignore_index: int | None = None,
        class_names: Sequence[str] | None = None,
        train_metrics: bool = True,
        predict_window: tuple[int, int] | None = None,
        predict_overlap: float = 0.25,
        predict_blend: Literal["constant", "gaussian"] = "constant",
    ) -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}; got {mode!r}")
        network = _build_network(spec, model)
        _check_network(network, mode)
        classes = network.spec.segmentation_head.classes  # type: ignore[union-attr]
        if class_names is not None and len(class_names) != classes:
            raise ValueError(f"class_names names {len(class_names)} classes, the model has {classes} mask channels")
        if loss is None:
            loss = {"name": "dice", "params": {"mode": mode, "ignore_index": ignore_index}}
        optimizer_config = parse_config(OptimizerConfig() if optimizer is None else optimizer, OptimizerConfig, "optimizer")
        scheduler_config = None if lr_scheduler is None else parse_config(lr_scheduler, LRSchedulerConfig, "lr_scheduler")
        if predict_window is not None:
            predict_window = (int(predict_window[0]), int(predict_window[1]))

        self.model = network
        self.loss = build_loss(loss)
        self.mode = mode
        self.classes = classes
        self.ignore_index = ignore_index
        self.class_names = tuple(class_names) if class_names is not None else None
        self.optimizer_config = optimizer_config
        self.lr_scheduler_config = scheduler_config
        self.train_metrics = train_metrics
        self.predict_window = predict_window
        self.predict_overlap = predict_overlap
        self.predict_blend = predict_blend
        for stage in STAGES:
            # attributes, not an nn.ModuleDict: "train" is taken by nn.Module.train
            confusion = ConfusionMatrixMetric(mode=mode, num_classes=None if mode == "binary" else classes, ignore_index=ignore_index)
            setattr(self, f"{stage}_confusion", confusion)
            setattr(self, f"{stage}_loss_mean", MeanMetric())
        self.save_hyperparameters({
            "spec": network.spec.model_dump(mode="json"),  # type: ignore[union-attr]
            "mode": mode,
            "loss": _plain(loss),
            "optimizer": optimizer_config.model_dump(mode="json"),
            "lr_scheduler": None if scheduler_config is None else scheduler_config.model_dump(mode="json"),
            "ignore_index": ignore_index,
            "class_names": None if class_names is None else list(class_names),
            "train_metrics": train_metrics,
            "predict_window": None if predict_window is None else list(predict_window),
            "predict_overlap": predict_overlap,
            "predict_blend": predict_blend,
        })

    # -- steps ----------------------------------------------------------------------------

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """The model's mask logits ``(N, classes, H, W)``."""
        return self.model(images)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "val")

    def test_step(self, batch: Any, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "test")

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        images = batch["image"] if isinstance(batch, Mapping) else batch[0] if isinstance(batch, (list, tuple)) else batch
        if self.predict_window is None:
            logits = self.model(images)
        else:
            from seghub.inference import sliding_window

            logits = sliding_window(
                self.model, images, window=self.predict_window, overlap=self.predict_overlap, blend=self.predict_blend
            )
        if self.mode == "multiclass":
            return logits.argmax(1)
        masks = (logits >= 0).long()  # sigmoid >= 0.5, as the metrics count it
        return masks[:, 0] if self.mode == "binary" else masks

    def _step(self, batch: Any, stage: str) -> torch.Tensor:
        images, mask = (batch["image"], batch["mask"]) if isinstance(batch, Mapping) else batch
        logits = self.model(images)
        mask = self._check_mask(mask, logits)
        # the losses of binary and multilabel mode take float targets shaped like the logits;
        # the metric takes the integer labels
        loss = self.loss(logits, mask if self.mode == "multiclass" else mask.to(logits.dtype))
        size = images.shape[0]
        mean = getattr(self, f"{stage}_loss_mean")
        mean(loss.detach(), size)
        # a Metric object: Lightning logs this rank's batch value per step and the
        # torchmetrics-synchronised mean over all processes per epoch
        self.log(f"{stage}/loss", mean, on_step=stage == "train", on_epoch=True, prog_bar=True, batch_size=size)
        if stage != "train" or self.train_metrics:
            getattr(self, f"{stage}_confusion").update(logits.detach(), mask)
        return loss

    def _check_mask(self, mask: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        """The integer mask in the logits' layout: class indices ``(N, H, W)`` for multiclass,
        ``(N, C, H, W)`` like the logits for binary (C = 1) and multilabel."""
        if mask.is_floating_point():
            raise ValueError(f"masks must hold integer labels (class indices, or 0/1), got {mask.dtype}")
        if self.mode == "multiclass":
            if mask.ndim == 4 and mask.shape[1] == 1:
                mask = mask[:, 0]
            expected = (logits.shape[0], *logits.shape[2:])
            if tuple(mask.shape) != expected:
                raise ValueError(f"multiclass masks must be class indices of shape {expected} (N, H, W); got {tuple(mask.shape)}")
            return mask
        if self.mode == "binary" and mask.ndim == 3:
            mask = mask[:, None]
        if tuple(mask.shape) != tuple(logits.shape):
            layout = "(N, H, W)" if self.mode == "binary" else "(N, classes, H, W)"
            raise ValueError(f"{self.mode} masks must have shape {layout} matching the logits {tuple(logits.shape)}; got {tuple(mask.shape)}")
        return mask

    # -- metrics --------------------------------------------------------------------------

    def on_train_epoch_end(self) -> None:
        if self.train_metrics:
            self._log_confusion("train")

    def on_validation_epoch_end(self) -> None:
        self._log_confusion("val")

    def on_test_epoch_end(self) -> None:
        self._log_confusion("test")

    def _log_confusion(self, stage: str) -> None:
        metric = getattr(self, f"{stage}_confusion")
        if not metric.update_called:
            return
        values = {}
        for key, value in metric.compute().items():  # summed over all processes by torchmetrics
            if value.ndim == 0:
                values[f"{stage}/{key}"] = value
            else:
                for index, item in enumerate(value):
                    values[f"{stage}/{key}/{self._class_label(index, len(value))}"] = item
        # identical on every process already; sync_dist averages equal numbers, and keeps every
        # rank's copy (ModelCheckpoint may monitor one on each rank)
        self.log_dict(values, sync_dist=True)
        metric.reset()

    def _class_label(self, index: int, count: int) -> str:
        if self.class_names is not None and count == len(self.class_names):
            return self.class_names[index]
        return str(index)

    # -- optimisation and checkpoints -----------------------------------------------------

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.optimizer_config, [p for p in self.parameters() if p.requires_grad])
        if self.lr_scheduler_config is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": build_lr_scheduler(self.lr_scheduler_config, optimizer)}

    def optimizer_step(self, epoch: int, batch_idx: int, optimizer: Any, optimizer_closure: Any = None) -> None:
        super().optimizer_step(epoch, batch_idx, optimizer, optimizer_closure)
        # free the gradients once the step has used them: Lightning zeroes them only between the
        # next forward and backward passes, so they would stay allocated through that forward
        optimizer.zero_grad(set_to_none=True)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Record the spec without pretrained-weights tag in the checkpoint: its weights are in
        the checkpoint, so loading it must not download (or need) the encoder's weights."""
        hparams = checkpoint.get(self.CHECKPOINT_HYPER_PARAMS_KEY)
        if isinstance(hparams, dict) and isinstance(hparams.get("spec"), dict):
            spec = copy.deepcopy(hparams["spec"])  # the dict is shared with self.hparams
            spec["encoder"]["weights"] = None
            checkpoint[self.CHECKPOINT_HYPER_PARAMS_KEY] = {**hparams, "spec": spec}
