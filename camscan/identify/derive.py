"""Derived observations: facts read out of a raw value, fed back through OUI and signature matching.

A value often contains another fact: a time-based UUID ends with the device's MAC, an IPv6
link-local address embeds it (EUI-64), an ONVIF `hardware/` scope or a UPnP modelName is a model
number, a `name/` scope is a badge, an mDNS SRV target is a serial. Each decoder below reads one
kind of fact from the observations it knows, and says how it read it, so the evidence can show
the derivation ("MAC 58:50:ed:1f:e3:85 read from the ONVIF endpoint UUID -> Hikvision OUI").

Decoders only read; they never decide. What a derived fact means is data: OUI blocks (oui/) for
MACs, and signatures on the `derived.*` channels (signatures/derived.toml) for models, badges and
serials. The list of decoders is `DECODERS`, in one place.
"""

from __future__ import annotations

import dataclasses
import enum
import fnmatch
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable

from camscan import channels
from camscan.macaddr import mac_from_eui64, normalise_mac
from camscan.model import Observation

MAX_CANDIDATES = 8  # tokens or MACs per observation: a hostile value must not cost much
MAX_VALUE_CHARS = 64  # a model, badge or serial longer than this is not one


class Kind(enum.StrEnum):
    MAC = "mac"
    MODEL = "model"
    BADGE = "badge"
    SERIAL = "serial"


# The signature channel each kind is matched on (signatures/derived.toml).
CHANNEL = {
    Kind.MODEL: channels.DERIVED_MODEL,
    Kind.BADGE: channels.DERIVED_BADGE,
    Kind.SERIAL: channels.DERIVED_SERIAL,
}


@dataclasses.dataclass(frozen=True, slots=True)
class Derived:
    """One fact read out of an observation's value, and how it was read."""

    kind: Kind
    value: str
    how: str  # "the ONVIF endpoint UUID (time-based: its node field is the MAC)"
    decoder: str  # the decoder's name, e.g. "uuid-mac"
    # Read from free text (a page title, an mDNS instance name a user can rename, a HomeKit
    # bridge can name after the camera it proxies), not from a field the device fills about
    # itself: it counts one strength lower.
    mention: bool = False


DecodeFn = Callable[[Observation], Iterable[Derived]]


@dataclasses.dataclass(frozen=True, slots=True)
class Decoder:
    name: str
    channels: tuple[str, ...]  # channel names or globs it reads
    decode: DecodeFn

    def reads(self, channel: str) -> bool:
        return any(fnmatch.fnmatchcase(channel, c) for c in self.channels)


# --- MACs ----------------------------------------------------------------------------------------

_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_WHERE = {
    channels.WSD_EPR: "the ONVIF endpoint UUID",
    channels.SADP_REPLY: "the SADP UUID",
    channels.SSDP_USN: "the UPnP USN UUID",
    channels.UPNP_MANUFACTURER: "the UPnP UDN",
    channels.UPNP_MODEL: "the UPnP UDN",
}


def mac_from_uuid(text: str) -> str | None:
    """The MAC in a time-based (version 1, RFC 4122 variant) UUID's node field, or None.

    RFC 4122 4.5: a node without a MAC has the multicast bit set; such a node is not a MAC.
    """
    try:
        u = uuid.UUID(text)
    except ValueError:
        return None
    if u.version != 1 or u.variant != uuid.RFC_4122:
        return None
    if u.node >> 40 & 1:  # multicast bit of the first octet: a random node, not a MAC
        return None
    return normalise_mac(f"{u.node:012x}")


def _uuid_macs(obs: Observation) -> Iterable[Derived]:
    texts = [obs.raw]
    if udn := obs.fields.get("udn"):
        texts = [udn]
    elif obs.channel in (channels.UPNP_MANUFACTURER, channels.UPNP_MODEL):
        return
    where = _WHERE.get(obs.channel, f"a UUID in {obs.channel}")
    seen: set[str] = set()
    for text in texts:
        for m in _UUID_RE.finditer(text[:4096]):
            mac = mac_from_uuid(m.group())
            if mac and mac not in seen and len(seen) < MAX_CANDIDATES:
                seen.add(mac)
                yield Derived(
                    Kind.MAC, mac, f"{where} (time-based: its node field is the MAC)", "uuid-mac"
                )


_LINK_LOCAL_RE = re.compile(r"\[?(fe80:[0-9a-fA-F:]+)")


def _eui64_macs(obs: Observation) -> Iterable[Derived]:
    seen: set[str] = set()
    for m in _LINK_LOCAL_RE.finditer(obs.raw[:4096]):
        mac = mac_from_eui64(m.group(1))
        if mac and mac not in seen and len(seen) < MAX_CANDIDATES:
            seen.add(mac)
            yield Derived(
                Kind.MAC,
                mac,
                "the IPv6 link-local address in the ONVIF XAddrs "
                "(EUI-64: the MAC with ff:fe in the middle)",
                "eui64-mac",
            )


