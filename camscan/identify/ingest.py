"""Observations from data the user already has: JSON lines, a pasted banner, nmap -sV XML.

Nothing here touches the network. Bad input gives one-line errors (a list for JSON lines, where
good lines still count; IngestError for a whole document), never a traceback.
"""

from __future__ import annotations

import html
import ipaddress
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

import defusedxml
import defusedxml.ElementTree as SafeET

from camscan import channels
from camscan.errors import DataError
from camscan.identify.signatures import NMAP_SERVICE, channel_is_known
from camscan.model import Device, Observation

MAX_RAW_CHARS = 65536
MAX_LINE_CHARS = 1 << 20
MAX_XML_BYTES = 256 << 20
_MAC_RE = re.compile(r"[0-9a-f]{2}(?:[:-][0-9a-f]{2}){5}")
_HEADER_RE = re.compile(r"([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*(.*)")
_TITLE_RE = re.compile(r"<title[^>]*>(.*?)</title>", re.IGNORECASE | re.DOTALL)


class IngestError(DataError):
    """A whole input cannot be read; the message is one line."""


# --- JSON lines -------------------------------------------------------------------------------


def _jsonl_observation(doc: object, default_probe: str) -> Observation:
    if not isinstance(doc, dict):
        raise ValueError("not a JSON object")
    channel, raw = doc.get("channel"), doc.get("raw")
    if not isinstance(channel, str) or any(c in channel for c in "*?[") or not channel_is_known(
        channel
    ):
        raise ValueError(f"unknown channel {channel!r} (see camscan/channels.py)")
    if not isinstance(raw, str):
        raise ValueError("'raw' must be a string")
    ip, mac = doc.get("ip"), doc.get("mac")
    if ip is not None:
        if not isinstance(ip, str):
            raise ValueError("'ip' must be a string")
        ip = str(ipaddress.ip_address(ip.strip()))
    if mac is not None:
        if not isinstance(mac, str) or not _MAC_RE.fullmatch(mac.strip().lower()):
            raise ValueError(f"'mac' is not a MAC address: {mac!r}")
        mac = mac.strip().lower().replace("-", ":")
    probe = doc.get("probe", default_probe)
    fields = doc.get("fields", {})
    if not isinstance(probe, str) or not isinstance(fields, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in fields.items()
    ):
        raise ValueError("'probe' must be a string and 'fields' an object of strings")
    return Observation(channel, raw[:MAX_RAW_CHARS], probe, ip=ip, mac=mac, fields=dict(fields))


def observations_from_jsonl(
    lines: Iterable[str | bytes], probe: str = "import"
) -> tuple[list[Observation], list[str]]:
    """One observation per line {"channel", "raw", optional "ip", "mac", "probe", "fields"}."""
    found: list[Observation] = []
    errors: list[str] = []
    for n, line in enumerate(lines, 1):
        text = line.decode("utf-8", "replace") if isinstance(line, bytes) else line
        if not text.strip():
            continue
        if len(text) > MAX_LINE_CHARS:
            errors.append(f"line {n}: longer than {MAX_LINE_CHARS} characters")
            continue
        try:
            found.append(_jsonl_observation(json.loads(text), probe))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: not JSON: {e.msg} (column {e.colno})")
        except (ValueError, RecursionError) as e:
            errors.append(f"line {n}: {' '.join(str(e).split()) or 'invalid'}")
    return found, errors


# --- Banners ----------------------------------------------------------------------------------


def _response_head(text: str, probe: str) -> list[Observation]:
    """An HTTP or RTSP response: status, one observation per header, header block, body."""
    is_rtsp = text.startswith("RTSP/")
    status_ch, header_ch, block_ch = (
        (channels.RTSP_STATUS, channels.RTSP_HEADER, channels.RTSP_HEADERS) if is_rtsp
        else (channels.HTTP_STATUS, channels.HTTP_HEADER, channels.HTTP_HEADERS)
    )
    parts = re.split(r"\r?\n\r?\n", text, maxsplit=1)
    head_lines = parts[0].splitlines()
    body = parts[1] if len(parts) > 1 else ""
    out = [Observation(status_ch, head_lines[0].strip(), probe)]
    for line in head_lines[1:]:
        m = _HEADER_RE.fullmatch(line.strip())
        if m:
            out.append(Observation(header_ch + m[1].lower(), m[2].strip()[:MAX_RAW_CHARS], probe))
    out.append(Observation(block_ch, "\r\n".join(head_lines)[:MAX_RAW_CHARS], probe))
    if body.strip():
        if is_rtsp:
            out.append(Observation(channels.RTSP_SDP, body[:MAX_RAW_CHARS], probe))
        else:
            out.append(Observation(channels.HTTP_BODY, body[:MAX_RAW_CHARS], probe))
            if title := _TITLE_RE.search(body[:MAX_RAW_CHARS]):
                clean = " ".join(html.unescape(title[1]).split())
                out.append(Observation(channels.HTTP_TITLE, clean, probe))
    return out


