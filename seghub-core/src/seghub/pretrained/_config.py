"""A saved model's ``config.json``: its schema, what it requires, reading and checking it."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import Field, ValidationError

from .._excerpt import excerpt, shorten
from .._json_input import JSONInputError, read_json_file
from .._pydantic_issues import issues_from
from .._spec import _Strict, check_version
from .._version import __version__
from ..errors import PluginError, SpecError, SpecIssue
from ..plugins import get_hub
from ..plugins._switched_off import why_off

if TYPE_CHECKING:
    from .._spec import ModelSpec

__all__ = [
    "CONFIG_NAME",
    "WEIGHTS_NAME",
    "CARD_NAME",
    "CONFIG_FORMAT",
    "CORE_DISTRIBUTION",
    "Requirement",
    "PretrainedConfig",
    "spec_to_json",
    "requirements",
    "read_config",
    "check_requirements",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
CARD_NAME = "README.md"
CONFIG_FORMAT = 1
CORE_DISTRIBUTION = "seghub-core"
_MAX_NAME = 200


class Requirement(_Strict):
    """A distribution a saved model needs, with the version it was saved with."""

    # bounded: error messages quote these, and the pip command is built from them
    distribution: str | None = Field(max_length=_MAX_NAME, description="What to pip install; null for in-process plugins.")
    version: str | None = Field(None, max_length=_MAX_NAME)
    plugin: str | None = Field(None, max_length=_MAX_NAME, description="The plugin's entry-point name.")
    provides: list[Annotated[str, Field(max_length=_MAX_NAME)]] = Field(
        default_factory=list, max_length=_MAX_NAME, description="What it provided: 'encoder resnet34', ..."
    )


class PretrainedConfig(_Strict):
    """The content of a saved model's ``config.json``."""

    format: int = Field(CONFIG_FORMAT, description="Config format version.")
    spec: dict[str, Any]
    requires: list[Requirement] = Field(default_factory=list)
    weights_sha256: str | None = Field(None, description="sha256 of model.safetensors, checked on load.")


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
        return __version__


def requirements(spec: ModelSpec) -> list[Requirement]:
    """seghub-core plus the plugin distributions that provide the spec's encoder and decoder."""
    hub = get_hub()
    found: dict[tuple[str | None, str], Requirement] = {}
    parts: list[tuple[str, Any]] = [
        ("encoder", hub.encoder(spec.encoder.name, spec.encoder.provider)),
        ("decoder", hub.decoder(spec.decoder.name, spec.decoder.provider)),
    ]
    if spec.neck is not None:
        parts.append(("neck", hub.neck(spec.neck.name, spec.neck.provider)))
    for kind, entry in parts:
        info = entry.plugin
        key = (info.distribution, info.name)
        if key not in found:
            found[key] = Requirement(distribution=info.distribution, version=info.version, plugin=info.name)
        found[key].provides.append(f"{kind} {entry.name}")
    core = Requirement(distribution=CORE_DISTRIBUTION, version=_core_version(), provides=["core"])
    return [core, *found.values()]


def read_config(path: Path) -> PretrainedConfig:
    """Parse and validate a saved model's ``config.json``; problems raise :class:`SpecError`."""
    try:
        data = read_json_file(path)
    except (OSError, JSONInputError) as exc:
        raise SpecError([SpecIssue((), f"{CONFIG_NAME} cannot be read as JSON: {shorten(str(exc))}")]) from None
    if not isinstance(data, dict):
        raise SpecError([SpecIssue((), f"{CONFIG_NAME} must hold a JSON object, got {type(data).__name__}")])
    if "_model_class" in data:
        raise SpecError([SpecIssue((), (
            f"this {CONFIG_NAME} was written by segmentation_models_pytorch ({excerpt(data['_model_class'])}); "
            "import it with seghub.compat.smp.from_smp_pretrained(...)"
        ))])
    fmt = data.get("format", CONFIG_FORMAT)
    if isinstance(fmt, int) and not isinstance(fmt, bool) and fmt > CONFIG_FORMAT:
        raise SpecError([SpecIssue(("format",), (
            f"config format {excerpt(fmt)} is newer than this seghub understands ({CONFIG_FORMAT}); upgrade seghub-core"
        ))])
    try:
        check_version(data.get("spec"))
        return PretrainedConfig.model_validate(data)
    except SpecError as exc:
        raise rooted(exc, "spec") from None
    except ValidationError as exc:
        raise SpecError([_config_issue(issue) for issue in issues_from(exc)]) from None


def _config_issue(issue: SpecIssue) -> SpecIssue:
    """Point unknown config keys at the config's own keys, not at the spec schema."""
    if not issue.message.startswith("unknown key"):
        return issue
    model = Requirement if issue.loc[:1] == ("requires",) else PretrainedConfig
    return SpecIssue(issue.loc, f"unknown key in {CONFIG_NAME}; allowed here: {', '.join(model.model_fields)}")


def rooted(exc: SpecError, root: str) -> SpecError:
    """``exc`` with every issue's location prefixed by ``root``."""
    return SpecError([SpecIssue((root, *issue.loc), issue.message) for issue in exc.issues])


def check_requirements(config: PretrainedConfig) -> None:
    """Raise one :class:`PluginError` naming every needed distribution that is not installed
    and the pip command that installs them; or, when they are all installed, naming a needed
    plugin that is disabled or failed to load, and why."""
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
        _check_switched_on(config)
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


def _check_switched_on(config: PretrainedConfig) -> None:
    """Raise a :class:`PluginError` when a plugin the model needs is installed but off."""
    plugins = get_hub().plugins()
    for req in config.requires:
        if req.distribution is None or req.distribution == CORE_DISTRIBUTION:
            continue
        for info in plugins:
            same = info.distribution == req.distribution and (req.plugin is None or info.name == req.plugin)
            if same and info.status != "ok":
                what = ", ".join(req.provides) or "parts"
                raise PluginError(f"this model needs {what} from plugin {info.label}, which is installed but {why_off(info)}")
