"""The hooks a seghub plugin implements.

A plugin is a module named by an entry point in the ``seghub`` group. It implements
one or both hooks below with the :data:`hookimpl` marker and registers its encoders and
decoders on the registry it is handed. Registration stores factories as ``"module:attr"``
strings, so the plugin module itself imports neither torch nor timm.

A plugin may declare the plugin-API version it was written for as a module constant
``SEGHUB_PLUGIN_API = 1``; a plugin declaring a version this seghub does not speak is
reported and skipped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    from ._registry import Registry

__all__ = [
    "PROJECT_NAME",
    "PLUGIN_API_VERSION",
    "hookspec",
    "hookimpl",
    "REGISTRATION_HOOKS",
    "seghub_register_encoders",
    "seghub_register_decoders",
    "seghub_register_necks",
]

PROJECT_NAME = "seghub"
PLUGIN_API_VERSION = 1
"""The plugin-API version this seghub speaks; plugins declare theirs as ``SEGHUB_PLUGIN_API``."""

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def seghub_register_encoders(registry: Registry) -> None:
    """Register the plugin's encoders.

    Call :meth:`~seghub.Registry.add_encoder` for each fixed name, or
    :meth:`~seghub.Registry.add_encoder_family` for a prefix that covers an open
    set of names (``timm:<model>``).
    """


@hookspec
def seghub_register_decoders(registry: Registry) -> None:
    """Register the plugin's decoders with :meth:`~seghub.Registry.add_decoder`."""


@hookspec
def seghub_register_necks(registry: Registry) -> None:
    """Register the plugin's necks with :meth:`~seghub.Registry.add_neck`."""


REGISTRATION_HOOKS: tuple[str, ...] = ("seghub_register_encoders", "seghub_register_decoders", "seghub_register_necks")
"""Every hook a plugin may implement, in the order seghub calls them."""