def observations_from_banner(text: str, probe: str = "banner") -> list[Observation]:
    """Guess what a pasted banner is: a response head, header lines, a discovery reply, or
    (failing all) a bare Server value like "Hikvision-Webs"."""
    text = text.strip("\r\n\t \x00")[:MAX_RAW_CHARS]
    if not text:
        return []
    if text.startswith(("HTTP/", "RTSP/")):
        return _response_head(text, probe)
    guesses = (
        ("<ProbeMatch>", channels.SADP_REPLY),
        ("client.notifyDevInfo", channels.DHIP_REPLY),
        ("onvif://", channels.WSD_SCOPES),
    )
    for marker, channel in guesses:
        if marker in text:
            return [Observation(channel, text, probe)]
    if text.startswith("v=0"):
        return [Observation(channels.RTSP_SDP, text, probe)]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    headers = [m for ln in lines if (m := _HEADER_RE.fullmatch(ln))]
    if len(headers) == len(lines):
        return [Observation(channels.HTTP_HEADER + m[1].lower(), m[2].strip(), probe)
                for m in headers]
    return [Observation(channels.HTTP_HEADER + "server", lines[0], probe)]


# --- nmap XML ---------------------------------------------------------------------------------

_FP_RESPONSE = re.compile(r'r\(([^,()]+),[0-9A-Fa-f]+,"((?:[^"\\]|\\.)*)"\)', re.DOTALL)
_FP_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_FP_CONTROL = {b"0": b"\x00", b"r": b"\r", b"n": b"\n", b"t": b"\t"}
_RDN_KEYS = (("commonName", "CN"), ("organizationalUnitName", "OU"), ("organizationName", "O"),
             ("localityName", "L"), ("stateOrProvinceName", "ST"), ("countryName", "C"))


def _fp_bytes(escaped: str) -> bytes:
    def one(m: re.Match[bytes]) -> bytes:
        s = m[1]
        if len(s) == 3:
            return bytes([int(s[1:], 16)])
        return _FP_CONTROL.get(s, s)

    return _FP_ESCAPE.sub(one, escaped.encode("latin-1", "replace"))


def _servicefp_observations(fp: str, port: str, probe: str) -> list[Observation]:
    """Replies nmap kept for a service it could not name (its SF: fingerprint lines)."""
    joined = re.sub(r"\n?SF:", "", fp)
    out: list[Observation] = []
    for probe_name, escaped in _FP_RESPONSE.findall(joined):
        reply = _fp_bytes(escaped)
        if reply.startswith((b"HTTP/", b"RTSP/")):
            out.extend(observations_from_banner(reply.decode("utf-8", "replace"), probe))
        elif probe_name == "NULL" and reply:
            out.append(Observation(channels.TCP_BANNER + port, reply[:4096].hex(), probe))
    return out


def _cert_subject(script: ET.Element, key: str) -> str | None:
    table = script.find(f"table[@key='{key}']")
    if table is None:
        return None
    values = {e.get("key"): (e.text or "").strip() for e in table.findall("elem")}
    parts = [f"{short}={values[long]}" for long, short in _RDN_KEYS if values.get(long)]
    return ",".join(parts) or None