_REPORTED_IN = {
    channels.SADP_REPLY: "the SADP reply's <MAC>",
    channels.DHIP_REPLY: 'the DHIP reply\'s "mac"',
    channels.DVRIP_REPLY: "the DVRIP reply's MAC text",
    channels.WSD_SCOPES: "the ONVIF MAC/ scope",
}


def _reported_macs(obs: Observation) -> Iterable[Derived]:
    mac = normalise_mac(obs.fields.get(channels.FIELD_MAC) or obs.mac)
    if mac:
        where = _REPORTED_IN.get(obs.channel, f"the {obs.probe or obs.channel} reply")
        yield Derived(Kind.MAC, mac, f"{where} (reported by the device)", "reported-mac")


def _router_macs(obs: Observation) -> Iterable[Derived]:
    mac = normalise_mac(obs.fields.get(channels.FIELD_MAC) or obs.mac or obs.raw)
    if mac:
        router = obs.fields.get(channels.FIELD_ROUTER) or "a router"
        yield Derived(
            Kind.MAC,
            mac,
            f"the ARP table of {router}, read over SNMP (the router's view)",
            "router-mac",
        )


# --- model numbers, badges, serials -------------------------------------------------------------

_SCOPE_PREFIX = "onvif://www.onvif.org/"
_TOKEN_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9/_.+-]{2,}")


def _tokens(text: str) -> list[str]:
    """Candidate model numbers in free text: word-like runs that hold a digit and a letter."""
    found: list[str] = []
    for m in _TOKEN_RE.finditer(text[:1024]):
        tok = m.group().strip("._/-")
        if (
            any(c.isdigit() for c in tok)
            and any(c.isalpha() for c in tok)
            and len(tok) <= MAX_VALUE_CHARS
            and tok not in found
        ):
            found.append(tok)
        if len(found) >= MAX_CANDIDATES:
            break
    return found


def onvif_scopes(raw: str) -> list[tuple[str, str]]:
    """(kind, decoded value) of each onvif:// scope: ("hardware", "DS-2CD2385G1-I"), ..."""
    out: list[tuple[str, str]] = []
    for scope in raw.split()[:64]:
        if scope.lower().startswith(_SCOPE_PREFIX):
            kind, _, value = scope[len(_SCOPE_PREFIX) :].partition("/")
            text = " ".join(urllib.parse.unquote(value, errors="replace").split())
            if text:
                out.append((kind.lower(), text))
    return out


def _scope_facts(obs: Observation) -> Iterable[Derived]:
    for kind, value in onvif_scopes(obs.raw):
        if kind == "hardware":
            yield Derived(
                Kind.MODEL, value[:MAX_VALUE_CHARS], "the ONVIF hardware/ scope", "onvif-scope"
            )
        elif kind == "name":
            badge, _, rest = value.partition(" ")
            yield Derived(
                Kind.BADGE, badge[:MAX_VALUE_CHARS], "the ONVIF name/ scope", "onvif-scope"
            )
            for tok in _tokens(rest):
                yield Derived(Kind.MODEL, tok, "the ONVIF name/ scope", "onvif-scope")
        elif kind in ("mfr", "manufacturer"):
            yield Derived(
                Kind.BADGE, value[:MAX_VALUE_CHARS], f"the ONVIF {kind}/ scope", "onvif-scope"
            )


_FIELD_WHERE = {
    channels.SADP_REPLY: ("SADP <DeviceDescription>", "SADP <DeviceSN>"),
    channels.DHIP_REPLY: ('DHIP "DeviceType"', 'DHIP "SerialNo"'),
    channels.DVRIP_REPLY: ("DVRIP Device:", "DVRIP SerialNo:"),
    channels.UPNP_MODEL: ("the UPnP modelName", "the UPnP serialNumber"),
    channels.SNMP_ENTERPRISE: ("the maker's SNMP model object", "the maker's SNMP serial object"),
}


def _parser_fields(obs: Observation) -> Iterable[Derived]:
    """Model and serial the discovery parser read from a structured reply."""
    model_where, serial_where = _FIELD_WHERE[obs.channel]
    for key, kind, where in (
        (channels.FIELD_MODEL, Kind.MODEL, model_where),
        ("model_number", Kind.MODEL, "the UPnP modelNumber"),
        (channels.FIELD_SERIAL, Kind.SERIAL, serial_where),
    ):
        value = obs.fields.get(key)
        if value and len(value) <= MAX_VALUE_CHARS:
            yield Derived(kind, value.strip(), where, "parser-field")
    if obs.channel == channels.DHIP_REPLY:
        for key in ("vendor", "manufacturer"):
            if value := obs.fields.get(key):
                yield Derived(
                    Kind.BADGE, value[:MAX_VALUE_CHARS], f'DHIP "{key.title()}"', "parser-field"
                )


