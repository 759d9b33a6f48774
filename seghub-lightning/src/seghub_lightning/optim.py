"""Optimizer and learning-rate scheduler configs: plain data that builds the objects later.

A task is configured before its parameters exist, and its hyperparameters must survive a
checkpoint that is loaded with ``weights_only=True``; so the optimizer and the scheduler are given
as data, ``{"name": ..., "params": {...}}`` like seghub's loss configs, and built in
``configure_optimizers``. (Not LightningCLI's ``class_path``/``init_args``: jsonargparse would
take such a mapping for a class to instantiate itself.) Both validate when the task is made: an
unknown class or an argument the class does not take fails at once, located like
``optimizer.params.lrr``.
"""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping
from typing import Any, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field, PositiveInt, ValidationError, ValidationInfo, field_validator
from seghub.errors import SpecError, SpecIssue

__all__ = ["LRSchedulerConfig", "OptimizerConfig", "build_lr_scheduler", "build_optimizer", "parse_config"]


def _resolve(path: str, namespace: str, base: type) -> type:
    """The class named by ``path``: a name in ``namespace`` (``"AdamW"``) or an import path."""
    module_name, _, attr = path.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name or namespace), attr)
    except (ImportError, AttributeError):
        raise ValueError(
            f"cannot import {path!r}: give a class of {namespace} by name (e.g. "
            f"{'AdamW' if base is torch.optim.Optimizer else 'CosineAnnealingLR'}) or a full import path "
            f"(mypackage.module.Class)"
        ) from None
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ValueError(f"{path!r} is not a subclass of {base.__module__}.{base.__qualname__}")
    return found


def _check_arguments(cls: type, arguments: Mapping[str, Any], given_by_task: tuple[str, ...]) -> None:
    """Refuse arguments that ``cls.__init__`` does not take, and those the task passes itself."""
    parameters = inspect.signature(cls).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    takes = [name for name in parameters if name not in given_by_task]
    for name in arguments:
        if name in given_by_task:
            raise ValueError(f"{name}: the task passes {name} itself; leave it out")
        if name not in parameters:
            raise ValueError(f"{name}: {cls.__name__} takes no argument {name!r}; it takes {', '.join(takes)}")


class OptimizerConfig(BaseModel):
    """An optimizer over all trainable parameters of the task's model."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field("AdamW", description="A torch.optim class name (AdamW, SGD, ...) or an import path.")
    params: dict[str, Any] = Field(default_factory=dict, description="Its keyword arguments (lr, weight_decay, ...), without params.")

    @field_validator("name")
    @classmethod
    def _importable(cls, value: str) -> str:
        _resolve(value, "torch.optim", torch.optim.Optimizer)
        return value

    @field_validator("params")
    @classmethod
    def _arguments(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "name" in info.data:  # else its own error is reported
            _check_arguments(_resolve(info.data["name"], "torch.optim", torch.optim.Optimizer), value, ("params",))
        return value


class LRSchedulerConfig(BaseModel):
    """A learning-rate scheduler over the optimizer, and when Lightning steps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="A torch.optim.lr_scheduler class name (CosineAnnealingLR, ...) or an import path.")
    params: dict[str, Any] = Field(default_factory=dict, description="Its keyword arguments, without optimizer.")
    interval: Literal["epoch", "step"] = Field("epoch", description="Step the scheduler after every epoch or every optimizer step.")
    frequency: PositiveInt = Field(1, description="Step it every this many intervals.")
    monitor: str = Field("val/loss", description="The logged value ReduceLROnPlateau watches.")

    @field_validator("name")
    @classmethod
    def _importable(cls, value: str) -> str:
        _resolve(value, "torch.optim.lr_scheduler", torch.optim.lr_scheduler.LRScheduler)
        return value

    @field_validator("params")
    @classmethod
    def _arguments(cls, value: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        if "name" in info.data:  # else its own error is reported
            scheduler = _resolve(info.data["name"], "torch.optim.lr_scheduler", torch.optim.lr_scheduler.LRScheduler)
            _check_arguments(scheduler, value, ("optimizer",))
        return value


def parse_config(value: Any, model: type[BaseModel], root: str) -> Any:
    """``value`` (a mapping or an instance of ``model``) validated; a :class:`SpecError` locates
    each problem from ``root`` (``optimizer.params.lrr: ...``)."""
    if isinstance(value, model):
        return value
    if not isinstance(value, Mapping):
        raise SpecError([SpecIssue((root,), f"expected a mapping like {{'name': ..., 'params': {{...}}}}, got {type(value).__name__}")])
    try:
        return model.model_validate(dict(value))
    except ValidationError as exc:
        issues = []
        for error in exc.errors():
            message = str(error["msg"]).removeprefix("Value error, ")
            loc: tuple[str | int, ...] = (root, *error["loc"])
            if error["loc"] == ("params",):  # the argument check names the argument first
                name, _, message = message.partition(": ")
                loc = (*loc, name)
            issues.append(SpecIssue(loc, message))
        raise SpecError(issues) from None


def build_optimizer(config: OptimizerConfig, parameters: Any) -> torch.optim.Optimizer:
    """The optimizer ``config`` describes, over ``parameters``."""
    cls = _resolve(config.name, "torch.optim", torch.optim.Optimizer)
    return cls(parameters, **config.params)


def build_lr_scheduler(config: LRSchedulerConfig, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """Lightning's scheduler dictionary for ``config`` over ``optimizer``."""
    cls = _resolve(config.name, "torch.optim.lr_scheduler", torch.optim.lr_scheduler.LRScheduler)
    return {
        "scheduler": cls(optimizer, **config.params),
        "interval": config.interval,
        "frequency": config.frequency,
        "monitor": config.monitor,
    }
