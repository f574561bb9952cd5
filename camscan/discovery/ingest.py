"""Observations from data the user already has: JSON lines, a pasted banner, nmap -sV XML.

Nothing here touches the network. Bad input gives one-line errors (a list for JSON lines, where
good lines still count; IngestError for a whole document), never a traceback.
"""

from __future__ import annotations

import dataclasses
import html
import io
import ipaddress
import json
import re
import typing
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

import defusedxml
import defusedxml.ElementTree as SafeET

from camscan import channels
from camscan.errors import DataError
from camscan.model import Device, Observation

MAX_RAW_CHARS = 65536
MAX_LINE_CHARS = 1 << 20
MAX_XML_BYTES = 4 << 30  # nmap XML is streamed: memory follows the hosts kept, not the file
MAX_XML_HOSTS = 65536  # "up" hosts one import may hold (scan's max_hosts default)
MAX_HOST_OBSERVATIONS = 1024  # per imported host, however often it appears in the file
MAX_INPUT_BYTES = 256 << 20  # `identify` input, file or stdin
MAX_OBSERVATIONS = 200_000  # observations one `identify` input may give
MAX_LINE_ERRORS = 20  # per-line errors listed one by one; the rest are counted
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
    if (
        not isinstance(channel, str)
        or any(c in channel for c in "*?[")
        or not channels.is_known(channel)
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
    if (
        not isinstance(probe, str)
        or not isinstance(fields, dict)
        or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
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
        if len(text.rstrip("\r\n")) > MAX_LINE_CHARS:
            errors.append(f"line {n}: longer than {MAX_LINE_CHARS} characters")
            continue
        if len(found) >= MAX_OBSERVATIONS:
            errors.append(f"line {n}: more than {MAX_OBSERVATIONS} observations; the rest skipped")
            break
        try:
            found.append(_jsonl_observation(json.loads(text), probe))
        except json.JSONDecodeError as e:
            errors.append(f"line {n}: not JSON: {e.msg} (column {e.colno})")
        except (ValueError, RecursionError) as e:
            errors.append(f"line {n}: {' '.join(str(e).split()) or 'invalid'}")
    return found, errors


def bounded_lines(stream: BinaryIO, limit: int = MAX_INPUT_BYTES) -> Iterator[bytes]:
    """Lines of `stream`, each cut at MAX_LINE_CHARS + 1 bytes (the rest of an overlong line is
    skipped, unread into memory); raises IngestError past `limit` bytes in all."""
    total = 0
    while True:
        line = stream.readline(MAX_LINE_CHARS + 1)
        if not line:
            return
        total += len(line)
        if len(line) > MAX_LINE_CHARS and not line.endswith(b"\n"):
            while (rest := stream.readline(1 << 16)) and not rest.endswith(b"\n"):
                total += len(rest)
                if total > limit:
                    break
            total += len(rest)
        if total > limit:
            raise IngestError(f"input larger than {limit >> 20} MiB")
        yield line


def read_observations(stream: BinaryIO) -> tuple[list[Observation], list[str]]:
    """`camscan identify` input: JSON lines when the first non-blank byte is "{" (bad lines are
    reported by number and skipped, good ones kept), else one HTTP/RTSP banner. Bounded: at
    most MAX_INPUT_BYTES read, MAX_LINE_CHARS per line, MAX_OBSERVATIONS kept."""
    first = stream.read(1)
    while first and first in b" \t\r\n\xef\xbb\xbf":  # whitespace, UTF-8 BOM
        first = stream.read(1)
    if first != b"{":
        banner = first + stream.read(4 * MAX_RAW_CHARS)  # the banner is cut at MAX_RAW_CHARS
        return _banner_input(banner, len(banner) + _skip_rest(stream))
    found, errors = observations_from_jsonl(_prefixed(first, bounded_lines(stream)))
    return found, errors


def _skip_rest(stream: BinaryIO) -> int:
    """Bytes left in `stream` (read in chunks, not kept), up to MAX_INPUT_BYTES."""
    total = 0
    while total <= MAX_INPUT_BYTES and (chunk := stream.read(1 << 20)):
        total += len(chunk)
    return total


def _size(n: int) -> str:
    return f"{n:,} bytes" if n < 1_000_000 else f"{n / 1_000_000:,.0f} MB"


_BLOCKS = {channels.HTTP_HEADERS, channels.RTSP_HEADERS, channels.HTTP_BODY, channels.RTSP_SDP}


def _banner_input(banner: bytes, total: int) -> tuple[list[Observation], list[str]]:
    """A banner's observations, and what of the input was not used: nothing recognised in it
    is said (and is no observation), and so is a value cut short."""
    text = banner.decode("utf-8", "replace")
    found = observations_from_banner(text)
    if not found:
        return [], [
            f"no observation recognised in {_size(total)} of input: not JSON lines, an HTTP or "
            "RTSP response head, a discovery reply or one Server value"
        ]
    used = len(text.strip("\r\n\t \x00"))
    if used <= MAX_RAW_CHARS and total == len(banner):
        return found, []
    values = [o for o in found if o.channel not in _BLOCKS] or found
    longest = max(values, key=lambda o: len(o.raw))
    return found, [
        f"everything past the first {MAX_RAW_CHARS:,} characters of {_size(total)} of input "
        f"({longest.channel}: a value cut at {len(longest.raw):,} characters)"
    ]


def _prefixed(first: bytes, lines: Iterator[bytes]) -> Iterator[bytes]:
    head = next(lines, b"")
    yield first + head
    yield from lines


# --- Banners ----------------------------------------------------------------------------------


def _response_head(text: str, probe: str) -> list[Observation]:
    """An HTTP or RTSP response: status, one observation per header, header block, body."""
    is_rtsp = text.startswith("RTSP/")
    status_ch, header_ch, block_ch = (
        (channels.RTSP_STATUS, channels.RTSP_HEADER, channels.RTSP_HEADERS)
        if is_rtsp
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
        return [
            Observation(channels.HTTP_HEADER + m[1].lower(), m[2].strip(), probe) for m in headers
        ]
    if len(lines) == 1 and lines[0].isprintable() and "\ufffd" not in lines[0]:
        return [Observation(channels.HTTP_HEADER + "server", lines[0], probe)]
    return []  # not text one could take for a Server value (random bytes, several lines)


# --- nmap XML ---------------------------------------------------------------------------------

_FP_RESPONSE = re.compile(r'r\(([^,()]+),[0-9A-Fa-f]+,"((?:[^"\\]|\\.)*)"\)', re.DOTALL)
_FP_ESCAPE = re.compile(rb"\\(x[0-9A-Fa-f]{2}|.)", re.DOTALL)
_FP_CONTROL = {b"0": b"\x00", b"r": b"\r", b"n": b"\n", b"t": b"\t"}
_RDN_KEYS = (
    ("commonName", "CN"),
    ("organizationalUnitName", "OU"),
    ("organizationName", "O"),
    ("localityName", "L"),
    ("stateOrProvinceName", "ST"),
    ("countryName", "C"),
)


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
        return [
            Observation(channels.HTTP_HEADER + "server", ln.strip(), probe)
            for ln in output.splitlines()
            if ln.strip()
        ]
    if sid == "rtsp-methods" and output:
        return [Observation(channels.RTSP_HEADER + "public", " ".join(output.split()), probe)]
    if sid == "http-favicon" and (md5 := re.search(r"\b[0-9A-Fa-f]{32}\b", output)):
        return [Observation(channels.HTTP_FAVICON_MD5, md5[0].lower(), probe)]
    if sid == "ssl-cert":
        return [
            Observation(ch, value, probe)
            for ch, key in ((channels.TLS_SUBJECT, "subject"), (channels.TLS_ISSUER, "issuer"))
            if (value := _cert_subject(script, key))
        ]
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
            out.append(Observation(channels.NMAP_SERVICE, product, probe))
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
        device.observations.append(
            Observation(channels.ARP_MAC, mac, "nmap", fields={channels.FIELD_MAC: mac})
        )
    for port in host.findall("ports/port"):
        device.observations.extend(_port_observations(port))
    for obs in device.observations:
        obs.ip, obs.mac = ip, mac
    return device


class _Capped(io.RawIOBase):
    """A binary stream that refuses to yield more than `limit` bytes."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self.raw, self.limit, self.seen = raw, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(min(len(buffer), 1 << 16))
        self.seen += len(data)
        if self.seen > self.limit:
            raise IngestError(f"nmap XML larger than {self.limit >> 20} MiB")
        buffer[: len(data)] = data
        return len(data)


class Borrowed(io.RawIOBase):
    """Someone else's stream (stdin): read it, leave closing it to its owner."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _open_xml(source: Path | str | bytes | BinaryIO) -> BinaryIO:
    if isinstance(source, bytes):
        return io.BytesIO(source)
    if not isinstance(source, Path | str):
        return typing.cast(BinaryIO, Borrowed(source))
    path = Path(source)
    try:
        return path.open("rb")
    except OSError as e:
        raise IngestError(f"cannot read {path}: {e.strerror or e}") from None


@dataclasses.dataclass(frozen=True, slots=True)
class NmapRun:
    """What nmap's XML says of its own run: `<nmaprun start= args=>`, `<finished time=>`."""

    started: float | None = None
    ended: float | None = None
    args: str | None = None


def _nmap_time(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


def devices_from_nmap_xml(source: Path | str | bytes | BinaryIO) -> list[Device]:
    """Devices from nmap -oX output; see read_nmap_xml."""
    return read_nmap_xml(source)[0]


def read_nmap_xml(source: Path | str | bytes | BinaryIO) -> tuple[list[Device], NmapRun]:
    """Devices from nmap -oX output (a path, the XML bytes or a binary stream), and nmap's own
    run (its times and arguments); raises IngestError.

    Streamed (iterparse): each <host> is turned into a Device and then freed, so memory follows
    the hosts kept (at most MAX_XML_HOSTS), not the size of the file. Still defused: any DTD,
    entity or external reference is refused."""
    devices: dict[str, Device] = {}
    run = NmapRun()
    with _open_xml(source) as raw:
        stream = io.BufferedReader(_Capped(raw, MAX_XML_BYTES))
        # nmap writes <!DOCTYPE nmaprun>: a bare DTD is allowed, entities and externals are not
        events = SafeET.iterparse(stream, events=("start", "end"))
        depth = 0
        root: ET.Element | None = None
        try:
            for event, element in events:
                if event == "start":
                    depth += 1
                    if depth == 1:
                        if element.tag != "nmaprun":
                            raise IngestError(
                                f"not nmap XML: root element is <{element.tag}>, expected <nmaprun>"
                            )
                        root = element
                        run = NmapRun(
                            _nmap_time(element.get("start")), None, element.get("args") or None
                        )
                    continue
                depth -= 1
                if depth != 1 or root is None:
                    continue
                if element.tag == "host":
                    _add_host(devices, element)
                elif element.tag == "runstats" and (done := element.find("finished")) is not None:
                    run = dataclasses.replace(run, ended=_nmap_time(done.get("time")))
                root.clear()  # the finished child and everything in it: memory stays flat
        except defusedxml.DefusedXmlException as e:
            raise IngestError(
                f"nmap XML refused: {type(e).__name__} (entities, DTDs or "
                "external references are not allowed)"
            ) from None
        except ET.ParseError as e:
            raise IngestError(f"nmap XML is not well-formed: {e}") from None
        except RecursionError:
            raise IngestError("nmap XML is nested too deep") from None
        except OSError as e:
            raise IngestError(f"cannot read nmap XML: {e.strerror or e}") from None
    return list(devices.values()), run


def _add_host(devices: dict[str, Device], host: ET.Element) -> None:
    device = _host_device(host)
    if device is None:
        return
    if (known := devices.get(device.ip)) is None:
        if len(devices) >= MAX_XML_HOSTS:
            raise IngestError(f"nmap XML holds more than {MAX_XML_HOSTS} hosts that are up")
        known = Device(ip=device.ip, mac=device.mac, oui_vendor=device.oui_vendor)
        devices[device.ip] = known
    known.mac = known.mac or device.mac
    have = {(o.channel, o.probe, o.raw) for o in known.observations}  # repeats: merged once
    for obs in device.observations:
        key = (obs.channel, obs.probe, obs.raw)
        if key not in have and len(known.observations) < MAX_HOST_OBSERVATIONS:
            have.add(key)
            known.observations.append(obs)
