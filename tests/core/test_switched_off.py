"""A name whose plugin is installed but disabled or failed to load: the unknown-name error and
from_pretrained say which plugin offers it and why it is off (issue 17, item 10)."""

from __future__ import annotations

import sys
import textwrap

import pytest
import torch

import seghub
from seghub.errors import PluginError, UnknownNameError
from toy_plugins import toy_module

SPEC = {"encoder": {"name": "acme_enc", "depth": 2}, "decoder": {"name": "acme_head"}}

FAMILY_MODULE = """
    import seghub

    @seghub.hookimpl
    def seghub_register_encoders(registry):
        registry.add_encoder_family("acme:", factory="toy_plugins:ToyEncoder")
"""

HALF_MODULE = """
    import seghub

    @seghub.hookimpl
    def seghub_register_encoders(registry):
        registry.add_encoder("half_enc", factory="toy_plugins:ToyEncoder")
        raise RuntimeError("boom")
"""


def _message(find, name: str) -> str:
    with pytest.raises(UnknownNameError) as info:
        find(name)
    return str(info.value)


def test_a_disabled_plugin_is_named_with_why_and_only_read_when_needed(fake_dist, hub, monkeypatch):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    monkeypatch.setenv("SEGHUB_DISABLE_PLUGINS", "acme")
    hub.reload()
    hub.plugins()
    assert "acme_plugin" not in sys.modules  # disabled: not imported to discover
    message = _message(hub.encoder, "acme_enc")
    assert "Plugin acme-seghub offers encoder 'acme_enc' but is disabled (listed in SEGHUB_DISABLE_PLUGINS)" in message
    assert "take it out of that list" in message
    assert "offers decoder 'ACME_HEAD' but is disabled" in _message(hub.decoder, "ACME_HEAD")
    assert "acme-seghub" not in _message(hub.encoder, "elsewhere")  # it does not offer that
    with pytest.raises(UnknownNameError, match=r"^encoder\.name: unknown encoder 'acme_enc'.*disabled"):
        seghub.build_model(SPEC)
    with pytest.raises(UnknownNameError):  # reading what it offers made nothing available
        hub.encoder("acme_enc")


def test_an_encoder_family_of_a_disabled_plugin(fake_dist, hub, monkeypatch):
    fake_dist("acme-seghub", "acme", "acme_plugin", FAMILY_MODULE)
    monkeypatch.setenv("SEGHUB_DISABLE_PLUGINS", "acme-seghub")
    hub.reload()
    assert "offers encoder 'acme:thing' but is disabled" in _message(hub.encoder, "acme:thing")


@pytest.mark.parametrize(
    ("source", "name", "why"),
    [
        ("SEGHUB_PLUGIN_API = 99\n" + toy_module("future_enc"), "future_enc", "failed to load (declares plugin API 99"),
        (HALF_MODULE, "half_enc", "failed to load (registration hook raised RuntimeError: boom)"),
    ],
    ids=["api", "hook"],
)
def test_a_failed_plugin_that_can_still_say_what_it_offers(fake_dist, hub, source, name, why):
    fake_dist("sad-seghub", "sad", "sad_plugin", source)
    message = _message(hub.encoder, name)
    assert f"Plugin sad-seghub offers encoder {name!r} but {why}" in message
    assert "`seghub plugins` lists it" in message


def test_a_plugin_whose_import_fails_may_offer_it(fake_dist, hub):
    fake_dist("broken-seghub", "broken", "broken_plugin", "raise ImportError('needs libfoo')\n")
    message = _message(hub.encoder, "anything")
    assert "may have offered it: broken-seghub (import of 'broken_plugin' failed: ImportError: needs libfoo)" in message


def test_from_pretrained_says_a_needed_plugin_is_disabled(fake_dist, hub, monkeypatch, tmp_path):
    fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    folder = seghub.build_model(SPEC).save_pretrained(tmp_path / "acme")
    monkeypatch.setenv("SEGHUB_DISABLE_PLUGINS", "acme-seghub")
    hub.reload()
    with pytest.raises(PluginError, match=(
        r"needs encoder acme_enc, decoder acme_head from plugin acme-seghub, which is installed but is disabled "
        r"\(listed in SEGHUB_DISABLE_PLUGINS\)"
    )):
        seghub.from_pretrained(folder)
    monkeypatch.delenv("SEGHUB_DISABLE_PLUGINS")
    hub.reload()
    assert seghub.from_pretrained(folder)(torch.zeros(1, 3, 8, 8)).shape == (1, 1, 8, 8)


def test_from_pretrained_says_a_needed_plugin_failed(fake_dist, hub, monkeypatch, tmp_path):
    site = fake_dist("acme-seghub", "acme", "acme_plugin", toy_module())
    folder = seghub.build_model(SPEC).save_pretrained(tmp_path / "acme")
    (site / "acme_plugin.py").write_text("SEGHUB_PLUGIN_API = 99\n" + textwrap.dedent(toy_module()))
    monkeypatch.delitem(sys.modules, "acme_plugin")
    hub.reload()
    with pytest.raises(PluginError, match="from plugin acme-seghub, which is installed but failed to load "
                                          r"\(declares plugin API 99"):
        seghub.from_pretrained(folder)
