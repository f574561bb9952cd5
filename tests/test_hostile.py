"""Hostile devices and hostile files, without the lab: loopback servers and crafted inputs.

Each test names the issue-11 behaviour it pins. Time bounds here are generous "does not hang"
guards, not speed goals (those live in bench/).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.discovery.banners.tcpports import ProbeFailure
from camscan.discovery.ssdp import fetch_description
from camscan.model import Verdict

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    try:
        for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n" + b"x" * 100000:
            writer.write(bytes([byte]))
            await writer.drain()
            await asyncio.sleep(0.05)
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


def test_ssdp_description_that_drips_ends_at_its_deadline_without_a_thread() -> None:
    async def main() -> None:
        server, port = await _serve(_drip)
        async with server:
            threads = threading.active_count()
            fetch = fetch_description("127.0.0.1", port, "/d.xml", 65536, deadline=0.5)
            with pytest.raises((TimeoutError, ProbeFailure)):
                await asyncio.wait_for(fetch, 30)  # generous: proves "does not hang"
            assert threading.active_count() == threads  # nothing left running behind

    asyncio.run(main())


def test_ssdp_description_is_fetched_when_served_whole() -> None:
    body = b'<?xml version="1.0"?><root><device><manufacturer>LOREX</manufacturer></device></root>'

    async def whole(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    async def main() -> bytes | None:
        server, port = await _serve(whole)
        async with server:
            return await fetch_description("127.0.0.1", port, "/d.xml", 65536)

    assert asyncio.run(main()) == body


async def _many_headers(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    await reader.readuntil(b"\r\n\r\n")
    head = b"HTTP/1.1 200 OK\r\n" + b"".join(b"%x:\r\n" % n for n in range(8000))
    writer.write(head + b"Content-Length: 0\r\n\r\n")
    await writer.drain()
    writer.close()


def test_a_head_of_thousands_of_headers_gives_a_bounded_number_of_observations() -> None:
    from camscan.discovery.banners.http import MAX_HEAD_TEXT, MAX_HEADER_OBSERVATIONS, probe_http
    from camscan.discovery.banners.limits import Limits
    from camscan.model import Observation

    async def main() -> list[Observation]:
        server, port = await _serve(_many_headers)
        out: list[Observation] = []
        async with server:
            await probe_http("127.0.0.1", port, "/", Limits(), out)
        return out

    out = asyncio.run(main())
    headers = [o for o in out if o.channel.startswith("http.header.")]
    assert len(headers) == MAX_HEADER_OBSERVATIONS
    assert len(out) <= MAX_HEADER_OBSERVATIONS + 3
    assert all(len(o.raw) <= MAX_HEAD_TEXT for o in out)


def test_one_flooding_sender_cannot_crowd_out_another() -> None:
    import ipaddress

    from camscan.discovery.base import ProbeContext
    from camscan.discovery.multicast import MAX_DATAGRAMS_PER_SENDER, Datagram, SenderBudget
    from camscan.targets import TargetSet

    ctx = ProbeContext([], TargetSet([ipaddress.IPv4Network("198.18.0.0/24")]))
    budget = SenderBudget(ctx, "wsd")
    flood = [Datagram(b"reply %d" % n, "198.18.0.66", 3702, "eth0") for n in range(20000)]
    admitted = sum(budget.admit(d) for d in flood)
    assert admitted == MAX_DATAGRAMS_PER_SENDER
    camera = Datagram(b"the camera's reply", "198.18.0.10", 3702, "eth0")
    assert budget.admit(camera)
    assert not budget.admit(camera)  # a repeat is folded
    assert [e.target for e in budget.errors()] == ["198.18.0.66"]
    assert ctx.stats["wsd.flood"] == 20000 - MAX_DATAGRAMS_PER_SENDER


# --- evidence a blank device cannot fake ------------------------------------------------------


def _verdict_of(*observations: tuple[str, str, str]) -> Verdict:
    from camscan.identify.engine import identify_device
    from camscan.identify.signatures import SignatureDB
    from camscan.model import Device, Observation

    device = Device(
        "198.18.0.66",
        mac="02:00:00:00:00:66",
        observations=[Observation(ch, raw, probe) for ch, raw, probe in observations],
    )
    return identify_device(device, SignatureDB.load(), None)


EMPTY_SADP = "<ProbeMatch><Uuid>A1</Uuid><Types>inquiry</Types></ProbeMatch>"
EMPTY_DHIP = (
    '{"mac":"02:00:00:00:00:66","method":"client.notifyDevInfo","params":{"deviceInfo":{}}}'
)


def test_a_host_accepting_every_port_is_no_maker() -> None:
    ports = ("80", "443", "554", "8000", "8080", "37777")
    verdict = _verdict_of(*(("tcp.open", p, f"tcp:{p}") for p in ports))
    assert verdict.maker is None


def test_empty_protocol_replies_make_no_verdict_alone_or_together() -> None:
    for observations in (
        [("sadp.reply", EMPTY_SADP, "sadp")],
        [("dhip.reply", EMPTY_DHIP, "dhip")],
        [
            ("sadp.reply", EMPTY_SADP, "sadp"),
            ("dhip.reply", EMPTY_DHIP, "dhip"),
            ("tcp.open", "37777", "tcp:37777"),
            ("tcp.open", "8000", "tcp:8000"),
        ],
    ):
        verdict = _verdict_of(*observations)
        assert verdict.maker is None, observations


# --- timeouts as documented -------------------------------------------------------------------


def test_a_camera_that_answers_after_2_5_s_is_heard_with_the_default_settings() -> None:
    import ipaddress

    from camscan.discovery.banners.http import probe_http
    from camscan.discovery.banners.probe import limits_for
    from camscan.discovery.base import ProbeContext
    from camscan.model import Observation
    from camscan.targets import TargetSet

    async def slow_camera(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        await asyncio.sleep(2.5)
        writer.write(b"HTTP/1.1 200 OK\r\nServer: Hikvision-Webs\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()

    ctx = ProbeContext([], TargetSet([ipaddress.IPv4Network("127.0.0.0/8")]))  # the defaults
    limits = limits_for(ctx)

    async def main() -> list[Observation]:
        server, port = await _serve(slow_camera)
        out: list[Observation] = []
        async with server:
            async with asyncio.timeout(limits.deadline):  # as the scheduler bounds a request
                await probe_http("127.0.0.1", port, "/", limits, out)
        return out

    out = asyncio.run(main())
    assert [o.raw for o in out if o.channel == "http.header.server"] == ["Hikvision-Webs"]


def test_read_timeout_is_configurable_and_checked() -> None:
    from camscan.config import ConfigError, parse_config

    assert (
        parse_config({"scan": {"read_timeout": 5, "timeout": 8}}).scan.settings.timeouts.read == 5.0
    )
    with pytest.raises(ConfigError, match="read_timeout"):
        parse_config({"scan": {"read_timeout": 0}})


# --- hostile files: config --------------------------------------------------------------------


def test_toml_nested_900_deep_is_a_one_line_config_error(tmp_path: Path) -> None:
    from camscan.config import ConfigError, load_config

    path = tmp_path / "deep.toml"
    path.write_text("x = " + "[" * 900 + "]" * 900 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError) as raised:
        load_config(path)
    assert "\n" not in str(raised.value) and "deep" in str(raised.value)
    path.write_text("x = " + "{a = " * 900 + "1" + "}" * 900 + "\n", encoding="utf-8")
    with pytest.raises(ConfigError):
        load_config(path)


def test_a_key_dotted_100000_deep_is_one_line_exit_2_in_bounded_memory(tmp_path: Path) -> None:
    """Issue 25: a 200 KB camscan.toml holding one key dotted 100,000 deep made `config check`
    grow to 23.5 GB (tomllib builds the path before it can say anything): the parts are counted
    first. Memory is measured as the child's peak RSS (the issue's bound: 100 MB)."""
    import subprocess
    import sys

    path = tmp_path / "dotted.toml"
    path.write_text("x" + ".a" * 99_999 + " = 1\n", encoding="utf-8")
    measured = (  # a fresh parent, so the peak is this child's alone
        "import resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "sys.stderr.write(r.stderr)\n"
        "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
        "sys.exit(r.returncode)\n"
    )
    r = subprocess.run(
        [sys.executable, "-c", measured, sys.executable, "-m", "camscan", "config", "check", path],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and "dotted key of over 32 parts" in r.stderr
    assert int(r.stdout) < 100 * 1024  # KiB: the bound, 100 MB
    # Dots inside strings and comments are text; a float is one value, not a key.
    ok = tmp_path / "ok.toml"
    name = "s." * 40
    ok.write_text(
        f'# a.b.c.d\n[scan]\nrate = 1.5\n[[segment]]\nname = "{name}"\n'
        'cidrs = ["198.18.0.0/24"]\nzone = "core"\n'
    )
    from camscan.config import ConfigError, load_config

    assert load_config(ok).segments[0].name == name
    many = tmp_path / "many.toml"
    many.write_text("[scan]\ntargets = [" + "1," * 600_000 + "]\n")
    with pytest.raises(ConfigError, match="over 500,000 entries"):
        load_config(many)


def _segments_toml(cidrs: list[str]) -> dict[str, object]:
    return {
        "segment": [{"name": f"s{n}", "cidrs": [c], "zone": "general"} for n, c in enumerate(cidrs)]
    }


def test_twenty_thousand_segments_are_checked(tmp_path: Path) -> None:
    from camscan.config import ConfigError, parse_config

    cidrs = [f"10.{n >> 8}.{n & 255}.0/24" for n in range(20000)]
    assert len(parse_config(_segments_toml(cidrs)).segments) == 20000
    with pytest.raises(ConfigError, match=r"'s19999' \(10\.78\.31\.0/24\) and 's20000'"):
        parse_config(_segments_toml([*cidrs, "10.78.31.128/25"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 255), st.integers(24, 30)), min_size=1, max_size=12))
def test_segment_overlap_check_agrees_with_comparing_every_pair(
    specs: list[tuple[int, int]],
) -> None:
    import ipaddress

    from camscan.config import ConfigError, parse_config

    nets = [ipaddress.IPv4Network((f"10.0.0.{host}", bits), strict=False) for host, bits in specs]
    overlapping = any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1 :])
    doc = _segments_toml([str(n) for n in nets])
    if overlapping:
        with pytest.raises(ConfigError, match="overlap"):
            parse_config(doc)
    else:
        parse_config(doc)


# --- hostile files: saved results, identify, import -------------------------------------------


def _cli(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    from typer.testing import CliRunner

    from camscan.cli.main import app

    r = CliRunner().invoke(app, list(args), input=stdin, prog_name="camscan")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # a traceback past the CLI boundary
    return r.exit_code, r.stdout, r.stderr


def _saved_result(tmp_path: Path, started: str) -> Path:
    import json

    code, out, err = _cli(
        "identify",
        "-f",
        "json",
        stdin=json.dumps({"channel": "http.header.server", "raw": "webserver", "ip": "192.0.2.7"}),
    )
    assert code == 0, err
    path = tmp_path / "result.json"
    path.write_text(out.replace('"started": ', f'"started": {started}, "x_was": ', 1))
    return path


@pytest.mark.parametrize("started", ["1e300", "NaN", "-Infinity", "-5"])
def test_a_saved_result_with_an_impossible_start_time_is_a_one_line_error(
    tmp_path: Path, started: str
) -> None:
    code, _, err = _cli("report", str(_saved_result(tmp_path, started)))
    assert code == 2, err
    assert err.count("\n") == 1 and "started" in err


def test_identify_json_lines_with_one_junk_line_keeps_the_rest_and_names_the_line() -> None:
    import json

    good = json.dumps({"channel": "http.header.server", "raw": "Hikvision-Webs", "ip": "192.0.2.7"})
    code, out, err = _cli("identify", "-f", "json", stdin=f"{good}\nthis is junk\n{good}\n")
    assert "line 2" in err
    result = json.loads(out)
    assert [d["vendor"] for d in result["devices"]] == ["hikvision"]
    assert result["run"]["partial"] is True and code == 3


@pytest.mark.parametrize("text", ["{not json\n", '{"channel": 1}\n{"raw": "x"}\n', "{" * 5000])
def test_identify_of_a_malformed_json_lines_file_is_exit_2_with_one_line(text: str) -> None:
    code, _, err = _cli("identify", stdin=text)
    assert code == 2, err
    assert err.count("\n") == 1 and "line 1" in err


def test_identify_reads_an_overlong_line_without_holding_it(tmp_path: Path) -> None:
    import json

    from camscan.discovery.ingest import MAX_LINE_CHARS

    good = json.dumps({"channel": "http.header.server", "raw": "Hikvision-Webs", "ip": "192.0.2.7"})
    path = tmp_path / "big.jsonl"
    with path.open("w") as f:
        f.write(good + "\n" + '{"raw": "' + "x" * (3 * MAX_LINE_CHARS) + '"}\n' + good + "\n")
    _code, out, err = _cli("identify", "-f", "json", str(path))
    assert "line 2: longer than" in err
    assert [d["vendor"] for d in json.loads(out)["devices"]] == ["hikvision"]


def _nmap_xml(hosts: int) -> bytes:
    host = (
        '<host><status state="up"/><address addr="198.18.9.{n}" addrtype="ipv4"/>'
        '<ports><port protocol="tcp" portid="80"><state state="open"/>'
        '<service name="http" product="Hikvision IP camera httpd"/></port></ports></host>'
    )
    body = "".join(host.format(n=n % 250 + 1) for n in range(hosts))
    return (
        f'<?xml version="1.0"?><!DOCTYPE nmaprun><nmaprun scanner="nmap">{body}</nmaprun>'
    ).encode()


def test_nmap_import_streams_and_keeps_the_doctype_nmap_writes() -> None:
    from camscan.discovery.ingest import devices_from_nmap_xml

    devices = devices_from_nmap_xml(_nmap_xml(2000))
    assert len(devices) == 250  # the same addresses again merge into one device each
    assert all(d.observations for d in devices)


@pytest.mark.parametrize(
    "xml",
    [
        b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa">]><nmaprun>&a;</nmaprun>',
        b"<nmaprun><host>",
        b"<other/>",
        b"",
    ],
)
def test_nmap_import_of_hostile_xml_is_a_one_line_error(xml: bytes) -> None:
    from camscan.discovery.ingest import IngestError, devices_from_nmap_xml

    with pytest.raises(IngestError) as raised:
        devices_from_nmap_xml(xml)
    assert "\n" not in str(raised.value)


# --- attribution only to the sender -----------------------------------------------------------


def _mdns_reply(address: str) -> bytes:
    from zeroconf import DNSAddress, DNSOutgoing, DNSPointer, DNSService, const

    out = DNSOutgoing(const._FLAGS_QR_RESPONSE | const._FLAGS_AA)
    stype = "_CGI._tcp.local."
    instance = f"HIKVISION DS-2CD2385G1-I - 733050075.{stype}"
    server = "DS-2CD2385G1-I20200414AAWRE733050075.local."
    out.add_answer_at_time(DNSPointer(stype, const._TYPE_PTR, const._CLASS_IN, 120, instance), 0)
    out.add_answer_at_time(
        DNSService(instance, const._TYPE_SRV, const._CLASS_IN, 120, 0, 0, 80, server), 0
    )
    packed = bytes(int(p) for p in address.split("."))
    out.add_answer_at_time(DNSAddress(server, const._TYPE_A, const._CLASS_IN, 120, packed), 0)
    return out.packets()[0]


def test_an_mdns_service_announced_for_another_address_is_only_a_claim() -> None:
    from camscan.discovery.mdns import parse_mdns

    spoofer = "198.18.60.31"
    for named in ("198.18.60.20", "127.0.0.1"):
        observations = parse_mdns(_mdns_reply(named), spoofer)
        assert observations is not None
        assert [o.channel for o in observations] == ["mdns.claim"]
        assert {o.ip for o in observations} == {spoofer}  # the sender, never the named host
        assert observations[0].fields["reported_ip"] == named
        assert _verdict_of(*((o.channel, o.raw, o.probe) for o in observations)).maker is None
    own = parse_mdns(_mdns_reply(spoofer), spoofer)  # a device announcing itself still counts
    assert own is not None and "mdns.instance" in {o.channel for o in own}


def test_answering_two_makers_protocols_is_a_conflict_not_a_confident_verdict() -> None:
    sadp = (
        "<ProbeMatch><Types>inquiry</Types><DeviceDescription>DS-2CD2385G1-I</DeviceDescription>"
        "<DeviceSN>DS-2CD2385G1-I20200414AAWRE33842150</DeviceSN></ProbeMatch>"
    )
    dhip = (
        '{"method":"client.notifyDevInfo","params":{"deviceInfo":'
        '{"DeviceType":"IPC-HDW1431T1-S4","SerialNo":"6C01E93PAG69A7D"}}}'
    )
    verdict = _verdict_of(("sadp.reply", sadp, "sadp"), ("dhip.reply", dhip, "dhip"))
    # Issue 25: not even a low-confidence maker; both claims are shown, neither decides.
    assert verdict.maker is None and verdict.conflicts == ["dahua", "hikvision"]
    assert verdict.confidence_label == "none"


def test_replies_the_kernel_dropped_are_counted_and_named() -> None:
    """Issue 25: under a reply flood the socket's buffer overflowed and a real camera's reply
    vanished with nothing in the result saying so. The kernel's own count (no privilege) makes
    the probe's coverage of that interface partial, named. Loopback only."""
    import socket

    from camscan.discovery.multicast import dropped_errors, kernel_drops
    from camscan.errors import ProbeKind

    receiver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        receiver.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # the kernel's minimum
        receiver.bind(("127.0.0.1", 0))
        assert kernel_drops(receiver) == 0
        assert dropped_errors("wsd", [(receiver, "eth0")]) == []
        for _ in range(2000):  # nobody reads: the buffer fills after a few
            sender.sendto(b"x" * 200, receiver.getsockname())
        lost = kernel_drops(receiver)
        assert 0 < lost < 2000
        (error,) = dropped_errors("wsd", [(receiver, "eth0")])
    finally:
        receiver.close()
        sender.close()
    assert error.probe == "wsd" and error.target == "eth0" and error.kind == ProbeKind.OVERFLOW
    assert f"the kernel dropped {lost} replies on eth0" in error.error


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="ab.=[]{}\"'#,\n 1", max_size=400))
def test_any_config_text_is_a_config_or_one_line_error(text: str) -> None:
    """Issue 25: the shape checks run before tomllib on every config; whatever the text, the
    answer is a config or one ConfigError line, never a traceback."""
    import tempfile

    from camscan.config import ConfigError, load_config

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "camscan.toml"
        path.write_text(text, encoding="utf-8")
        problem = ""
        try:
            load_config(path)
        except ConfigError as e:
            problem = str(e)
    assert "\n" not in problem
