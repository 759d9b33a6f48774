"""The plugin hub: discovers plugins through entry points, keeps their registrations, looks names up.

Discovery happens once, on the first lookup (never at ``import seghub``), and is cached. A
plugin that fails to import, declares an incompatible plugin-API version, or raises in a hook is
reported and skipped; ``SEGHUB_STRICT_PLUGINS=1`` makes that fatal. ``SEGHUB_DISABLE_PLUGINS``
(comma-separated entry-point or distribution names) turns plugins off.
"""

from __future__ import annotations

import fnmatch
import os
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import importlib_metadata
import pluggy

from .._excerpt import excerpt
from .._suggestions import close_matches
from ..errors import PluginConflictError, PluginError, UnknownNameError
from . import hookspecs
from ._entries import DecoderEntry, EncoderEntry, EncoderFamily, NeckEntry, PluginInfo
from ._registry import Registry
from ._switched_off import OffPlugin, off_plugins_note
from .hookspecs import PLUGIN_API_VERSION, PROJECT_NAME, REGISTRATION_HOOKS

__all__ = [
    "PluginHub",
    "get_hub",
    "register_plugin",
    "unregister_plugin",
    "list_plugins",
    "list_encoders",
    "list_decoders",
    "list_necks",
]

ENTRY_POINT_GROUP = "seghub"
STRICT_ENV = "SEGHUB_STRICT_PLUGINS"
DISABLE_ENV = "SEGHUB_DISABLE_PLUGINS"


