"""The plugin machinery: hooks, the registry plugins fill, and the hub that discovers and looks up.

* :mod:`seghub.plugins.hookspecs`: the hooks a plugin implements (``seghub_register_encoders``,
  ``seghub_register_decoders``, ``seghub_register_necks``) and the :data:`hookimpl` marker.
* :class:`Registry`: what the hooks are handed; ``add_encoder``, ``add_encoder_family``,
  ``add_decoder``, ``add_neck`` record entries (:class:`EncoderEntry`, :class:`EncoderFamily`,
  :class:`DecoderEntry`, :class:`NeckEntry`) holding ``"module:attr"`` references, imported only when built.
* :class:`DecoderConstraints` and :class:`FeatureRule`: what a decoder declares it can take.
* :class:`PluginHub` (``get_hub()``): entry-point discovery, once and lazily, and lookups by name.
* The protocols a part implements: :class:`Encoder`, :class:`Decoder`, and the optional
  extensions (:class:`InputDivisor`, :class:`PrefixTokenEncoder`, ...), from
  :mod:`seghub._protocols`.

Importing this package imports neither torch nor the discovery machinery.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_attributes
from ._constraints import DecoderConstraints, FeatureRule
from ._entries import DecoderEntry, EncoderEntry, EncoderFamily, NeckEntry, PluginInfo
from ._references import resolve
from ._registry import Registry
from .hookspecs import PLUGIN_API_VERSION, hookimpl

_LAZY = {
    **{
        name: "seghub.plugins._discovery"
        for name in (
            "PluginHub", "get_hub", "register_plugin", "unregister_plugin", "list_plugins", "list_encoders",
            "list_decoders", "list_necks", "ENTRY_POINT_GROUP",
        )
    },
    # the protocols a part implements, required and optional (they import torch)
    **{
        name: "seghub._protocols"
        for name in (
            "Encoder", "Decoder", "Neck", "InputDivisor", "DivisibleInputRule", "PrefixTokenEncoder", "PrefixTokenDecoder",
            "GradCheckpointable", "SmpStateDictConverter", "SmpModelStateDictConverter",
        )
    },
}

__all__ = [
    "PLUGIN_API_VERSION",
    "hookimpl",
    "Registry",
    "PluginInfo",
    "EncoderEntry",
    "EncoderFamily",
    "DecoderEntry",
    "NeckEntry",
    "DecoderConstraints",
    "FeatureRule",
    "resolve",
    *_LAZY,
]

__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

if TYPE_CHECKING:
    from ._discovery import (
        ENTRY_POINT_GROUP,
        PluginHub,
        get_hub,
        list_decoders,
        list_encoders,
        list_necks,
        list_plugins,
        register_plugin,
        unregister_plugin,
    )
