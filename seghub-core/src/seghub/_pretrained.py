"""Saving, loading and sharing whole models: ``save_pretrained``, ``from_pretrained``, ``push_to_hub``.

A saved model is a folder, or a Hugging Face Hub model repo, holding

* ``config.json``: ``{"format": 1, "spec": <model.spec>, "requires": [...],
  "weights_sha256": "..."}``: the spec, the distributions (and versions) that provided
  its encoder and decoder plus seghub-core's, and the digest of the weights file;
* ``model.safetensors``: the state dict (never a pickle);
* ``README.md``: a model card.

Loading rebuilds the model through the plugins with ``encoder.weights`` set to null, so no
pretrained download happens, checks the weights against the model (missing, unexpected and
mis-shaped keys are listed) and only then loads them: a failure raises and leaves no model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from pydantic import Field, ValidationError

from ._spec import _Strict
from .errors import PluginError, SpecError, SpecIssue, WeightsError

if TYPE_CHECKING:
    import torch
    from typing_extensions import Unpack

    from ._model import SegmentationModel
    from ._spec import ModelSpec

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "CARD_NAME",
    "CardInfo",
    "PretrainedConfig",
    "Requirement",
    "PretrainedMixin",
    "save_pretrained",
    "from_pretrained",
    "push_to_hub",
    "load_checked",
    "resolve_files",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
CONFIG_FORMAT = 1
CORE_DISTRIBUTION = "seghub-core"
_COMMIT_HASH = re.compile(r"^[0-9a-f]{40}$")


class CardInfo(TypedDict, total=False):
    """What the model card says beyond the model itself (all optional)."""

    description: str
    dataset: str | Sequence[str]
    metrics: Mapping[str, Any]
    license: str
    tags: Sequence[str]


class Requirement(_Strict):
    """A distribution a saved model needs, with the version it was saved with."""

    distribution: str | None = Field(description="What to pip install; null for in-process plugins.")
    version: str | None = None
    plugin: str | None = Field(None, description="The plugin's entry-point name.")
    provides: list[str] = Field(default_factory=list, description="What it provided: 'encoder resnet34', ...")


class PretrainedConfig(_Strict):
    """The content of a saved model's ``config.json``."""

    format: int = Field(CONFIG_FORMAT, description="Config format version.")
    spec: dict[str, Any]
    requires: list[Requirement] = Field(default_factory=list)
    weights_sha256: str | None = Field(None, description="sha256 of model.safetensors, checked on load.")


# -- saving -----------------------------------------------------------------------------------


def spec_to_json(spec: ModelSpec) -> dict[str, Any]:
    """The spec as plain JSON data; a :class:`SpecError` names any value JSON cannot hold
    (a Python callable activation, most often)."""
    data = spec.model_dump()
    problem = _first_non_json(data, ())
    if problem is not None:
        loc, value = problem
        if callable(value):
            why = (
                f"a Python callable ({getattr(value, '__name__', type(value).__name__)}) cannot be saved "
                "in config.json; use an activation name (sigmoid, softmax, ...) or null and apply "
                "the callable yourself after loading"
            )
        else:
            why = f"a value of type {type(value).__name__} cannot be saved in config.json (JSON only)"
        raise SpecError([SpecIssue(loc, why)])
    return data


def _first_non_json(value: Any, loc: tuple[str | int, ...]) -> tuple[tuple[str | int, ...], Any] | None:
    if value is None or isinstance(value, (bool, int, float, str)):
        return None
    if isinstance(value, (list, tuple)):
        items: Any = enumerate(value)
    elif isinstance(value, dict) and all(isinstance(k, str) for k in value):
        items = value.items()
    else:
        return loc, value
    for key, item in items:
        found = _first_non_json(item, (*loc, key))
        if found is not None:
            return found
    return None


def _core_version() -> str:
    import importlib_metadata

    try:
        return importlib_metadata.version(CORE_DISTRIBUTION)
    except importlib_metadata.PackageNotFoundError:
        from . import __version__

        return __version__


