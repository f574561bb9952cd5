"""Banner probes against real servers on loopback that behave like cameras, or misbehave on purpose.

Each server binds the same port on several 127.0.0.x addresses, so one grab_banners call can scan a
well-behaved "camera" and hostile hosts side by side with one port map.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import dataclasses
import datetime
import hashlib
import json
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.discovery.banners import Limits, grab_banners, parse_head
from camscan.discovery.banners.http import TELLING_PATHS, dechunk, read_head
from camscan.discovery.banners.scheduler import SILENT_AFTER
from camscan.discovery.banners.tcpports import ProbeFailure
from camscan.discovery.base import HostFeed
from camscan.discovery.rate import RateLimiter
from camscan.errors import ProbeKind
from camscan.model import Observation, ProbeError

T = TypeVar("T")
Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]

FAST = Limits(
    connect_timeout=1.0,
    read_timeout=1.0,
    deadline=1.5,
    host_deadline=20.0,
    banner_wait=0.3,
)

FAVICON = bytes(range(256)) * 5
HIK_REALM = 'Digest qop="auth", realm="IP Camera(C2183)", nonce="4e6a", stale="FALSE"'
DAHUA_REALM = 'Digest realm="Login to 4M0747EPAA1D284", qop="auth", nonce="745449", opaque="9a"'
HIK_SUBJECT = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
SDK_FRAME = bytes.fromhex("00000010 0000001e 0000001e 00000000")


# ---------------------------------------------------------------- servers


def guarded(handler: Handler) -> Handler:
    """Hostile servers are cut off by the client mid-write; that is expected, not a failure."""

    async def run(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await handler(reader, writer)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.transport.abort()

    return run


async def read_request(reader: asyncio.StreamReader) -> tuple[str, str]:
    """(method, target) of the request line."""
    head = await reader.readuntil(b"\r\n\r\n")
    method, target, _ = head.decode("latin-1").split("\r\n", 1)[0].split(" ", 2)
    return method, target


def free_port(ips: list[str]) -> int:
    """A TCP port that is free on every address given (loopback only)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((ips[0], 0))
            port: int = probe.getsockname()[1]
        try:
            for ip in ips:
                with socket.socket() as other:
                    other.bind((ip, port))
        except OSError:
            continue
        return port
    raise RuntimeError("no common free port")


@contextlib.asynccontextmanager
async def serving(
    handlers: Mapping[str, Handler], tls: ssl.SSLContext | None = None, port: int | None = None
) -> AsyncIterator[int]:
    """One server per loopback address, all on the same port; yields the port."""
    port = port or free_port(list(handlers))
    servers = [
        await asyncio.start_server(guarded(handler), ip, port, ssl=tls)
        for ip, handler in handlers.items()
    ]
    try:
        yield port
    finally:
        for server in servers:
            server.close()


def http_reply(status: str, headers: list[tuple[str, str]], body: bytes = b"") -> bytes:
    head = f"HTTP/1.1 {status}\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers)
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


HIK_PAGES = {
    "/": http_reply(
        "200 OK",
        [("Server", "Hikvision-Webs"), ("Content-Type", "text/html")],
        b"<html><head><title> Hikvision &amp;\n Web </title></head>"
        b'<body><script src="doc/page/login.asp"></script></body></html>',
    ),
    "/doc/page/login.asp": http_reply(
        "200 OK", [("Server", "Hikvision-Webs")], b"<p>Hikvision Digital Technology</p>"
    ),
    "/ISAPI/System/deviceInfo": http_reply(
        "401 Unauthorized", [("Server", "Hikvision-Webs"), ("WWW-Authenticate", HIK_REALM)]
    ),
    "/favicon.ico": http_reply("200 OK", [("Content-Type", "image/x-icon")], FAVICON),
}


async def hik_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    _, path = await read_request(reader)
    writer.write(HIK_PAGES.get(path, http_reply("404 Not Found", [("Server", "Hikvision-Webs")])))
    await writer.drain()


