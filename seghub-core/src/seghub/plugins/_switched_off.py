"""What the plugins that are off would offer, so that an unknown name can say where it lives.

A name no working plugin offers may belong to a plugin that is installed but disabled
(``SEGHUB_DISABLE_PLUGINS``) or that failed to load (an incompatible plugin API, a hook that
raised). Only when such a name is reported, seghub loads that plugin's hook module again (hook
modules are import-light by contract), runs its registration hooks on a registry of its own and
reads what they recorded; none of it becomes available. A plugin whose import itself fails cannot
say what it offers: the message names it as one that may.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pluggy

from .._excerpt import excerpt
from . import hookspecs
from ._entries import PluginInfo
from ._registry import Registry

__all__ = ["OffPlugin", "why_off", "off_plugins_note"]

_UNREAD = object()


@dataclass
class OffPlugin:
    """A plugin that is disabled or failed, and how to get its hook module or object again."""

    info: PluginInfo
    load: Callable[[], object] | None
    _offers: Any = field(default=_UNREAD, repr=False)

    def offers(self) -> Registry | None:
        """What its hooks register, read once; None when the plugin cannot be loaded to say."""
        if self._offers is _UNREAD:
            self._offers = _registrations(self.load, self.info)
        return self._offers


def _registrations(load: Callable[[], object] | None, info: PluginInfo) -> Registry | None:
    if load is None:
        return None
    registry = Registry(info)
    try:
        manager = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        manager.register(load(), name=info.name)
    except Exception:  # noqa: BLE001 - third-party code that already failed once; it cannot say
        return None
    for name in hookspecs.REGISTRATION_HOOKS:
        for impl in getattr(manager.hook, name).get_hookimpls():
            try:
                impl.function(registry=registry)
            except Exception:  # noqa: BLE001 - what it registered before raising still counts
                pass
    return registry


def _offered(registry: Registry, kind: str, name: str) -> bool:
    entries = getattr(registry, f"{kind}s", [])
    if any(getattr(entry, "name", None) in (name, name.lower()) for entry in entries):
        return True
    return kind == "encoder" and any(family.split(name) is not None for family in registry.families)


def why_off(info: PluginInfo) -> str:
    """Why a plugin is off and what to do about it, as one clause."""
    if info.status == "disabled":
        return f"is disabled ({info.reason}); take it out of that list to use it"
    return f"failed to load ({info.reason}); `seghub plugins` lists it"


def off_plugins_note(plugins: Iterable[OffPlugin], kind: str, name: str) -> str:
    """A sentence for the unknown-name error of ``kind`` ``name``: which disabled or failed
    plugin offers it and why it is off, or which failed plugins may; empty when none."""
    offering, unknown = [], []
    for plugin in plugins:
        registry = plugin.offers()
        if registry is None:
            if plugin.info.status == "failed":
                unknown.append(plugin.info)
        elif _offered(registry, kind, name):
            offering.append(plugin.info)
    notes = [f" Plugin {info.label} offers {kind} {excerpt(name)} but {why_off(info)}." for info in offering]
    if unknown and not offering:
        names = ", ".join(f"{info.label} ({info.reason})" for info in unknown)
        notes.append(f" Note: these plugins failed to load and may have offered it: {names}.")
    return "".join(notes)