def requirements(spec: ModelSpec) -> list[Requirement]:
    """seghub-core plus the plugin distributions that provide the spec's encoder and decoder."""
    from ._hub import get_hub

    hub = get_hub()
    found: dict[tuple[str | None, str], Requirement] = {}
    for kind, entry in (
        ("encoder", hub.encoder(spec.encoder.name, spec.encoder.provider)),
        ("decoder", hub.decoder(spec.decoder.name, spec.decoder.provider)),
    ):
        info = entry.plugin
        key = (info.distribution, info.name)
        if key not in found:
            found[key] = Requirement(distribution=info.distribution, version=info.version, plugin=info.name)
        found[key].provides.append(f"{kind} {entry.name}")
    core = Requirement(distribution=CORE_DISTRIBUTION, version=_core_version(), provides=["core"])
    return [core, *found.values()]


def _check_card_info(card_info: Mapping[str, Any]) -> None:
    unknown = sorted(set(card_info) - set(CardInfo.__annotations__))
    if unknown:
        allowed = ", ".join(CardInfo.__annotations__)
        raise TypeError(f"unknown model card field(s) {', '.join(unknown)}; allowed: {allowed}")


def _state_for_saving(model: SegmentationModel) -> dict[str, torch.Tensor]:
    """The state dict as contiguous CPU tensors; tensors sharing storage are cloned apart
    (safetensors refuses shared memory)."""
    seen: set[tuple[int, int]] = set()
    tensors = {}
    for name, tensor in model.state_dict().items():
        tensor = tensor.detach().cpu().contiguous()
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset())
        if key in seen:
            tensor = tensor.clone()
        seen.add(key)
        tensors[name] = tensor
    return tensors


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def save_pretrained(
    model: SegmentationModel,
    save_directory: str | os.PathLike[str],
    *,
    repo_id: str | None = None,
    **card_info: Unpack[CardInfo],
) -> Path:
    """Write ``config.json``, ``model.safetensors`` and ``README.md`` into ``save_directory``.

    ``card_info`` (``description``, ``dataset``, ``metrics``, ``license``, ``tags``) goes into
    the model card; ``repo_id`` only makes its loading example name the repo. Returns the folder.
    """
    _check_card_info(card_info)
    if model.spec is None:
        raise SpecError([SpecIssue((), "this model has no spec (it was not built by seghub.build_model); it cannot be saved")])
    spec = spec_to_json(model.spec)
    requires = requirements(model.spec)

    from safetensors.torch import save_file

    folder = Path(save_directory)
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / WEIGHTS_NAME
    _replace(weights, lambda tmp: save_file(_state_for_saving(model), str(tmp), metadata={"format": "pt"}))
    config = PretrainedConfig(spec=spec, requires=requires, weights_sha256=_sha256(weights))
    text = json.dumps(config.model_dump(), indent=2) + "\n"
    _replace(folder / CONFIG_NAME, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    card = model_card(model, config, card_info, repo_id=repo_id)
    _replace(folder / CARD_NAME, lambda tmp: tmp.write_text(card, encoding="utf-8"))
    return folder


def _replace(target: Path, write: Any) -> None:
    """Write through a temporary file next to ``target``, then move it into place."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        write(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


# -- the model card ---------------------------------------------------------------------------


def _architecture_name(decoder: str) -> str:
    from .architectures import ARCHITECTURES

    constructor = ARCHITECTURES.get(decoder.lower())
    return constructor.__name__ if constructor is not None else decoder


def _activation_text(value: Any) -> str:
    return "none" if value in (None, "identity") else str(value)


def model_card(
    model: SegmentationModel,
    config: PretrainedConfig,
    card_info: Mapping[str, Any],
    *,
    repo_id: str | None = None,
) -> str:
    """The README.md of a saved model: YAML metadata, a summary table, metrics, how to load."""
    from huggingface_hub import ModelCardData

    assert model.spec is not None
    spec = model.spec
    by_kind = {p.split(" ")[0]: r for r in config.requires for p in r.provides}

    def origin(kind: str) -> str:
        req = by_kind.get(kind)
        if req is None:
            return ""
        name = req.distribution or f"in-process plugin {req.plugin}"
        return f" from {name} {req.version}" if req.version else f" from {name}"

    datasets = card_info.get("dataset")
    datasets = [datasets] if isinstance(datasets, str) else list(datasets or [])
    metrics = dict(card_info.get("metrics") or {})
    data = ModelCardData(
        library_name="seghub",
        pipeline_tag="image-segmentation",
        tags=["seghub", "semantic-segmentation", "pytorch", *card_info.get("tags", ())],
        license=card_info.get("license"),
        datasets=datasets or None,
        metrics=list(metrics) or None,
    )
    arch = _architecture_name(spec.decoder.name)
    enc = spec.encoder
    init = f"; initialised from `{enc.weights}` weights" if enc.weights else ""
    head = spec.segmentation_head
    cls = spec.classification_head
    cls_text = (
        f"{cls.classes} classes, {cls.pooling} pooling, dropout {cls.dropout or 0}, "
        f"activation: {_activation_text(cls.activation)}" if cls is not None else "none"
    )
    rows = [
        ("Architecture", f"{arch} (decoder `{spec.decoder.name}`{origin('decoder')})"),
        ("Encoder", f"`{enc.name}`{origin('encoder')}: {enc.in_channels} input channels, depth {enc.depth}, "
                    f"output stride {enc.output_stride}{init}"),
        ("Segmentation head", f"{head.classes} classes, activation: {_activation_text(head.activation)}"),
        ("Classification head", cls_text),
        ("Parameters", f"{sum(p.numel() for p in model.parameters()):,}"),
        ("Dataset", ", ".join(datasets) or "not given"),
    ]
    installs = " ".join(r.distribution for r in config.requires if r.distribution)
    where = repo_id or "<this folder or its Hub repo id>"
    lines = [
        "---",
        data.to_yaml().strip(),
        "---",
        "",
        f"# {arch} with a {enc.name} encoder",
        "",
        card_info.get("description") or "A segmentation model built with seghub.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in rows),
        "",
    ]
    if metrics:
        lines += ["## Metrics", "", "| metric | value |", "|---|---|", *(f"| {k} | {v} |" for k, v in metrics.items()), ""]
    lines += [
        "## How to load",
        "",
        "```bash",
        f"pip install {installs}",
        "```",
        "",
        "```python",
        "import seghub",
        "",
        f"model = seghub.from_pretrained({json.dumps(where)})",
        f"mask = model.predict(images)  # images: (N, {enc.in_channels}, H, W) float tensor",
        "```",
        "",
    ]
    try:
        prep = model.preprocessing_params
    except Exception:  # an unknown tag or a local path: the card just says less
        prep = None
    if prep:
        lines += [
            f"Inputs are normalised as for the encoder's `{enc.weights}` weights: mean {prep['mean']}, "
            f"std {prep['std']}, input range {prep['input_range']} (`model.preprocessing_params`).",
            "",
        ]
    lines += ["## Spec", "", "```json", json.dumps(config.spec, indent=2), "```", ""]
    return "\n".join(lines)


# -- loading ----------------------------------------------------------------------------------


def resolve_files(
    source: str | os.PathLike[str],
    filenames: Sequence[str],
    *,
    revision: str | None = None,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
) -> dict[str, Path]:
    """Paths of ``filenames`` in a local folder, or in Hub repo ``source`` at ``revision``
    (downloaded, or from the cache offline). Every file comes from the same commit."""
    folder = Path(source).expanduser()
    if folder.is_dir():
        if revision is not None:
            raise ValueError(f"revision={revision!r} applies to Hub repos; {str(folder)!r} is a local folder")
        paths = {name: folder / name for name in filenames}
        missing = [name for name, path in paths.items() if not path.is_file()]
        if missing:
            raise WeightsError(f"folder {str(folder)!r} has no {', '.join(missing)}; is it a save_pretrained folder?")
        return paths
    repo_id = os.fspath(source)
    if isinstance(source, os.PathLike) or repo_id.startswith((".", "/", "~")) or os.path.isabs(repo_id):
        raise WeightsError(f"folder {repo_id!r} does not exist")

    from huggingface_hub import hf_hub_download

    paths = {}
    pinned = revision
    for name in filenames:
        try:
            path = Path(
                hf_hub_download(
                    repo_id, name, revision=pinned, token=token, cache_dir=cache_dir, local_files_only=local_files_only
                )
            )
        except Exception as exc:  # not found, offline, invalid id, network: all mean "not to be had"
            raise WeightsError(_download_message(repo_id, name, revision, exc)) from exc
        if _COMMIT_HASH.match(path.parent.name):  # later files from the commit the first came from
            pinned = path.parent.name
        paths[name] = path
    return paths


def _download_message(repo_id: str, filename: str, revision: str | None, exc: Exception) -> str:
    from huggingface_hub import constants
    from huggingface_hub.errors import (
        EntryNotFoundError,
        HFValidationError,
        LocalEntryNotFoundError,
        RepositoryNotFoundError,
        RevisionNotFoundError,
    )

    where = f"{filename!r} of Hugging Face repo {repo_id!r} at revision {revision or 'main'!r}"
    if isinstance(exc, HFValidationError):
        return f"{repo_id!r} is neither an existing folder nor a valid Hub repo id ({exc})"
    if isinstance(exc, LocalEntryNotFoundError):
        why = "offline mode (HF_HUB_OFFLINE)" if constants.is_offline_mode() else str(exc).splitlines()[0]
        return f"could not get {where}: not in the cache ({constants.HF_HUB_CACHE}) and not downloadable: {why}"
    if isinstance(exc, (RepositoryNotFoundError, RevisionNotFoundError, EntryNotFoundError)):
        return f"could not get {where}: it does not exist there (or is private: pass token=...)"
    return f"could not get {where}: {type(exc).__name__}: {exc}"


def read_config(path: Path) -> PretrainedConfig:
    """Parse and validate a saved model's ``config.json``; problems raise :class:`SpecError`."""
    from ._builder import _check_version, _issues

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise SpecError([SpecIssue((), f"{CONFIG_NAME} cannot be read as JSON: {exc}")]) from None
    if not isinstance(data, dict):
        raise SpecError([SpecIssue((), f"{CONFIG_NAME} must hold a JSON object, got {type(data).__name__}")])
    if "_model_class" in data:
        raise SpecError([SpecIssue((), (
            f"this {CONFIG_NAME} was written by segmentation_models_pytorch ({data['_model_class']}); "
            "import it with seghub.compat.smp.from_smp_pretrained(...)"
        ))])
    fmt = data.get("format", CONFIG_FORMAT)
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > CONFIG_FORMAT:
        raise SpecError([SpecIssue(("format",), (
            f"config format {fmt} is newer than this seghub understands ({CONFIG_FORMAT}); upgrade seghub-core"
        ))])
    try:
        _check_version(data.get("spec"))
        return PretrainedConfig.model_validate(data)
    except SpecError as exc:
        raise _rooted(exc, "spec") from None
    except ValidationError as exc:
        raise SpecError([_config_issue(issue) for issue in _issues(exc)]) from None


def _config_issue(issue: SpecIssue) -> SpecIssue:
    """Point unknown config keys at the config's own keys, not at the spec schema."""
    if not issue.message.startswith("unknown key"):
        return issue
    model = Requirement if issue.loc[:1] == ("requires",) else PretrainedConfig
    return SpecIssue(issue.loc, f"unknown key in {CONFIG_NAME}; allowed here: {', '.join(model.model_fields)}")


def _rooted(exc: SpecError, root: str) -> SpecError:
    return SpecError([SpecIssue((root, *issue.loc), issue.message) for issue in exc.issues])


def check_requirements(config: PretrainedConfig) -> None:
    """Raise one :class:`PluginError` naming every needed distribution that is not installed
    and the pip command that installs them."""
    import importlib_metadata

    missing = []
    for req in config.requires:
        if req.distribution is None or req.distribution == CORE_DISTRIBUTION:
            continue
        try:
            importlib_metadata.distribution(req.distribution)
        except importlib_metadata.PackageNotFoundError:
            missing.append(req)
    if not missing:
        return
    def detail(req: Requirement) -> str:
        notes = [f"for {', '.join(req.provides)}"] if req.provides else []
        notes += [f"saved with version {req.version}"] if req.version else []
        return f"{req.distribution} ({'; '.join(notes)})" if notes else str(req.distribution)

    details = ", ".join(detail(req) for req in missing)
    head = (
        "this model needs a plugin distribution that is not installed"
        if len(missing) == 1
        else f"this model needs {len(missing)} plugin distributions that are not installed"
    )
    command = "pip install " + " ".join(str(req.distribution) for req in missing)
    raise PluginError(f"{head}: {details}. Install with: {command}")


def build_without_download(spec: Mapping[str, Any]) -> SegmentationModel:
    """Build ``spec`` with ``encoder.weights`` set to null (no pretrained download), then
    record the original weights tag in ``model.spec`` again. Spec errors are rooted at ``spec``."""
    from ._builder import build_model

    data = dict(spec)
    encoder = data.get("encoder")
    tag = encoder.get("weights") if isinstance(encoder, Mapping) else None
    if isinstance(tag, str):
        data["encoder"] = {**encoder, "weights": None}  # type: ignore[dict-item]
    try:
        model = build_model(data)
    except SpecError as exc:
        raise _rooted(exc, "spec") from None
    return with_weights_tag(model, tag if isinstance(tag, str) else None)


def with_weights_tag(model: SegmentationModel, tag: str | None) -> SegmentationModel:
    """Record ``tag`` as the spec's ``encoder.weights`` (where the weights came from)."""
    if tag is not None and model.spec is not None:
        encoder = model.spec.encoder.model_copy(update={"weights": tag})
        model.spec = model.spec.model_copy(update={"encoder": encoder})
    return model


def _shape(shape: Sequence[int]) -> str:
    return "(" + ", ".join(str(n) for n in shape) + ")"


def load_checked(model: SegmentationModel, state_dict: Mapping[str, torch.Tensor], *, source: str) -> None:
    """Load ``state_dict`` into ``model`` after checking it matches exactly; otherwise raise
    :class:`WeightsError` listing missing, unexpected and mis-shaped keys (nothing is loaded)."""
    expected = model.state_dict()
    missing = [k for k in expected if k not in state_dict]
    unexpected = [k for k in state_dict if k not in expected]
    misshaped = [
        f"{k}: file {_shape(state_dict[k].shape)}, model {_shape(v.shape)}"
        for k, v in expected.items()
        if k in state_dict and tuple(state_dict[k].shape) != tuple(v.shape)
    ]
    problems = []
    for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("mis-shaped keys", misshaped)):
        if items:
            shown = ", ".join(items[:8]) + (f", ... ({len(items) - 8} more)" if len(items) > 8 else "")
            problems.append(f"{len(items)} {title}: {shown}")
    if problems:
        raise WeightsError(f"the weights in {source} do not fit the model: " + "; ".join(problems))
    model.load_state_dict(dict(state_dict), strict=True)