def _script_observations(script: ET.Element, probe: str) -> list[Observation]:
    sid, output = script.get("id", ""), (script.get("output") or "").strip()
    if sid == "http-title" and output and not output.startswith("Site doesn't have a title"):
        title = script.findtext("elem[@key='title']") or output
        return [Observation(channels.HTTP_TITLE, " ".join(title.split()), probe)]
    if sid == "http-server-header":
        return [Observation(channels.HTTP_HEADER + "server", ln.strip(), probe)
                for ln in output.splitlines() if ln.strip()]
    if sid == "rtsp-methods" and output:
        return [Observation(channels.RTSP_HEADER + "public", " ".join(output.split()), probe)]
    if sid == "http-favicon" and (md5 := re.search(r"\b[0-9A-Fa-f]{32}\b", output)):
        return [Observation(channels.HTTP_FAVICON_MD5, md5[0].lower(), probe)]
    if sid == "ssl-cert":
        return [Observation(ch, value, probe) for ch, key in
                ((channels.TLS_SUBJECT, "subject"), (channels.TLS_ISSUER, "issuer"))
                if (value := _cert_subject(script, key))]
    return []


def _port_observations(port: ET.Element) -> list[Observation]:
    state = port.find("state")
    if state is None or state.get("state") != "open":
        return []
    number, proto = port.get("portid", ""), port.get("protocol", "tcp")
    probe = f"nmap:{number}/{proto}"
    out = [Observation(channels.TCP_OPEN, number, probe)] if proto == "tcp" else []
    service = port.find("service")
    if service is not None:
        product = " ".join(service.get(k, "") for k in ("product", "version")).strip()
        if extra := service.get("extrainfo"):
            product += f" ({extra})"
        if product:
            out.append(Observation(NMAP_SERVICE, product, probe))
        if fp := service.get("servicefp"):
            out.extend(_servicefp_observations(fp, number, probe))
    for script in port.findall("script"):
        out.extend(_script_observations(script, probe))
    return out


def _host_device(host: ET.Element) -> Device | None:
    status = host.find("status")
    if status is not None and status.get("state") != "up":
        return None
    ip = mac = vendor = None
    for addr in host.findall("address"):
        kind, value = addr.get("addrtype"), (addr.get("addr") or "").strip()
        if kind in ("ipv4", "ipv6") and (ip is None or kind == "ipv4") and value:
            ip = value
        elif kind == "mac" and _MAC_RE.fullmatch(value.lower()):
            mac, vendor = value.lower().replace("-", ":"), addr.get("vendor")
    if ip is None:
        return None
    device = Device(ip=ip, mac=mac, oui_vendor=vendor)
    if mac:
        device.observations.append(Observation(channels.ARP_MAC, mac, "nmap",
                                               fields={channels.FIELD_MAC: mac}))
    for port in host.findall("ports/port"):
        device.observations.extend(_port_observations(port))
    for obs in device.observations:
        obs.ip, obs.mac = ip, mac
    return device


def _read_xml(source: Path | str | bytes) -> bytes:
    if isinstance(source, bytes):
        data = source
    else:
        path = Path(source)
        try:
            with path.open("rb") as f:
                data = f.read(MAX_XML_BYTES + 1)
        except OSError as e:
            raise IngestError(f"cannot read {path}: {e.strerror or e}") from None
    if len(data) > MAX_XML_BYTES:
        raise IngestError(f"nmap XML larger than {MAX_XML_BYTES >> 20} MiB")
    return data


def devices_from_nmap_xml(source: Path | str | bytes) -> list[Device]:
    """Devices from nmap -oX output (a path, or the XML bytes); raises IngestError."""
    data = _read_xml(source)
    try:
        root = SafeET.fromstring(data)  # refuses entity declarations: no billion laughs
    except defusedxml.DefusedXmlException as e:
        raise IngestError(f"nmap XML refused: {type(e).__name__} (entities or external "
                          "references are not allowed)") from None
    except ET.ParseError as e:
        raise IngestError(f"nmap XML is not well-formed: {e}") from None
    if root.tag != "nmaprun":
        raise IngestError(f"not nmap XML: root element is <{root.tag}>, expected <nmaprun>")
    devices: dict[str, Device] = {}
    for host in root.iter("host"):
        device = _host_device(host)
        if device is None:
            continue
        if (known := devices.get(device.ip)) is None:
            devices[device.ip] = device
        else:
            known.observations.extend(device.observations)
            known.mac = known.mac or device.mac
    return list(devices.values())
