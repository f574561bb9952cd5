"""The emulator keeps what it has rendered (a big lab answers thousands of identical queries),
yet every persona's discovery replies stay byte for byte what a fresh rendering gives: the same
for every query, the current one for a text that names ${date}, a new one for a new probe id.
No lab needed: each reply function is called with the inquiries camscan itself sends."""

from __future__ import annotations

import ipaddress
import re
import string
from typing import Any

import pytest

from camscan.discovery.registry import REGISTRY
from camscan.discovery.ssdp import M_SEARCH
from camscan.lab.persona import bundled_persona_names, load_persona
from camscan.lab.services import common, dhip, sadp, ssdp, wsd

ANSWERS = {"sadp": sadp.answer, "dhip": dhip.answer, "ssdp": ssdp.answer, "wsd": wsd.answer}
MESSAGE_ID = re.compile(rb"(<wsadis:MessageID>urn:uuid:)[0-9a-f-]{36}")  # new for every reply


def context(persona: str, n: int = 7) -> common.DeviceContext:
    ip = ipaddress.IPv4Address(f"198.18.5.{n}")
    p = load_persona(persona)
    mac = "02:00:00:12:05:07"
    return common.DeviceContext(
        ip=str(ip), ifname="d0", ifindex=0, mac=mac, persona=persona, vars=p.device_vars(ip, mac)
    )


def inquiries(name: str) -> list[bytes]:
    if name == "ssdp":  # asked by multicast only: camscan's M-SEARCH, and one for the root device
        return [M_SEARCH, M_SEARCH.replace(b"ssdp:all", b"upnp:rootdevice")]
    spec = next(s for s in REGISTRY if s.name == name)
    return spec.payloads()


def comparable(reply: bytes | None) -> bytes | None:
    return None if reply is None else MESSAGE_ID.sub(rb"\1ID", reply)


def cases() -> list[tuple[str, str]]:
    return [
        (persona, name)
        for persona in bundled_persona_names()
        for name in ANSWERS
        if name in load_persona(persona).services
    ]


@pytest.mark.parametrize(("persona", "name"), cases())
def test_kept_replies_are_fresh_replies(persona: str, name: str) -> None:
    conf: dict[str, Any] = load_persona(persona).services[name]
    kept = ANSWERS[name](context(persona), conf)
    answered = 0
    for query in inquiries(name) * 3:
        fresh = ANSWERS[name](context(persona), conf)(query)  # a context that has kept nothing
        again = kept(query)
        assert comparable(again) == comparable(fresh)
        answered += again is not None
    assert answered, f"{persona} answered none of camscan's {name} inquiries"


def test_a_new_probe_id_is_a_new_reply() -> None:
    """SADP echoes the probe's Uuid: a kept rendering must not answer a later probe."""
    conf = load_persona("hikvision-ipc").services["sadp"]
    reply = sadp.answer(context("hikvision-ipc"), conf)
    first, second = (
        reply(f"<Probe><Uuid>{u}</Uuid><Types>inquiry</Types></Probe>".encode())
        for u in ("AAAA-1", "BBBB-2")
    )
    assert first is not None and second is not None
    assert b"<Uuid>AAAA-1</Uuid>" in first and b"<Uuid>BBBB-2</Uuid>" in second


def test_render_keeps_only_what_cannot_change() -> None:
    ctx = context("hilook")
    values = {**ctx.vars, "ip6": "::"}
    for text in ("${model} at ${ip}", "serial ${serial9} ${missing}"):
        expected = string.Template(text).safe_substitute(values)
        assert ctx.render(text) == ctx.render(text) == expected
    dated = "Date: ${date}"
    assert ctx.render(dated).startswith("Date: ") and "${date}" not in ctx.render(dated)
    assert all(key[0] != dated for key in ctx.rendered)  # the time is never kept
    assert ctx.render("${probe_uuid}", probe_uuid="x") == "x"
    assert ctx.render("${probe_uuid}", probe_uuid="y") == "y"