async def dahua_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Upper-case names, bare LF, no reason phrase, no Server, no Content-Length, duplicates."""
    _, path = await read_request(reader)
    if path.startswith("/cgi-bin/magicBox.cgi"):
        writer.write(
            b"HTTP/1.1 401 Unauthorized\nCONTENT-LENGTH: 0\n"
            + f"WWW-Authenticate: {DAHUA_REALM}\n\n".encode()
        )
    else:
        writer.write(
            b"HTTP/1.1 200\nCONNECTION: close\nCACHE-CONTROL: max-age=0\n"
            b"Set-Cookie: a=1\nSet-Cookie: b=2\nCONTENT-TYPE: text/html\n\n"
            b"\xef\xbb\xbf<!DOCTYPE html><html><head><title>WEB SERVICE</title></head>"
            b'<body><div class="ui-dialog-content"></div></body></html>'
        )
    await writer.drain()


async def trailing_garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello\x00\xffJUNK" * 3)
    await writer.drain()


async def slow_drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    for byte in b"HTTP/1.1 200 OK\r\nServer: drip" + b"x" * 10_000:
        writer.write(bytes([byte]))
        await writer.drain()
        await asyncio.sleep(0.1)


async def endless_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nServer: endless\r\n\r\n")
    while True:
        writer.write(b"A" * 65536)
        await writer.drain()


async def huge_header(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * (1 << 20) + b"\r\n\r\n")
    await writer.drain()


async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    writer.write(bytes(range(256)) * 400)
    await writer.drain()


async def reset(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await read_request(reader)
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.transport.abort()


async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(30)


def rtsp_server(replies: dict[str, bytes]) -> Handler:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        method, target = await read_request(reader)
        assert target.startswith("rtsp://127.0.0.")
        writer.write(replies[method])
        await writer.drain()

    return handle


HIK_RTSP = rtsp_server(
    {
        "OPTIONS": b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nPublic: OPTIONS, DESCRIBE, PLAY, PAUSE, SETUP, "
        b"TEARDOWN, SET_PARAMETER, GET_PARAMETER\r\nDate:  Thu, May 14 2020 16:45:35 GMT\r\n\r\n",
        "DESCRIBE": b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\n"
        b'WWW-Authenticate: Digest realm="IP Camera(C2875)", nonce="938032", stale="FALSE"\r\n'
        b'WWW-Authenticate: Basic realm="/"\r\n\r\n',
    }
)
DAHUA_RTSP = rtsp_server(
    {
        "OPTIONS": b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Dahua Rtsp Server\r\n"
        b"Public: OPTIONS, DESCRIBE, ANNOUNCE, SETUP, PLAY\r\n\r\n",
        "DESCRIBE": b"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nServer: Dahua Rtsp Server\r\n"
        + f"WWW-Authenticate: {DAHUA_REALM}\r\n\r\n".encode(),
    }
)
SDP = b"v=0\r\ns=Media Server\r\na=packetization-supported:DH\r\na=rtppayload-supported:DH\r\n"
OPEN_RTSP = rtsp_server(
    {
        "OPTIONS": b"RTSP/1.0 200 OK\r\nCSeq: 1\r\nServer: Rtsp Server/3.0\r\n\r\n",
        "DESCRIBE": b"RTSP/1.0 200 OK\r\nCSeq: 2\r\nContent-Type: application/sdp\r\n"
        + f"Content-Length: {len(SDP)}\r\n\r\n".encode()
        + SDP
        + b"TRAILING JUNK",
    }
)


async def sdk_frame(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.write(SDK_FRAME)
    await writer.drain()
    await asyncio.sleep(5)


# ---------------------------------------------------------------- helpers


def scan(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def values(found: list[Observation], channel: str, probe: str | None = None) -> list[str]:
    return [o.raw for o in found if o.channel == channel and (probe is None or o.probe == probe)]


def one_error(errors: list[ProbeError]) -> str:
    assert len(errors) == 1, errors
    return errors[0].error


# ---------------------------------------------------------------- cameras


def test_hikvision_web_server_paths_headers_title_favicon() -> None:
    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        async with serving({"127.0.0.2": hik_http}) as port:
            return port, await grab_banners(["127.0.0.2"], FAST, {"http": [port]})

    port, results = scan(run())
    found, errors = results["127.0.0.2"]
    assert errors == []
    root = f"http:{port}/"
    assert values(found, "http.status", root) == ["HTTP/1.1 200 OK"]
    assert values(found, "http.header.server", root) == ["Hikvision-Webs"]
    assert values(found, "http.title", root) == ["Hikvision & Web"]
    assert "doc/page/login.asp" in values(found, "http.body", root)[0]
    assert values(found, "http.headers", root)[0].startswith("HTTP/1.1 200 OK\r\nServer: ")
    isapi = f"http:{port}/ISAPI/System/deviceInfo"
    assert values(found, "http.header.www-authenticate", isapi) == [HIK_REALM]
    assert values(found, "http.favicon.md5") == [hashlib.md5(FAVICON).hexdigest()]
    assert values(found, "http.body", f"http:{port}/favicon.ico") == []  # binary: hash only
    magic = f"http:{port}/cgi-bin/magicBox.cgi?action=getMachineName"
    assert values(found, "http.status", magic) == ["HTTP/1.1 404 Not Found"]
    assert {o.fields["path"] for o in found} == {
        "/",
        "/doc/page/login.asp",
        "/ISAPI/System/deviceInfo",
        "/favicon.ico",
        "/cgi-bin/magicBox.cgi?action=getMachineName",
    }
    assert all(o.ip == "127.0.0.2" and o.fields["port"] == str(port) for o in found)


def test_dahua_style_head_bare_lf_upper_case_no_server() -> None:
    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        async with serving({"127.0.0.2": dahua_http}) as port:
            return port, await grab_banners(["127.0.0.2"], FAST, {"http": [port]})

    port, results = scan(run())
    found, errors = results["127.0.0.2"]
    assert errors == []
    root = f"http:{port}/"
    assert values(found, "http.status", root) == ["HTTP/1.1 200"]
    assert values(found, "http.header.server") == []
    assert values(found, "http.header.connection", root) == ["close"]
    assert values(found, "http.header.set-cookie", root) == ["a=1", "b=2"]
    assert values(found, "http.headers", root)[0].split("\r\n")[1] == "CONNECTION: close"
    assert values(found, "http.title", root) == ["WEB SERVICE"]
    assert "ui-dialog-content" in values(found, "http.body", root)[0]
    magic = f"http:{port}/cgi-bin/magicBox.cgi?action=getMachineName"
    assert values(found, "http.header.www-authenticate", magic) == [DAHUA_REALM]


def test_garbage_after_the_head_is_not_body() -> None:
    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        async with serving({"127.0.0.2": trailing_garbage}) as port:
            return await grab_banners(["127.0.0.2"], FAST, {"http": [port]})

    found, errors = scan(run())["127.0.0.2"]
    assert errors == []
    assert set(values(found, "http.body")) == {"hello"}


def test_chunked_body_is_decoded_and_bounded() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, path = await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        if path == "/":
            writer.write(b"6\r\n<title\r\n7;ext=1\r\n>A</tit\r\n3\r\nle>\r\n0\r\n\r\n")
        else:  # endless chunks
            while True:
                writer.write(b"400\r\n" + b"c" * 0x400 + b"\r\n")
                await writer.drain()
        await writer.drain()

    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        async with serving({"127.0.0.2": chunked}) as port:
            return port, await grab_banners(["127.0.0.2"], FAST, {"http": [port]})

    port, results = scan(run())
    found, errors = results["127.0.0.2"]
    assert errors == []
    assert values(found, "http.body", f"http:{port}/") == ["<title>A</title>"]
    assert values(found, "http.title", f"http:{port}/") == ["A"]
    login = values(found, "http.body", f"http:{port}/doc/page/login.asp")
    assert login == ["c" * FAST.max_body_bytes]


def test_rtsp_realms_server_public_and_sdp() -> None:
    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        handlers = {"127.0.0.2": HIK_RTSP, "127.0.0.3": DAHUA_RTSP, "127.0.0.4": OPEN_RTSP}
        async with serving(handlers) as port:
            return port, await grab_banners(list(handlers), FAST, {"rtsp": [port]})

    port, results = scan(run())
    assert all(errors == [] for _, errors in results.values())
    hik, _ = results["127.0.0.2"]
    assert values(hik, "rtsp.header.www-authenticate") == [
        'Digest realm="IP Camera(C2875)", nonce="938032", stale="FALSE"',
        'Basic realm="/"',
    ]
    assert values(hik, "rtsp.header.public")[0].startswith("OPTIONS, DESCRIBE, PLAY")
    assert values(hik, "rtsp.header.server") == []
    assert [o.fields["method"] for o in hik if o.channel == "rtsp.status"] == [
        "OPTIONS",
        "DESCRIBE",
    ]
    assert {o.probe for o in hik} == {f"rtsp:{port}"}
    dahua, _ = results["127.0.0.3"]
    assert values(dahua, "rtsp.header.server") == ["Dahua Rtsp Server"] * 2
    assert values(dahua, "rtsp.header.www-authenticate") == [DAHUA_REALM]
    assert values(dahua, "rtsp.status")[-1] == "RTSP/1.0 401 Unauthorized"
    assert values(dahua, "rtsp.sdp") == []
    open_camera, _ = results["127.0.0.4"]
    assert values(open_camera, "rtsp.sdp") == [SDP.decode()]


def make_tls_context(directory: Path) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "ZheJiang"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "HangZhou"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "HIKVISION"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "DVRNVR"),
            x509.NameAttribute(NameOID.COMMON_NAME, "www.hikvision.com"),
        ]
    )
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    return context


def test_https_certificate_subject_issuer_then_get(tmp_path: Path) -> None:
    tls = make_tls_context(tmp_path)

    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        async with serving({"127.0.0.2": hik_http}, tls=tls) as port:
            return port, await grab_banners(["127.0.0.2"], FAST, {"https": [port]})

    port, results = scan(run())
    found, errors = results["127.0.0.2"]
    assert errors == []
    assert values(found, "tls.subject") == [HIK_SUBJECT]
    assert values(found, "tls.issuer") == [HIK_SUBJECT]
    assert values(found, "http.header.server", f"https:{port}/") == ["Hikvision-Webs"]


def test_tls_port_that_is_not_tls_is_an_error() -> None:
    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        async with serving({"127.0.0.2": hik_http}) as port:
            return await grab_banners(["127.0.0.2"], FAST, {"https": [port]})

    found, errors = scan(run())["127.0.0.2"]
    assert found == []
    assert one_error(errors).startswith("TLS handshake")


def test_sdk_port_banner_hex_and_silent_port_tried_as_http() -> None:
    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        handlers = {"127.0.0.2": sdk_frame, "127.0.0.3": hik_http, "127.0.0.4": silent}
        async with serving(handlers) as port:
            return port, await grab_banners(list(handlers), FAST, {"banner": [port]})

    port, results = scan(run())
    sdk, sdk_errors = results["127.0.0.2"]
    assert sdk_errors == []
    assert values(sdk, "tcp.open") == [str(port)]
    assert values(sdk, f"tcp.banner.{port}") == ["000000100000001e0000001e00000000"]
    assert values(sdk, "http.status") == []  # it spoke first: not HTTP, not asked
    web, web_errors = results["127.0.0.3"]
    assert web_errors == []
    assert values(web, f"tcp.banner.{port}") == []
    assert values(web, "http.header.server", f"http:{port}/") == ["Hikvision-Webs"]
    mute, mute_errors = results["127.0.0.4"]
    assert values(mute, "tcp.open") == [str(port)]
    assert mute_errors == []  # silent to GET too: not a web server, and not worth an error


def test_connect_only_port_and_closed_ports_are_quiet() -> None:
    async def run() -> tuple[int, int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        closed = free_port(["127.0.0.2"])
        async with serving({"127.0.0.2": silent}) as port:
            ports = {"connect": [port], "http": [closed], "https": [closed], "rtsp": [closed]}
            return port, closed, await grab_banners(["127.0.0.2"], FAST, ports)

    port, _, results = scan(run())
    found, errors = results["127.0.0.2"]
    assert errors == []
    assert [(o.channel, o.raw, o.probe) for o in found] == [("tcp.open", str(port), f"tcp:{port}")]


# ---------------------------------------------------------------- hostile devices

HOSTILE: dict[str, tuple[Handler, str]] = {
    "127.0.0.3": (slow_drip, "reply head not whole after 1.0s"),  # not the 1.5 s deadline
    "127.0.0.4": (huge_header, "reply head over 65536 bytes"),
    "127.0.0.5": (garbage, "not an HTTP reply: starts 00 01 02 03"),
    "127.0.0.6": (reset, "connection reset by peer"),
    "127.0.0.7": (silent, "no data for 1.0s"),
}


def test_hostile_hosts_are_bounded_and_do_not_spoil_a_good_host() -> None:
    handlers: dict[str, Handler] = {"127.0.0.2": hik_http, "127.0.0.8": endless_body}
    handlers |= {ip: handler for ip, (handler, _) in HOSTILE.items()}
    finished: list[str] = []
    in_flight: set[str] = set()
    slow = {"127.0.0.3", "127.0.0.7", "127.0.0.8"}  # each holds its connection for a deadline
    together: list[int] = []  # how many slow hosts had a connection open, each time one opened

    def counted(ip: str, handler: Handler) -> Handler:
        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            in_flight.add(ip)
            together.append(len(in_flight & slow))
            try:
                await handler(reader, writer)
            finally:
                in_flight.discard(ip)

        return handle

    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        async with serving({ip: counted(ip, h) for ip, h in handlers.items()}) as port:

            def progress(done: int, total: int) -> None:
                finished.append(f"{done}/{total}")

            return port, await grab_banners(list(handlers), FAST, {"http": [port]}, progress)

    port, results = scan(run())
    good, good_errors = results["127.0.0.2"]
    assert good_errors == []
    assert len(values(good, "http.status")) == 5
    assert values(good, "http.favicon.md5") == [hashlib.md5(FAVICON).hexdigest()]
    for ip, (_, expected) in HOSTILE.items():
        errors = results[ip][1]
        assert one_error(errors).startswith(expected), ip
        assert errors[0].probe == f"http:{port}{TELLING_PATHS[0]}"  # a port's first request
        assert errors[0].target == ip
        assert "\n" not in errors[0].error
    assert values(results["127.0.0.4"][0], "http.header.x-huge") == []
    drip, _ = results["127.0.0.3"]
    assert drip == []  # the head never completed
    endless, endless_errors = results["127.0.0.8"]
    assert endless_errors == []
    bodies = values(endless, "http.body")
    assert len(bodies) == 4  # every path but the favicon keeps a body
    assert all(len(body) == FAST.max_body_bytes for body in bodies)
    assert values(endless, "http.favicon.md5") == []  # cut at the bound: no hash of a part
    # The slow hosts are waited on side by side (one deadline for all, not one each).
    assert max(together) == len(slow)
    assert finished == [f"{n}/{len(handlers)}" for n in range(1, len(handlers) + 1)]


def test_slow_body_after_a_good_head_keeps_head_and_partial_body() -> None:
    async def drip_body(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nServer: Hikvision-Webs\r\nContent-Length: 999\r\n\r\n")
        while True:
            writer.write(b"<")
            await writer.drain()
            await asyncio.sleep(0.1)

    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        async with serving({"127.0.0.2": drip_body}) as port:
            limits = Limits(deadline=1.0, read_timeout=0.5, host_deadline=1.5)
            return await grab_banners(["127.0.0.2"], limits, {"http": [port]})

    found, errors = scan(run())["127.0.0.2"]
    assert one_error(errors) == "timeout after 1.0s"  # the deadline, not the endless body, ended it
    assert values(found, "http.header.server") == ["Hikvision-Webs"]
    assert 1 <= len(values(found, "http.body")[0]) < 999  # what had come is kept, and no more


def test_host_budget_stops_a_host_that_answers_slowly_everywhere() -> None:
    async def slow_ok(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        await asyncio.sleep(0.4)
        writer.write(http_reply("200 OK", [("Server", "slow")]))
        await writer.drain()

    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        async with serving({"127.0.0.2": slow_ok}) as port:
            limits = Limits(deadline=1.0, host_deadline=1.0, per_host=1)
            return await grab_banners(["127.0.0.2"], limits, {"http": [port]})

    found, errors = scan(run())["127.0.0.2"]
    assert 1 <= len(values(found, "http.status")) < 5
    assert one_error(errors).startswith("host budget of 1.0s spent")


STALL = dataclasses.replace(FAST, read_timeout=0.5, deadline=3.0, host_deadline=3.0)


def test_a_host_that_accepts_and_answers_nothing_is_stopped_at_its_first_silence() -> None:
    """A tarpit: port A's first request gets no reply in the read timeout and nothing else
    the host was asked had been answered, so the requests still in flight (HTTP on the silent
    banner port B, sent after B's banner wait) are cut then, not at the 3 s budget, and said."""
    stats: collections.Counter[str] = collections.Counter()

    async def run() -> tuple[int, int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        async with serving({"127.0.0.11": silent}) as a, serving({"127.0.0.11": silent}) as b:
            ports = {"http": [a], "banner": [b]}
            return a, b, await grab_banners(["127.0.0.11"], STALL, ports, stats=stats)

    a, b, results = scan(run())
    found, errors = results["127.0.0.11"]
    assert stats["stalled_hosts"] == 1
    by_probe = {e.probe: e.error for e in errors}
    assert by_probe[f"http:{a}{TELLING_PATHS[0]}"] == "no data for 0.5s"
    stopped = by_probe["banners"]
    assert stopped.startswith(f"host stopped: http:{a}{TELLING_PATHS[0]} got no reply in 0.5s")
    assert f"http:{b}{TELLING_PATHS[0]}" in stopped  # cut, not waited on to its own silence
    assert not any(probe.startswith(f"http:{b}") for probe in by_probe)
    assert values(found, "tcp.open") == [str(b)]


def test_a_host_that_answered_one_port_keeps_its_silent_ports_probes() -> None:
    """The same silent port beside one that answers at once: the host spoke, so nothing is
    stopped and the silent port's requests run to their own read timeout."""
    stats: collections.Counter[str] = collections.Counter()
    limits = dataclasses.replace(STALL, read_timeout=1.0)

    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        async with serving({"127.0.0.12": silent}) as a, serving({"127.0.0.12": hik_http}) as b:
            ports = {"http": [a, b]}
            return a, await grab_banners(["127.0.0.12"], limits, ports, stats=stats)

    a, results = scan(run())
    found, errors = results["127.0.0.12"]
    assert stats["stalled_hosts"] == 0
    assert [e.error for e in errors] == ["no data for 1.0s"]
    assert errors[0].probe == f"http:{a}{TELLING_PATHS[0]}"
    assert "Hikvision-Webs" in values(found, "http.header.server")


def test_a_slow_camera_is_read_in_one_answers_time() -> None:
    """A port's telling paths go out once its first connection is accepted, not one after
    another: a camera taking 0.4 s per answer gives all five within a 1.0 s host budget, which
    five requests in turn (2.0 s) would overrun."""

    async def slow_hik(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, path = await read_request(reader)
        await asyncio.sleep(0.4)
        status = "200 OK" if path == "/" else "404 Not Found"
        writer.write(http_reply(status, [("Server", "Hikvision-Webs")]))
        await writer.drain()

    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        async with serving({"127.0.0.2": slow_hik}) as port:
            limits = Limits(deadline=1.0, host_deadline=1.0)
            return await grab_banners(["127.0.0.2"], limits, {"http": [port]})

    found, errors = scan(run())["127.0.0.2"]
    assert errors == []
    answered = {o.fields["path"] for o in found if o.channel == "http.status"}
    assert answered == {"/", *TELLING_PATHS}


def test_followers_of_a_failed_first_request_are_not_reported_twice() -> None:
    """A port whose first request fails after connecting (here: garbage) gets no other path
    asked, or their failures, the same story, are dropped: the report holds one."""

    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"\x00\xff garbage, not HTTP\r\n\r\n")
        await writer.drain()

    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        async with serving({"127.0.0.2": garbage}) as port:
            return await grab_banners(["127.0.0.2"], FAST, {"http": [port]})

    found, errors = scan(run())["127.0.0.2"]
    assert [e.probe for e in errors] == [errors[0].probe]
    assert errors[0].probe.endswith(TELLING_PATHS[0])
    assert [o for o in found if o.channel.startswith("http.")] == []


# ---------------------------------------------------------------- bounds on concurrency and rate


def counting_server(active: collections.Counter[str], peak: collections.Counter[str]) -> Handler:
    """Counts connections in flight per server address and over all of them."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        ip = writer.get_extra_info("sockname")[0]
        active[ip] += 1
        active["all"] += 1
        peak[ip] = max(peak[ip], active[ip])
        peak["all"] = max(peak["all"], active["all"])
        try:
            await read_request(reader)
            await asyncio.sleep(0.05)
            writer.write(http_reply("404 Not Found", []))
            await writer.drain()
        finally:
            active[ip] -= 1
            active["all"] -= 1

    return handle


@pytest.mark.parametrize(("per_host", "concurrency"), [(1, 64), (2, 64), (4, 64), (4, 3)])
def test_connections_in_flight_stay_within_per_host_and_global_bounds(
    per_host: int, concurrency: int
) -> None:
    ips = ["127.0.0.2", "127.0.0.3"]
    active: collections.Counter[str] = collections.Counter()
    peak: collections.Counter[str] = collections.Counter()

    async def run() -> None:
        async with contextlib.AsyncExitStack() as stack:
            ports = [
                await stack.enter_async_context(
                    serving({ip: counting_server(active, peak) for ip in ips})
                )
                for _ in range(4)
            ]
            limits = Limits(per_host=per_host, concurrency=concurrency)
            fast = RateLimiter(100_000, 10_000)  # the rates out of the way: the gates bind here
            await grab_banners(ips, limits, {"http": ports}, limiter=fast)

    scan(run())
    for ip in ips:
        assert 1 <= peak[ip] <= min(per_host, concurrency), ip
    assert peak["all"] == min(2 * per_host, concurrency)


class CountingLimiter(RateLimiter):
    """The run's limiter, counting what each host drew from it."""

    def __init__(self, rate: float, host_rate: float) -> None:
        super().__init__(rate, host_rate)
        self.drawn: collections.Counter[str | None] = collections.Counter()

    async def slot(self, host: str | None = None, *, arp: bool = False, cost: int = 1) -> None:
        self.drawn[host] += 1
        await super().slot(host, arp=arp, cost=cost)


def test_every_connection_draws_from_the_runs_limiter() -> None:
    # --rate and --host-rate cap new connections as they cap every other packet: each one is
    # drawn from the limiter the run hands in, under its host's name
    ips = [f"127.0.0.{n}" for n in range(10, 20)]
    closed = free_port(ips)
    stats: collections.Counter[str] = collections.Counter()
    limiter = CountingLimiter(rate=1000.0, host_rate=25.0)
    ports = {"http": [closed], "rtsp": [closed]}
    scan(grab_banners(ips, FAST, ports, stats=stats, limiter=limiter))
    assert stats["connections"] == 20
    assert stats["quiet"] == 20
    assert limiter.drawn == {ip: 2 for ip in ips}
    # the first connection to each host counts twice: the kernel's ARP request goes first
    assert limiter.sent == 20 + len(ips)


def keep_alive_server(accepted: collections.Counter[str]) -> Handler:
    """HTTP/1.1 with no Connection header (RFC 9112 9.3: the connection persists): answers
    every request on a connection until the client closes it; counts connections accepted."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted[writer.get_extra_info("sockname")[0]] += 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                _, target = await read_request(reader)
                page = HIK_PAGES.get(target, http_reply("404 Not Found", []))
                writer.write(page.replace(b"Connection: close\r\n", b""))
                await writer.drain()

    return handle


def test_a_request_on_a_kept_connection_takes_no_turn_from_the_limiter() -> None:
    # README "Rates": --rate and --host-rate count packets and new connections (their SYN), not
    # the requests that follow on a connection already open; a kept connection's follow-up
    # paths went through the limiter as if each were a new connection (issue 27)
    ips = ["127.0.0.21", "127.0.0.22"]
    accepted: collections.Counter[str] = collections.Counter()
    stats: collections.Counter[str] = collections.Counter()
    limiter = CountingLimiter(rate=1000.0, host_rate=25.0)

    async def run() -> None:
        async with serving({ip: keep_alive_server(accepted) for ip in ips}) as port:
            await grab_banners(ips, FAST, {"http": [port]}, stats=stats, limiter=limiter)

    scan(run())
    assert stats["reused"] >= 2 * len(ips)  # the telling paths went on kept connections
    assert limiter.drawn == accepted == {ip: accepted[ip] for ip in ips}
    assert sum(accepted.values()) == stats["connections"]


def test_a_port_of_a_device_that_keeps_its_connection_takes_one_connection() -> None:
    # issue 27: a port's telling paths, then GET /, go on one connection the device keeps open
    # (one SYN, where "/" on its own connection and the paths on another took two); GET / goes
    # last and asks to close, as the requests the HTTP header signatures were written from did
    asked: list[tuple[int, str, str]] = []  # (connection, path, the request's Connection)

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = len({c for c, _, _ in asked}) + 1
        with contextlib.suppress(asyncio.IncompleteReadError, ConnectionError):
            while True:
                head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
                path = head.split(" ", 2)[1]
                connection = head.lower().split("connection: ", 1)[1].split("\r\n", 1)[0]
                asked.append((conn, path, connection))
                page = HIK_PAGES.get(path, http_reply("404 Not Found", []))
                writer.write(page.replace(b"Connection: close\r\n", b""))
                await writer.drain()
                if connection == "close":
                    return

    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        async with serving({"127.0.0.23": handle}) as port:
            return await grab_banners(["127.0.0.23"], FAST, {"http": [port]}, stats=stats)

    stats: collections.Counter[str] = collections.Counter()
    found, errors = scan(run())["127.0.0.23"]
    assert errors == []
    assert asked == [(1, p, "keep-alive") for p in TELLING_PATHS] + [(1, "/", "close")]
    assert stats["connections"] == 1 and stats["reused"] == len(TELLING_PATHS)
    assert values(found, "http.title") == ["Hikvision & Web"]  # what "/" said is all there
    assert len(values(found, "http.status")) == 1 + len(TELLING_PATHS)


def test_bad_targets_and_ports_are_errors_not_tracebacks() -> None:
    results = scan(grab_banners(["not-an-ip", "127.0.0.2"], FAST, {"http": []}))
    assert results == {
        "not-an-ip": (
            [],
            [ProbeError("banners", "not-an-ip", "not an IP address", ProbeKind.MALFORMED)],
        ),
        "127.0.0.2": ([], []),
    }
    with pytest.raises(ValueError, match="unknown port kinds"):
        scan(grab_banners(["127.0.0.2"], FAST, {"htp": [80]}))
    with pytest.raises(ValueError, match="must be positive"):
        Limits(deadline=0)


def test_main_prints_json_and_refuses_non_lab_targets() -> None:
    async def run() -> subprocess.CompletedProcess[str]:
        async with serving({"127.0.0.2": hik_http}) as port:
            argv = [sys.executable, "-m", "camscan.discovery.banners.scheduler", "--json"]
            process = await asyncio.create_subprocess_exec(
                *argv,
                f"--ports=http={port}",
                "127.0.0.2",
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            out, err = await process.communicate()
            return subprocess.CompletedProcess(
                argv, process.returncode or 0, out.decode(), err.decode()
            )

    done = scan(run())
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    found = report["hosts"]["127.0.0.2"]["observations"]
    assert "Hikvision-Webs" in [o["raw"] for o in found if o["channel"] == "http.header.server"]
    # Outside the lab a non-loopback address is refused before any packet is sent.
    refused = subprocess.run(
        [sys.executable, "-m", "camscan.discovery.banners.scheduler", "--json", "198.18.1.2"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert refused.returncode == 2
    assert refused.stderr.startswith("error: ")
    assert refused.stdout == ""


# ---------------------------------------------------------------- parsers (hypothesis)

TOKEN = st.text(
    alphabet=st.sampled_from("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."),
    min_size=1,
    max_size=20,
)
VALUE = st.text(
    alphabet=st.characters(min_codepoint=0x21, max_codepoint=0xFF, exclude_characters="\x7f"),
    max_size=40,
).map(str.strip) | st.just("a b  c")


@given(st.binary(max_size=2048))
def test_parse_head_never_raises_on_random_bytes(data: bytes) -> None:
    head = parse_head(data)
    if head is not None:
        assert head.lines[0] == head.status_line
        assert 0 <= head.status <= 999


@given(st.binary(max_size=2048).map(lambda b: b"HTTP/1.1 200 OK\r\n" + b))
def test_parse_head_never_raises_on_random_headers(data: bytes) -> None:
    head = parse_head(data)
    assert head is not None
    assert head.status == 200


@settings(max_examples=300)
@given(
    proto=st.sampled_from(["HTTP/1.0", "HTTP/1.1", "RTSP/1.0"]),
    status=st.integers(100, 599),
    reason=st.sampled_from(["", "OK", "Unauthorized", "Moved Temporarily"]),
    headers=st.lists(st.tuples(TOKEN, VALUE), max_size=12),
    line_end=st.sampled_from(["\r\n", "\n"]),
)
def test_parse_head_round_trips_well_formed_heads(
    proto: str, status: int, reason: str, headers: list[tuple[str, str]], line_end: str
) -> None:
    status_line = f"{proto} {status} {reason}".rstrip()
    lines = [status_line] + [f"{name}: {value}" for name, value in headers]
    head = parse_head(line_end.join(lines).encode("latin-1"))
    assert head is not None
    assert (head.protocol, head.status, head.reason) == (proto, status, reason)
    assert list(head.headers) == headers
    assert head.text() == "\r\n".join(lines)
    for name, value in headers:
        assert value in head.get_all(name.upper())


@given(st.binary(max_size=512), st.integers(1, 256))
def test_dechunk_never_raises_and_respects_limit(raw: bytes, limit: int) -> None:
    body, _ = dechunk(raw, limit)
    assert len(body) <= limit


@given(st.lists(st.binary(min_size=1, max_size=40), max_size=8), st.sampled_from(["\r\n", "\n"]))
def test_dechunk_round_trips(chunks: list[bytes], line_end: str) -> None:
    eol = line_end.encode()
    raw = b"".join(b"%x" % len(c) + eol + c + eol for c in chunks) + b"0" + eol + eol
    assert dechunk(raw, 10_000) == (b"".join(chunks), True)


@settings(max_examples=200)
@given(st.binary(max_size=4096), st.lists(st.integers(1, 600), max_size=6))
def test_read_head_on_random_streams_returns_or_fails_cleanly(data: bytes, cuts: list[int]) -> None:
    """A real StreamReader fed in arbitrary pieces: a Head, or a one-line ProbeFailure."""

    async def run() -> None:
        reader = asyncio.StreamReader()
        pos = 0
        for cut in cuts:
            reader.feed_data(data[pos : pos + cut])
            pos += cut
        reader.feed_data(data[pos:])
        reader.feed_eof()
        limits = Limits(max_head_bytes=1024, read_timeout=0.5)
        failure = ""
        try:
            await read_head(reader, limits, "HTTP")
        except ProbeFailure as exc:
            failure = str(exc)
        assert "\n" not in failure

    asyncio.run(run())


# ---------------------------------------------------------------- silent (filtered) devices


@contextlib.contextmanager
def dropping(ip: str, count: int) -> Iterator[list[int]]:
    """Ports on `ip` whose handshakes go unanswered, as behind a filter: a listener with a full
    accept queue (listen(0) plus one connection never accepted) drops every further SYN."""
    held: list[socket.socket] = []
    ports = []
    try:
        for _ in range(count):
            listener = socket.socket()
            listener.bind((ip, 0))
            listener.listen(0)
            filler = socket.create_connection(listener.getsockname(), timeout=1.0)
            held += [listener, filler]
            ports.append(listener.getsockname()[1])
        yield ports
    finally:
        for sock in held:
            sock.close()


QUICK_CONNECT = dataclasses.replace(FAST, connect_timeout=0.5)


def test_a_silent_device_is_not_waited_on_port_after_port() -> None:
    stats: collections.Counter[str] = collections.Counter()
    with dropping("127.0.0.9", 2 * QUICK_CONNECT.per_host) as ports:
        results = scan(grab_banners(["127.0.0.9"], QUICK_CONNECT, {"http": ports}, stats=stats))
    assert results["127.0.0.9"] == ([], [])
    # handshakes go out per_host (6) at a time: once SILENT_AFTER (3) went unanswered, the
    # ports still queued are skipped
    tried = stats["connections"]
    assert SILENT_AFTER <= tried < SILENT_AFTER + QUICK_CONNECT.per_host
    assert stats["quiet_host_skipped"] == len(ports) - tried > 0
    assert stats["quiet"] == len(ports)


async def slow_hik_http(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await asyncio.sleep(0.4)  # a slow camera: well within read_timeout, after a filtered port
    await hik_http(reader, writer)


def test_a_slow_device_whose_other_ports_answer_keeps_every_probe() -> None:
    stats: collections.Counter[str] = collections.Counter()

    async def run() -> dict[str, tuple[list[Observation], list[ProbeError]]]:
        with dropping("127.0.0.10", 4) as (first, second, third, last):
            async with serving({"127.0.0.10": slow_hik_http}) as web:
                ports = {"http": [first, second, web, third, last]}
                return await grab_banners(["127.0.0.10"], QUICK_CONNECT, ports, stats=stats)

    found, errors = scan(run())["127.0.0.10"]
    assert errors == []
    assert "Hikvision-Webs" in values(found, "http.header.server")
    assert stats["quiet_host_skipped"] == 0
    assert stats["connections"] == 4 + 1 + len(TELLING_PATHS)  # every filtered port tried


# ---------------------------------------------------------------- hosts handed over as found


def test_host_feed_hands_each_host_once_and_ends_every_consumer() -> None:
    async def run() -> list[list[str]]:
        feed = HostFeed()
        got: list[list[str]] = [[], [], []]

        async def consume(mine: list[str]) -> None:
            while (ip := await feed.get()) is not None:
                mine.append(ip)

        consumers = [asyncio.create_task(consume(m)) for m in got]
        for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.2", "127.0.0.4"]:
            feed.put(ip)
            await asyncio.sleep(0)
        feed.close()
        feed.put("127.0.0.5")  # after the end: ignored
        await asyncio.gather(*consumers)
        return got

    got = scan(run())
    assert sorted(ip for mine in got for ip in mine) == ["127.0.0.2", "127.0.0.3", "127.0.0.4"]


def test_banners_start_on_a_fed_host_before_discovery_ends() -> None:
    """A host is probed as soon as it is fed: its banners are in before the feed is closed."""

    async def run() -> tuple[int, dict[str, tuple[list[Observation], list[ProbeError]]]]:
        feed = HostFeed()
        first_done = asyncio.Event()

        def progress(done: int, _total: int) -> None:
            first_done.set()

        async with serving({"127.0.0.2": hik_http, "127.0.0.3": hik_http}) as port:
            grab = asyncio.create_task(grab_banners(feed, FAST, {"http": [port]}, progress))
            feed.put("127.0.0.2")
            # discovery still going on: the feed is open, and the first host gets done anyway
            await asyncio.wait_for(first_done.wait(), timeout=30)
            assert not grab.done()
            feed.put("127.0.0.3")
            feed.close()
            return port, await grab

    port, results = scan(run())
    assert list(results) == ["127.0.0.2", "127.0.0.3"]
    for found, errors in results.values():
        assert errors == []
        assert values(found, "http.header.server", f"http:{port}/") == ["Hikvision-Webs"]
