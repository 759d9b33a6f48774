"""``seghub schema [NAME]``: the JSON Schema of the model spec, or of one plugin part's params.

Without NAME it prints the spec's schema. With NAME, an encoder or decoder name, it prints the
JSON Schema of that part's ``params`` as its plugin's pydantic model declares them, with each
field's description and default: what the "unknown key" errors of ``encoder.params`` and
``decoder.params`` point at. The kinds of part are one table; another kind (necks) is one more
line in it.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from ._excerpt import excerpt
from .errors import PluginError, SeghubError, UnknownNameError
from .plugins import get_hub

__all__ = ["PART_KINDS", "add_schema_command", "params_schema"]

Lookup = Callable[[str, "str | None"], Any]

PART_KINDS: dict[str, Callable[[Any], Lookup]] = {
    # kind -> the hub's lookup of a name of that kind (name, provider) -> registry entry
    "encoder": lambda hub: hub.encoder,
    "decoder": lambda hub: hub.decoder,
    "neck": lambda hub: hub.neck,
}


def add_schema_command(subparsers: Any) -> None:
    """Add ``schema`` to the ``seghub`` command's subcommands."""
    parser = subparsers.add_parser(
        "schema", help="print the JSON Schema of the model spec, or of NAME's params (an encoder or decoder)"
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="a part's name: print the JSON Schema of its params")
    parser.add_argument("--kind", choices=tuple(PART_KINDS), help="which kind of part NAME is, when several have it")
    parser.add_argument("--provider", help="the plugin to take NAME from, when several offer it")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if args.name is None:
        if args.kind or args.provider:
            raise SeghubError("--kind and --provider apply to a NAME: `seghub schema NAME --kind decoder`")
        from ._spec import model_schema

        schema = model_schema()
    else:
        schema = params_schema(args.name, kind=args.kind, provider=args.provider)
    print(json.dumps(schema, indent=2))
    return 0


def params_schema(name: str, *, kind: str | None = None, provider: str | None = None) -> dict[str, Any]:
    """The JSON Schema of the ``params`` of the part called ``name`` (of ``kind``, from
    ``provider``, when given). Raises :class:`~seghub.UnknownNameError` when no part of those
    kinds is called ``name``, and :class:`~seghub.SeghubError` when several kinds are."""
    hub = get_hub()
    found, unknown = [], []
    for each in [kind] if kind else list(PART_KINDS):
        try:
            found.append((each, PART_KINDS[each](hub)(name, provider)))
        except UnknownNameError as exc:
            unknown.append(str(exc))
    if not found:
        if len(unknown) == 1:
            raise UnknownNameError(unknown[0])
        names = list(PART_KINDS)
        kinds = ", ".join(names[:-1]) + " or " + names[-1] if len(names) > 1 else names[0]
        raise UnknownNameError(f"no {kinds} is called {excerpt(name)}: " + " / ".join(unknown))
    if len(found) > 1:
        kinds = ", ".join(each for each, _ in found)
        raise SeghubError(f"{excerpt(name)} is the name of several kinds of part ({kinds}); pick one with --kind")
    return _schema_of(*found[0])


def _schema_of(kind: str, entry: Any) -> dict[str, Any]:
    from pydantic import BaseModel

    where = f"{kind} {entry.name!r} (plugin {entry.plugin.label})"
    model = entry.load_params_model()
    if model is None:
        return {
            "title": f"{kind}.params of {entry.name}",
            "description": f"{where} declares no params model: its params go to the factory unchecked.",
            "type": "object",
        }
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise PluginError(f"{where} declares a params model that is not a pydantic model: {model!r}")
    schema = model.model_json_schema()
    return {"title": f"{kind}.params of {entry.name}", **{k: v for k, v in schema.items() if k != "title"},
            "$comment": f"{where}; from the pydantic model {model.__module__}.{model.__qualname__}"}