def from_pretrained(
    source: str | os.PathLike[str],
    revision: str | None = None,
    *,
    token: str | bool | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    local_files_only: bool = False,
    device: str | torch.device | None = None,
) -> SegmentationModel:
    """Load a model saved with :meth:`SegmentationModel.save_pretrained` from a folder or a Hub
    repo id (at ``revision``; works offline from the cache with ``HF_HUB_OFFLINE=1``).

    Raises :class:`SpecError` (bad, unknown-key or newer config), :class:`PluginError` (a
    needed plugin distribution is not installed, with the pip command), or
    :class:`WeightsError` (files not to be had, corrupt or tampered weights, weights that do
    not fit), and in each case returns no model. The model comes back in eval mode.
    """
    paths = resolve_files(
        source, (CONFIG_NAME, WEIGHTS_NAME), revision=revision, token=token, cache_dir=cache_dir,
        local_files_only=local_files_only,
    )
    config = read_config(paths[CONFIG_NAME])
    check_requirements(config)
    weights = paths[WEIGHTS_NAME]
    if config.weights_sha256 is not None and _sha256(weights) != config.weights_sha256.lower():
        raise WeightsError(
            f"{str(weights)!r} does not match the sha256 recorded in {CONFIG_NAME}: the weights file was "
            "modified, truncated or corrupted"
        )
    model = build_without_download(config.spec)
    from .weights import load_state_dict

    load_checked(model, load_state_dict(weights), source=repr(str(weights)))
    if device is not None:
        model.to(device)
    return model.eval()


