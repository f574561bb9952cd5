"""Zeek logs a sensor already wrote, read into the observations a capture would give.

Both of Zeek's formats: TSV (a `#separator` header, `#fields`, `-` unset, `(empty)` empty) and
JSON lines. One log file, or a directory of them (a whole log set: then x509.log certificates
are tied to the server that presented them through ssl.log's `cert_chain_fps`, as Zeek itself
only records fingerprints in x509.log). Read, each bounded:

- software.log: `HTTP::SERVER` entries -> http.header.server of `host` (its Server header);
- ssl.log + x509.log: the server certificate's subject and issuer -> tls.subject / tls.issuer;
- dhcp.log: hostname and MAC of each lease (dhcp.hostname, arp.mac of the assigned address);
- known_services.log: tcp.open per service port; known_hosts.log: the host exists.

A bad line is skipped and counted (one line each in the errors); a file that is no Zeek log is
one line, exit 2.
"""

from __future__ import annotations

import collections
import ipaddress
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from camscan import channels as ch
from camscan.discovery.ingest import IngestError, bounded_lines
from camscan.macaddr import normalise_mac
from camscan.model import Observation

MAX_RECORDS = 2_000_000  # per log file
MAX_OBSERVATIONS = 200_000
LOGS = ("software", "ssl", "x509", "dhcp", "known_services", "known_hosts")
_SIGNS = {  # a JSON log without "_path": told by a field only it has
    "unparsed_version": "software",
    "certificate.subject": "x509",
    "cert_chain_fps": "ssl",
    "assigned_addr": "dhcp",
    "port_num": "known_services",
}


def is_zeek(head: bytes) -> bool:
    return head.startswith(b"#separator")


def records(stream: BinaryIO, name: str) -> tuple[str, Iterator[dict[str, str]]]:
    """(log type, its records as field -> text); raises IngestError if it is no Zeek log."""
    lines = bounded_lines(stream)
    first = next(lines, b"")
    if first.startswith(b"#separator"):
        return _tsv(first, lines, name)
    if first.lstrip().startswith(b"{"):
        doc = _json(first)
        if doc is None:
            raise IngestError(f"{name}: not a Zeek log (first line is not a JSON object)")
        path = str(doc.get("_path") or next((v for k, v in _SIGNS.items() if k in doc), ""))
        if not path:
            path = "known_hosts" if set(doc) <= {"ts", "host", "_path", "_write_ts"} else ""
        return path, _json_records(first, lines)
    raise IngestError(f"{name}: not a Zeek log (no #separator header, no JSON)")


def _json(line: bytes) -> dict[str, object] | None:
    try:
        doc = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) else None


def _text(value: object) -> str:
    if isinstance(value, list):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _json_records(first: bytes, lines: Iterator[bytes]) -> Iterator[dict[str, str]]:
    for line in _chain(first, lines):
        doc = _json(line)
        if doc is not None:
            yield {k: _text(v) for k, v in doc.items()}


def _chain(first: bytes, lines: Iterator[bytes]) -> Iterator[bytes]:
    yield first
    yield from lines


def _tsv(first: bytes, lines: Iterator[bytes], name: str) -> tuple[str, Iterator[dict[str, str]]]:
    separator = first.split(b" ", 1)[-1].strip().decode("unicode_escape") or "\t"
    path, fields, unset, empty = "", [], "-", "(empty)"
    body: list[bytes] = []
    for line in lines:
        if not line.startswith(b"#"):
            body.append(line)
            break
        key, _, value = line.decode("utf-8", "replace").rstrip("\r\n").partition(separator)
        if key == "#path":
            path = value
        elif key == "#fields":
            fields = value.split(separator)
        elif key == "#unset_field":
            unset = value
        elif key == "#empty_field":
            empty = value
    if not fields:
        raise IngestError(f"{name}: Zeek log without a #fields header")

    def rows() -> Iterator[dict[str, str]]:
        for line in _chain(body[0], lines) if body else iter(()):
            if line.startswith(b"#"):
                continue
            values = line.decode("utf-8", "replace").rstrip("\r\n").split(separator)
            if len(values) == len(fields):
                yield {
                    f: ("" if v in (unset, empty) else v)
                    for f, v in zip(fields, values, strict=True)
                }

    return path, rows()


def _ip(text: str) -> str | None:
    try:
        return str(ipaddress.IPv4Address(text.strip()))
    except ValueError:
        return None