def _normalize(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


@dataclass
class _Loaded:
    """One plugin: its status and, when it loaded, what it registered."""

    info: PluginInfo
    registry: Registry


class PluginHub:
    """Discovers plugins and answers lookups of encoder and decoder names."""

    def __init__(self) -> None:
        self._lock = threading.RLock()
        self._discovered = False
        self._plugins: dict[str, _Loaded] = {}
        self._manager = self._new_manager()
        self._sources: dict[str, Callable[[], object]] = {}  # how to load each plugin again
        self._off: dict[str, OffPlugin] = {}  # disabled or failed plugins, read for error messages

    @staticmethod
    def _new_manager() -> pluggy.PluginManager:
        manager = pluggy.PluginManager(PROJECT_NAME)
        manager.add_hookspecs(hookspecs)
        return manager

    # -- discovery ---------------------------------------------------------------------------

    def _ensure_discovered(self) -> None:
        if self._discovered:
            return
        with self._lock:
            if self._discovered:
                return
            self._discover()
            self._discovered = True

    def _discover(self) -> None:
        disabled = {_normalize(n) for n in os.environ.get(DISABLE_ENV, "").split(",") if n.strip()}
        seen: set[tuple[str, str]] = set()
        for ep in importlib_metadata.entry_points(group=ENTRY_POINT_GROUP):
            if (ep.name, ep.value) in seen:  # the same distribution visible twice on sys.path
                continue
            seen.add((ep.name, ep.value))
            dist = ep.dist
            info = PluginInfo(
                name=ep.name,
                distribution=dist.name if dist is not None else None,
                version=dist.version if dist is not None else None,
            )
            if ep.name in self._plugins:
                other = self._plugins[ep.name].info
                self._fail(info, f"entry point name {ep.name!r} is already used by {other.label}")
                continue
            self._sources[ep.name] = ep.load
            if {_normalize(ep.name), _normalize(info.label)} & disabled:
                disabled_info = replace(info, status="disabled", reason=f"listed in {DISABLE_ENV}")
                self._plugins[ep.name] = _Loaded(disabled_info, Registry(disabled_info))
                continue
            try:
                module = ep.load()
            except Exception as exc:  # any import-time failure of third-party code
                self._fail(info, f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}")
                continue
            self._add(module, info)

    def _fail(self, info: PluginInfo, reason: str) -> None:
        failed = replace(info, status="failed", reason=reason)
        self._plugins[info.name] = _Loaded(failed, Registry(failed))
        if os.environ.get(STRICT_ENV, "") not in ("", "0"):
            raise PluginError(f"plugin {info.label!r} ({info.name}) failed: {reason} [{STRICT_ENV} is set]")

    def _add(self, plugin: object, info: PluginInfo) -> PluginInfo:
        self._sources[info.name] = lambda: plugin
        api = getattr(plugin, "SEGHUB_PLUGIN_API", PLUGIN_API_VERSION)
        if api != PLUGIN_API_VERSION:
            self._fail(
                info,
                f"declares plugin API {api!r}, this seghub speaks {PLUGIN_API_VERSION}; "
                "install a plugin release made for this seghub-core (or upgrade seghub-core)",
            )
            return self._plugins[info.name].info
        try:
            self._manager.register(plugin, name=info.name)
        except Exception as exc:  # pluggy rejects malformed hook implementations
            self._fail(info, f"invalid hook implementation: {exc}")
            return self._plugins[info.name].info
        loaded = _Loaded(info, Registry(info))
        try:
            for hook_name in REGISTRATION_HOOKS:
                for impl in getattr(self._manager.hook, hook_name).get_hookimpls():
                    if impl.plugin_name == info.name:
                        impl.function(registry=loaded.registry)
        except Exception as exc:  # a hook that raises must not take the other plugins down
            self._manager.unregister(name=info.name)
            self._fail(info, f"registration hook raised {type(exc).__name__}: {exc}")
            return self._plugins[info.name].info
        self._plugins[info.name] = loaded
        return info

    # -- in-process plugins ------------------------------------------------------------------

    def register(self, plugin: object, name: str | None = None) -> PluginInfo:
        """Register a plugin object (a module or any object with hook implementations) now.

        For tests and notebooks; the same name twice is an error. Returns the plugin's status.
        """
        self._ensure_discovered()
        with self._lock:
            name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
            if name in self._plugins:
                raise PluginError(f"a plugin named {name!r} is already registered; unregister it first")
            return self._add(plugin, PluginInfo(name=name, in_process=True))

    def unregister(self, name: str) -> None:
        """Remove a plugin registered in-process (or any plugin, by entry-point name)."""
        with self._lock:
            if self._plugins.pop(name, None) is None:
                raise PluginError(f"no plugin named {name!r} is registered")
            self._sources.pop(name, None)
            self._off.pop(name, None)
            if self._manager.get_plugin(name) is not None:
                self._manager.unregister(name=name)

    def reload(self) -> None:
        """Forget everything and discover again on the next lookup (after installing plugins)."""
        with self._lock:
            self._plugins.clear()
            self._sources.clear()
            self._off.clear()
            self._manager = self._new_manager()
            self._discovered = False

    # -- queries -----------------------------------------------------------------------------

    def plugins(self) -> list[PluginInfo]:
        self._ensure_discovered()
        return [loaded.info for loaded in self._plugins.values()]

    def _ok(self) -> Iterable[_Loaded]:
        self._ensure_discovered()
        return [p for p in self._plugins.values() if p.info.status == "ok"]

    def _off_note(self, kind: str, name: str) -> str:
        """Which disabled or failed plugin offers ``name`` (see :mod:`._switched_off`)."""
        off = []
        for key, loaded in self._plugins.items():
            if loaded.info.status != "ok":
                off.append(self._off.setdefault(key, OffPlugin(loaded.info, self._sources.get(key))))
        return off_plugins_note(off, kind, name)

    def encoder(self, name: str, provider: str | None = None) -> EncoderEntry:
        """The entry for an encoder name; raises on unknown names and on unresolved conflicts."""
        candidates: list[EncoderEntry] = []
        for plugin in self._ok():
            candidates += [e for e in plugin.registry.encoders if e.name == name]
            for family in plugin.registry.families:
                if family.split(name) is not None and _provided_by(family.plugin, provider):
                    candidates.append(family.entry(name))
        return self._pick("encoder", name, candidates, provider, self._encoder_suggestions)

    def decoder(self, name: str, provider: str | None = None) -> DecoderEntry:
        """The entry for a decoder name (case-insensitive)."""
        key = name.lower()
        candidates = [d for plugin in self._ok() for d in plugin.registry.decoders if d.name == key]
        return self._pick("decoder", name, candidates, provider, lambda: [d.name for d in self.decoders()])

    def neck(self, name: str, provider: str | None = None) -> NeckEntry:
        """The entry for a neck name (case-insensitive)."""
        key = name.lower()
        candidates = [n for plugin in self._ok() for n in plugin.registry.necks if n.name == key]
        return self._pick("neck", name, candidates, provider, lambda: [n.name for n in self.necks()])

    def constructor(self, name: str) -> DecoderEntry | None:
        """The decoder whose smp-style constructor is called ``name`` (``"Unet"``), or None.

        Two plugins registering constructors of one name is an error naming both."""
        found = [d for plugin in self._ok() for d in plugin.registry.decoders if d.constructor_name == name]
        if len(found) > 1:
            labels = ", ".join(sorted(f"{d.plugin.label} (decoder {d.name!r})" for d in found))
            raise PluginConflictError(
                f"constructor {name!r} is registered by several plugins: {labels}; use "
                "seghub.create_model(<decoder name>, ...) with a provider, or build from a spec with decoder.provider"
            )
        return found[0] if found else None

    def _pick(self, kind: str, name: str, candidates: list[Any], provider: str | None, known: Any) -> Any:
        if provider is not None:
            chosen = [c for c in candidates if _provided_by(c.plugin, provider)]
            if not chosen:
                offered = ", ".join(sorted({c.plugin.label for c in candidates})) or "no plugin"
                raise UnknownNameError(
                    f"{kind} {excerpt(name)} is not offered by provider {excerpt(provider)} (offered by: {offered}); "
                    f"fix {kind}.provider or leave it null"
                )
            candidates = chosen
        if len(candidates) == 1:
            return candidates[0]
        if candidates:
            labels = sorted(c.plugin.label for c in candidates)
            raise PluginConflictError(
                f"{kind} {excerpt(name)} is offered by several plugins: {', '.join(labels)}; "
                f"pick one with {kind}.provider (e.g. \"provider\": {labels[0]!r})"
            )
        hint = ""
        close = close_matches(name if kind == "encoder" else name.lower(), known(), n=3)
        if close:
            hint = " Did you mean " + " or ".join(repr(c) for c in close) + "?"
        raise UnknownNameError(
            f"unknown {kind} {excerpt(name)}.{hint} `seghub {kind}s` lists the known names.{self._off_note(kind, name)}"
        )

    def _encoder_suggestions(self) -> list[str]:
        names = [e.name for e in self.encoders()]
        names += [f.prefix for plugin in self._ok() for f in plugin.registry.families]
        return names

    def encoders(self, pattern: str | None = None) -> list[EncoderEntry]:
        """Registered encoders matching ``pattern`` (fnmatch). Family members are listed only
        for a pattern that starts with the family's prefix or alias (``timm:*convnext*``)."""
        found: list[EncoderEntry] = []
        for plugin in self._ok():
            found += [e for e in plugin.registry.encoders if pattern is None or fnmatch.fnmatchcase(e.name, pattern)]
            for family in plugin.registry.families:
                found += _family_members(family, pattern)
        return sorted(found, key=lambda e: e.name)

    def families(self) -> list[EncoderFamily]:
        return [f for plugin in self._ok() for f in plugin.registry.families]

    def decoders(self, pattern: str | None = None) -> list[DecoderEntry]:
        found = [
            d
            for plugin in self._ok()
            for d in plugin.registry.decoders
            if pattern is None or fnmatch.fnmatch(d.name, pattern.lower())
        ]
        return sorted(found, key=lambda d: d.name)

    def necks(self, pattern: str | None = None) -> list[NeckEntry]:
        """Registered necks matching ``pattern``, in the order the builder tries them."""
        found = [
            n
            for plugin in self._ok()
            for n in plugin.registry.necks
            if pattern is None or fnmatch.fnmatch(n.name, pattern.lower())
        ]
        return sorted(found, key=lambda n: (n.priority, n.name))


def _provided_by(plugin: PluginInfo, provider: str | None) -> bool:
    if provider is None:
        return True
    wanted = _normalize(provider)
    return wanted in {_normalize(plugin.name), _normalize(plugin.label)}


def _family_members(family: EncoderFamily, pattern: str | None) -> list[EncoderEntry]:
    if pattern is None:
        return []
    for prefix in (family.prefix, *family.aliases):
        if pattern.startswith(prefix):
            rest = pattern[len(prefix):] or "*"
            return [family.member(name[len(family.prefix):]) for name in family.names(rest)]
    return []


_HUB = PluginHub()


def get_hub() -> PluginHub:
    """The process-wide plugin hub."""
    return _HUB


def register_plugin(plugin: object, name: str | None = None) -> PluginInfo:
    """Register a plugin object in-process (tests, notebooks): see :meth:`PluginHub.register`."""
    return _HUB.register(plugin, name)


def unregister_plugin(name: str) -> None:
    """Remove a plugin registered with :func:`register_plugin`."""
    _HUB.unregister(name)


def list_plugins() -> list[PluginInfo]:
    """Every discovered plugin with its status (ok, failed, disabled) and the reason."""
    return _HUB.plugins()


def list_encoders(pattern: str | None = None) -> list[str]:
    """Known encoder names matching ``pattern``; see :meth:`PluginHub.encoders`."""
    return [e.name for e in _HUB.encoders(pattern)]


def list_decoders(pattern: str | None = None) -> list[str]:
    """Known decoder names matching ``pattern``."""
    return [d.name for d in _HUB.decoders(pattern)]


def list_necks(pattern: str | None = None) -> list[str]:
    """Known neck names matching ``pattern``, in the order the builder tries them."""
    return [n.name for n in _HUB.necks(pattern)]