# -- sharing ----------------------------------------------------------------------------------


def push_to_hub(
    model: SegmentationModel,
    repo_id: str,
    *,
    commit_message: str | None = None,
    private: bool | None = None,
    token: str | bool | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    **card_info: Unpack[CardInfo],
) -> Any:
    """Upload the :func:`save_pretrained` folder to Hub repo ``repo_id`` (created if needed).

    ``revision`` names the branch to commit to (created from main if absent); ``create_pr``
    opens a pull request instead. Returns huggingface_hub's ``CommitInfo``.
    """
    _check_card_info(card_info)
    from huggingface_hub import HfApi

    api = HfApi()
    repo_id = api.create_repo(repo_id, token=token, private=private, repo_type="model", exist_ok=True).repo_id
    if revision is not None and revision != "main" and not create_pr:
        api.create_branch(repo_id, branch=revision, token=token, repo_type="model", exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="seghub-push-") as folder:
        save_pretrained(model, folder, repo_id=repo_id, **card_info)
        return api.upload_folder(
            repo_id=repo_id,
            folder_path=folder,
            commit_message=commit_message or "Upload seghub model",
            token=token,
            repo_type="model",
            revision=revision,
            create_pr=create_pr,
        )


class PretrainedMixin:
    """``save_pretrained``, ``push_to_hub`` and ``from_pretrained`` for :class:`SegmentationModel`."""

    def save_pretrained(self, save_directory: str | os.PathLike[str], **card_info: Unpack[CardInfo]) -> Path:
        """Write ``config.json`` (spec and needed plugin distributions), ``model.safetensors``
        and a ``README.md`` model card (``description``, ``dataset``, ``metrics``, ``license``,
        ``tags``) into ``save_directory``; returns it."""
        return save_pretrained(self, save_directory, **card_info)  # type: ignore[arg-type]

    def push_to_hub(
        self,
        repo_id: str,
        *,
        commit_message: str | None = None,
        private: bool | None = None,
        token: str | bool | None = None,
        revision: str | None = None,
        create_pr: bool = False,
        **card_info: Unpack[CardInfo],
    ) -> Any:
        """Save to a temporary folder and upload it to Hub repo ``repo_id``; see :func:`push_to_hub`."""
        return push_to_hub(
            self,  # type: ignore[arg-type]
            repo_id, commit_message=commit_message, private=private, token=token, revision=revision,
            create_pr=create_pr, **card_info,
        )

    @classmethod
    def from_pretrained(
        cls,
        source: str | os.PathLike[str],
        revision: str | None = None,
        *,
        token: str | bool | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        local_files_only: bool = False,
        device: str | torch.device | None = None,
    ) -> SegmentationModel:
        """Load a saved model from a folder or Hub repo id; see :func:`seghub.from_pretrained`."""
        return from_pretrained(
            source, revision, token=token, cache_dir=cache_dir, local_files_only=local_files_only, device=device
        )