def read_logs(files: Sequence[tuple[str, BinaryIO]]) -> tuple[list[Observation], list[str], int]:
    """Observations from Zeek log files (name, stream), the problems, and the records read."""
    found: list[Observation] = []
    problems: list[str] = []
    certs: dict[str, tuple[str, str]] = {}  # fingerprint -> (subject, issuer)
    chains: list[tuple[str, str, str]] = []  # (server, port, first fingerprint)
    count = 0
    for name, stream in files:
        path, rows = records(stream, name)
        if path not in LOGS:
            problems.append(f"{name}: Zeek {path or 'unknown'} log: nothing camscan reads in it")
            continue
        for n, row in enumerate(rows):
            if n >= MAX_RECORDS:
                problems.append(f"{name}: more than {MAX_RECORDS} records; the rest skipped")
                break
            count += 1
            found += _row(path, row, certs, chains)
            if len(found) > MAX_OBSERVATIONS:
                problems.append(f"more than {MAX_OBSERVATIONS} observations; the rest skipped")
                return found[:MAX_OBSERVATIONS], problems, count
    for ip, port, fingerprint in chains:
        if fingerprint in certs:
            subject, issuer = certs[fingerprint]
            fields = {ch.FIELD_PORT: port, "sha1": fingerprint}
            probe = f"zeek:https:{port}"
            found += [
                Observation(c, v, probe, ip, fields=dict(fields))
                for c, v in ((ch.TLS_SUBJECT, subject), (ch.TLS_ISSUER, issuer))
                if v
            ]
    return _unique(found), problems, count


def _row(
    path: str,
    row: dict[str, str],
    certs: dict[str, tuple[str, str]],
    chains: list[tuple[str, str, str]],
) -> list[Observation]:
    if path == "software":
        ip, server = _ip(row.get("host", "")), row.get("unparsed_version", "").strip()
        if ip and server and row.get("software_type") == "HTTP::SERVER":
            port = row.get("host_p", "")
            fields = {ch.FIELD_PORT: port} if port else {}
            return [
                Observation(
                    ch.HTTP_HEADER + "server", server[:4096], "zeek:software", ip, fields=fields
                )
            ]
    elif path == "x509":
        fingerprint = row.get("fingerprint", "")
        if fingerprint and row.get("host_cert", "T") != "F" and len(certs) < MAX_OBSERVATIONS:
            certs[fingerprint] = (
                row.get("certificate.subject", ""),
                row.get("certificate.issuer", ""),
            )
    elif path == "ssl":
        ip, chain = _ip(row.get("id.resp_h", "")), row.get("cert_chain_fps", "")
        if ip and chain and len(chains) < MAX_OBSERVATIONS:
            chains.append((ip, row.get("id.resp_p", ""), chain.split(",")[0]))
    elif path == "dhcp":
        ip = _ip(row.get("assigned_addr", "")) or _ip(row.get("client_addr", ""))
        mac = normalise_mac(row.get("mac", ""))
        if ip is None:
            return []
        out = []
        if mac:
            fields = {ch.FIELD_MAC: mac}
            out.append(Observation(ch.ARP_MAC, mac, "zeek:dhcp", ip, mac, fields))
        if host := row.get("host_name", "").strip():
            out.append(Observation(ch.DHCP_HOSTNAME, host[:255], "zeek:dhcp", ip, mac))
        return out
    elif path == "known_services":
        ip, port = _ip(row.get("host", "")), row.get("port_num", "")
        if ip and port.isdigit() and row.get("port_proto", "tcp") == "tcp":
            return [Observation(ch.TCP_OPEN, port, "zeek:known_services", ip)]
    elif path == "known_hosts" and (ip := _ip(row.get("host", ""))):
        return [Observation(ch.HOST_ALIVE, "seen by Zeek (known_hosts)", "zeek:known_hosts", ip)]
    return []


def _unique(found: list[Observation]) -> list[Observation]:
    """Zeek repeats itself (a server in software.log every day): one observation per value."""
    seen: dict[tuple[str | None, str, str], Observation] = collections.OrderedDict()
    for obs in found:
        seen.setdefault((obs.ip, obs.channel, obs.raw), obs)
    return list(seen.values())


def log_files(directory: Path) -> list[Path]:
    """The logs camscan reads in a Zeek log directory (plain .log files, sorted)."""
    return sorted(p for p in directory.glob("*.log") if p.stem.split(".")[0] in LOGS)