def _upnp_manufacturer(obs: Observation) -> Iterable[Derived]:
    yield Derived(
        Kind.BADGE, obs.raw[:MAX_VALUE_CHARS].strip(), "the UPnP manufacturer", "upnp-manufacturer"
    )


_INSTANCE_MAC_RE = re.compile(r" - ([0-9A-Fa-f]{12})$")  # "AXIS M3045-V - ACCC8E123456"
_TXT_MAC_KEYS = frozenset({"macaddress", "mac", "mac_address", "hwaddr"})


def _mdns_instance(obs: Observation) -> Iterable[Derived]:
    label = obs.raw.split("._", 1)[0]
    badge, _, rest = label.partition(" ")
    if rest:
        yield Derived(
            Kind.BADGE, badge[:MAX_VALUE_CHARS], "the mDNS instance name", "mdns-name", mention=True
        )
    for tok in _tokens(label):
        yield Derived(Kind.MODEL, tok, "the mDNS instance name", "mdns-name", mention=True)
    if (m := _INSTANCE_MAC_RE.search(label)) and (mac := normalise_mac(m.group(1))):
        yield Derived(Kind.MAC, mac, "the mDNS instance name (reported by the device)", "mdns-name")


def _mdns_txt_macs(obs: Observation) -> Iterable[Derived]:
    for pair in obs.raw.split()[:32]:
        key, sep, value = pair.partition("=")
        if sep and key.lower() in _TXT_MAC_KEYS and (mac := normalise_mac(value)):
            yield Derived(
                Kind.MAC,
                mac,
                f"the mDNS TXT record {key}= (reported by the device)",
                "mdns-txt-mac",
            )


def _mdns_target(obs: Observation) -> Iterable[Derived]:
    host = obs.raw.strip().removesuffix(".").removesuffix(".local")
    if host and len(host) <= MAX_VALUE_CHARS and "." not in host:
        yield Derived(Kind.SERIAL, host, "the mDNS SRV target host name", "mdns-target")


def _title_models(obs: Observation) -> Iterable[Derived]:
    for tok in _tokens(obs.raw):
        yield Derived(Kind.MODEL, tok, "the page title", "title-model", mention=True)


def _sysdescr_models(obs: Observation) -> Iterable[Derived]:
    for tok in _tokens(obs.raw):
        yield Derived(Kind.MODEL, tok, "the SNMP sysDescr", "sysdescr-model", mention=True)


DECODERS: tuple[Decoder, ...] = (
    Decoder(
        "uuid-mac",
        (
            channels.WSD_EPR,
            channels.SADP_REPLY,
            channels.SSDP_USN,
            channels.UPNP_MANUFACTURER,
            channels.UPNP_MODEL,
        ),
        _uuid_macs,
    ),
    Decoder("eui64-mac", (channels.WSD_XADDRS,), _eui64_macs),
    Decoder(
        "reported-mac",
        (channels.SADP_REPLY, channels.DHIP_REPLY, channels.DVRIP_REPLY, channels.WSD_SCOPES),
        _reported_macs,
    ),
    Decoder("router-mac", (channels.SNMP_ROUTER_MAC,), _router_macs),
    Decoder("onvif-scope", (channels.WSD_SCOPES,), _scope_facts),
    Decoder("parser-field", tuple(_FIELD_WHERE), _parser_fields),
    Decoder("upnp-manufacturer", (channels.UPNP_MANUFACTURER,), _upnp_manufacturer),
    Decoder("mdns-name", (channels.MDNS_INSTANCE,), _mdns_instance),
    Decoder("mdns-target", (channels.MDNS_SERVER,), _mdns_target),
    Decoder("mdns-txt-mac", (channels.MDNS_TXT,), _mdns_txt_macs),
    Decoder("title-model", (channels.HTTP_TITLE,), _title_models),
    Decoder("sysdescr-model", (channels.SNMP_SYSDESCR,), _sysdescr_models),
)


_FOR_CHANNEL: dict[str, tuple[Decoder, ...]] = {}  # channel -> the decoders that read it


def decoders_for(channel: str) -> tuple[Decoder, ...]:
    found = _FOR_CHANNEL.get(channel)
    if found is None:
        found = tuple(d for d in DECODERS if d.reads(channel))
        if len(_FOR_CHANNEL) < 4096:  # channel names come from devices: bound the cache
            _FOR_CHANNEL[channel] = found
    return found


def derive(obs: Observation, decoders: Iterable[Decoder] | None = None) -> list[Derived]:
    """Every fact the decoders (default: DECODERS) read out of one observation, no repeats."""
    found: list[Derived] = []
    seen: set[tuple[Kind, str]] = set()
    chosen = (
        decoders_for(obs.channel)
        if decoders is None
        else [d for d in decoders if d.reads(obs.channel)]
    )
    for decoder in chosen:
        for fact in decoder.decode(obs):
            key = (fact.kind, fact.value.lower())
            if fact.value and key not in seen:
                seen.add(key)
                found.append(fact)
    return found
