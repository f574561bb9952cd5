"""The lab itself: topology files, personas, the namespace builder, the emulator, teardown.

Every packet here is sent from inside a lab namespace (`lab.run`) to 198.18.0.0/15 addresses.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.lab import (
    Lab,
    PersonaError,
    TopologyError,
    bundled_persona_names,
    lab_namespace_problem,
    load_persona,
    load_topology,
    remove_stale,
)
from camscan.lab.netns import existing, owned_by
from camscan.lab.persona import parse_persona
from camscan.lab.topology import parse_topology
from tests.labtools import in_scanner

LAB_SPACE = ipaddress.IPv4Network("198.18.0.0/15")


def one_of(lab: Lab, persona: str) -> str:
    return lab.devices_of(persona)[0].ip


# -- topology and persona files (no privileges needed) --------------------------------------


def topo(cidr: str, scanner: str, **group: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"network": [{"name": "n", "cidr": cidr, "scanner": scanner}]}
    if group:
        data["group"] = [{"network": "n", **group}]
    return data


@pytest.mark.parametrize(
    ("cidr", "scanner"),
    [
        ("10.0.0.0/24", "10.0.0.1"),
        ("192.168.1.0/24", "192.168.1.1"),
        ("172.16.0.0/24", "172.16.0.1"),
        ("198.20.0.0/24", "198.20.0.1"),
        ("198.16.0.0/14", "198.18.0.1"),  # a superset of the lab space is not inside it
        ("8.8.8.0/24", "8.8.8.1"),
    ],
)
def test_topology_refuses_networks_outside_the_lab_space(cidr: str, scanner: str) -> None:
    with pytest.raises(TopologyError, match="outside"):
        parse_topology(topo(cidr, scanner), "t", [])


def test_topology_rejects_bad_addresses() -> None:
    with pytest.raises(TopologyError, match="not a host address"):
        parse_topology(topo("198.18.5.0/24", "198.18.6.1"), "t", [])
    with pytest.raises(TopologyError, match="not a host address"):
        parse_topology(topo("198.18.5.0/30", "198.18.5.1", persona="workstation", count=3), "t", [])
    bad = topo("198.18.5.0/24", "198.18.5.1", persona="workstation", addresses=["198.18.5.1"])
    with pytest.raises(TopologyError, match="used twice"):
        parse_topology(bad, "t", [])
    with pytest.raises(TopologyError, match="no persona"):
        parse_topology(topo("198.18.5.0/24", "198.18.5.1", persona="nope", count=1), "t", [])


def test_bundled_topologies() -> None:
    office = load_topology("office")
    assert [(n.name, str(n.cidr)) for n in office.networks] == [
        ("core", "198.18.10.0/24"),
        ("sensitive", "198.18.20.0/24"),
        ("general", "198.18.30.0/24"),
    ]
    office_personas = {d.persona for d in office.devices}
    for wanted in (
        "hikvision-ipc",
        "dahua-ipc",
        "ezviz",
        "hilook",
        "lorex",
        "amcrest",
        "intelbras",
        "cpplus",
        "axis",
        "hanwha",
        "uniview",
        "xiongmai",
        "printer",
        "workstation",
    ):
        assert wanted in office_personas

    flat = load_topology("flat253")
    assert [d.ip for d in flat.devices] == [f"198.18.1.{i}" for i in range(2, 255)]
    assert len({d.mac for d in flat.devices}) == 253
    prefixes = {d.mac[:8] for d in flat.devices}
    assert {"58:50:ed", "08:ed:ed", "0c:a6:4c", "00:1f:54", "9c:8e:cd", "02:00:00"} <= prefixes

    # every persona is in "mixed", except the floods and spoofers only "hostile" holds (issue 11)
    # and the look-alikes of the statement's core-network rule only "statement" holds (issue 21)
    mixed = {d.persona for d in load_topology("mixed").devices}
    hostile = {d.persona for d in load_topology("hostile").devices}
    statement = {d.persona for d in load_topology("statement").devices}
    # and the cameras only a MAC names, in the lab of routers' ARP tables (issue 28)
    snmp = {d.persona for d in load_topology("routed-snmp").devices}
    assert mixed | hostile | statement | snmp == set(bundled_persona_names())
    assert snmp - mixed == {"hik-oui-silent", "dahua-oui-silent"}
    assert statement - mixed - hostile == {"whitelabel-camera", "printer-wsd", "media-server"}

    sparse = load_topology("sparse16")
    assert sparse.networks[0].cidr.prefixlen == 16
    assert 40 <= len(sparse.devices) <= 60
    assert len({ipaddress.IPv4Address(d.ip).packed[2] for d in sparse.devices}) > 30

    for name in ("office", "flat253", "mixed", "sparse16", "hostile"):
        for dev in load_topology(name).devices:
            assert ipaddress.IPv4Address(dev.ip) in LAB_SPACE


def test_personas_state_their_expected_verdict() -> None:
    for name in bundled_persona_names():
        persona = load_persona(name)
        assert persona.description
        assert persona.expect.maker in {
            None,
            "hikvision",
            "dahua",
            "axis",
            "hanwha",
            "uniview",
            "xiongmai",
            "reolink",
        }
    assert load_persona("ezviz").expect.badge == "EZVIZ"
    assert load_persona("intelbras").expect.badge == "Intelbras"
    assert load_persona("generic-goahead").expect.maker is None
    for name in bundled_persona_names():
        if name.startswith(("hik-only-", "dahua-only-")):
            assert load_persona(name).mac_prefix.startswith("02:")


def test_device_variables_are_deterministic() -> None:
    persona = load_persona("hikvision-ipc")
    ip = ipaddress.IPv4Address("198.18.1.7")
    first = persona.device_vars(ip, "58:50:ed:12:01:07")
    assert first == persona.device_vars(ip, "58:50:ed:12:01:07")
    assert first["uuid_mac"].endswith("-5850ed120107")  # Hikvision EPR node = MAC
    assert first["serial"].startswith("DS-2CD2385G1-I20200414AAWR")
    assert len(first["serial9"]) == 9 and first["serial9"].isdigit()


toml_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["name", "mac_prefix", "expect", "vars", "http", "x"]),
        toml_values,
        max_size=5,
    )
)
def test_persona_parser_fails_only_with_persona_error(data: dict[str, Any]) -> None:
    with contextlib.suppress(PersonaError):
        parse_persona({k: v for k, v in data.items() if v is not None}, "fuzz")


@settings(max_examples=200, deadline=None)
@given(
    st.dictionaries(st.sampled_from(["name", "network", "group"]), toml_values, max_size=3),
    st.lists(
        st.dictionaries(st.sampled_from(["name", "cidr", "scanner"]), toml_values), max_size=2
    ),
)
def test_topology_parser_fails_only_with_topology_error(
    data: dict[str, Any], networks: list[dict[str, Any]]
) -> None:
    data = {k: v for k, v in data.items() if v is not None}
    if networks:
        data["network"] = networks
    with contextlib.suppress(TopologyError):
        parse_topology(data, "fuzz", [])


def test_guard_refuses_the_host_namespace() -> None:
    problem = lab_namespace_problem()
    assert problem is not None and problem.strip() and "\n" not in problem


# -- built labs ------------------------------------------------------------------------------

ARP_SWEEP = """
    import json, socket, subprocess, time
    ips = {ips}
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for ip in ips:  # any datagram makes the kernel resolve the address with ARP
        s.sendto(b"x", (ip, 9))
    deadline = time.time() + 5
    while True:
        out = subprocess.run(["ip", "-j", "neigh", "show", "dev", "eth0"],
                             capture_output=True, text=True).stdout
        table = {{e["dst"]: e.get("lladdr") for e in json.loads(out or "[]")
                 if "lladdr" in e and e.get("state") != ["FAILED"]}}
        if all(ip in table for ip in ips) or time.time() > deadline:
            break
        time.sleep(0.2)
    print(json.dumps(table))
"""


@pytest.mark.lab
def test_flat253_builds_fast_and_every_device_answers_arp_with_its_own_mac(
    lab_factory: Any,
) -> None:
    lab = lab_factory("flat253")
    assert len(lab.devices) == 253
    assert lab.build_seconds < 5, lab.build_seconds
    assert lab.ready_seconds < 20, lab.ready_seconds
    ips = [d.ip for d in lab.devices]
    table = json.loads(in_scanner(lab, ARP_SWEEP.format(ips=json.dumps(ips))))
    assert {ip: table.get(ip) for ip in ips} == {d.ip: d.mac for d in lab.devices}


@pytest.mark.lab
def test_scanner_namespace_is_a_guarded_lab_namespace(lab: Lab) -> None:
    assert lab.interfaces == {"mixed": "eth0"}
    out = in_scanner(
        lab,
        """
        from camscan.labguard import lab_namespace_problem
        print(lab_namespace_problem())
        """,
    )
    assert out.strip() == "None"
    routes = lab.run(["ip", "route", "show", "default"], capture_output=True, text=True).stdout
    assert routes.strip() == ""
    addrs = lab.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    assert "198.18.40.1/24" in addrs and "eth0" in addrs
    assert lab.run(["ip", "-6", "-o", "addr"], capture_output=True, text=True).stdout.strip() == ""


RAW_TCP = """
    import socket, sys
    s = socket.create_connection(({ip!r}, {port}), timeout=5)
    s.sendall({request!r})
    s.settimeout({idle})
    data = b""
    while len(data) < {limit}:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    sys.stdout.buffer.write(data[:{limit}])
"""


def tcp_exchange(
    lab: Lab, ip: str, port: int, request: bytes, limit: int = 65536, idle: float = 5.0
) -> bytes:
    """Send `request`, read until the peer closes, `limit` bytes, or `idle` seconds of silence."""
    code = RAW_TCP.format(ip=ip, port=port, request=request, limit=limit, idle=idle)
    done = lab.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return bytes(done.stdout)


@pytest.mark.lab
def test_http_server_headers_are_the_personas(lab: Lab) -> None:
    hik = tcp_exchange(lab, one_of(lab, "hikvision-ipc"), 80, b"GET / HTTP/1.0\r\n\r\n")
    assert hik.startswith(b"HTTP/1.1 302 ")
    assert b"\r\nServer: Hikvision-Webs\r\n" in hik
    realm = tcp_exchange(
        lab, one_of(lab, "hikvision-ipc"), 80, b"GET /ISAPI/System/deviceInfo HTTP/1.0\r\n\r\n"
    )
    assert b'realm="IP Camera(C2183)"' in realm and b" 401 " in realm
    dahua = tcp_exchange(lab, one_of(lab, "dahua-ipc"), 80, b"GET / HTTP/1.0\r\n\r\n")
    head, _, body = dahua.partition(b"\r\n\r\n")
    assert b"\nServer:" not in head and b"\nSERVER:" not in head
    assert b"\r\nCONTENT-LENGTH: " + str(len(body)).encode() in head
    assert b"<title>WEB SERVICE</title>" in body
    goahead = tcp_exchange(lab, one_of(lab, "generic-goahead"), 80, b"GET / HTTP/1.0\r\n\r\n")
    assert b"\r\nServer: GoAhead-Webs\r\n" in goahead


@pytest.mark.lab
def test_rtsp_answers_per_persona_and_echoes_cseq(lab: Lab) -> None:
    ip = one_of(lab, "dahua-only-rtsp-server")
    reply = tcp_exchange(
        lab, ip, 554, f"DESCRIBE rtsp://{ip}/ RTSP/1.0\r\nCSeq: 7\r\n\r\n".encode(), idle=0.5
    )
    assert reply.startswith(b"RTSP/1.0 401 ")
    assert b"\r\nCSeq: 7\r\n" in reply and b"\r\nServer: Dahua Rtsp Server\r\n" in reply
    ip = one_of(lab, "hik-only-rtsp-realm")
    reply = tcp_exchange(
        lab, ip, 554, f"OPTIONS rtsp://{ip}/ RTSP/1.0\r\nCSeq: 2\r\n\r\n".encode(), idle=0.5
    )
    assert reply.startswith(b"RTSP/1.0 200 ") and b"Public: OPTIONS, DESCRIBE" in reply


@pytest.mark.lab
def test_tcp_banner_and_tls_subject(lab: Lab) -> None:
    banner = tcp_exchange(lab, one_of(lab, "hikvision-ipc"), 8000, b"", limit=16, idle=1.0)
    assert banner == bytes.fromhex("000000100000001e0000001e00000000")
    out = in_scanner(
        lab,
        f"""
        import socket, ssl
        from cryptography import x509
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with socket.create_connection(({one_of(lab, "hik-only-tls")!r}, 443), timeout=5) as raw:
            with ctx.wrap_socket(raw) as tls:
                der = tls.getpeercert(binary_form=True)
        print(x509.load_der_x509_certificate(der).subject.rfc4514_string())
        """,
    )
    assert out.strip() == "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"


MULTICAST_PROBE = """
    import json, socket, time
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton({src!r}))
    s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    s.bind(({src!r}, 0))
    s.settimeout(0.2)
    s.sendto(bytes.fromhex({payload!r}), ({group!r}, {port}))
    replies, end = {{}}, time.time() + {window}
    while time.time() < end:
        try:
            data, addr = s.recvfrom(70000)
        except socket.timeout:
            continue
        replies.setdefault(addr[0], data.hex())
    print(json.dumps(replies))
"""


def multicast(
    lab: Lab, group: str, port: int, payload: bytes, window: float = 1.5
) -> dict[str, bytes]:
    src = str(lab.topology.networks[0].scanner)
    code = MULTICAST_PROBE.format(
        src=src, payload=payload.hex(), group=group, port=port, window=window
    )
    return {ip: bytes.fromhex(h) for ip, h in json.loads(in_scanner(lab, code)).items()}


def expected_ips(lab: Lab, service: str) -> set[str]:
    return {d.ip for d in lab.devices if service in lab.topology.personas[d.persona].services}


SADP_PROBE = (
    b'<?xml version="1.0" encoding="utf-8"?><Probe><Uuid>5A1B0E4C-0000-4000-8000-0000000000AB'
    b"</Uuid><Types>inquiry</Types></Probe>"
)
WSD_PROBE = (
    b'<?xml version="1.0" encoding="UTF-8"?><e:Envelope xmlns:e="http://www.w3.org/2003/05/soap-envelope"'
    b' xmlns:w="http://schemas.xmlsoap.org/ws/2004/08/addressing"'
    b' xmlns:d="http://schemas.xmlsoap.org/ws/2005/04/discovery"><e:Header>'
    b"<w:MessageID>uuid:0a6dc791-2be6-4991-9af1-454778a1917a</w:MessageID>"
    b"<w:To>urn:schemas-xmlsoap-org:ws:2005:04:discovery</w:To>"
    b"<w:Action>http://schemas.xmlsoap.org/ws/2005/04/discovery/Probe</w:Action></e:Header>"
    b"<e:Body><d:Probe><d:Types>dn:NetworkVideoTransmitter</d:Types></d:Probe></e:Body></e:Envelope>"
)


@pytest.mark.lab
def test_sadp_probe_gets_each_personas_probematch(lab: Lab) -> None:
    replies = multicast(lab, "239.255.255.250", 37020, SADP_PROBE)
    assert set(replies) == expected_ips(lab, "sadp")
    hik = lab.devices_of("hikvision-ipc")[0]
    text = replies[hik.ip].decode()
    assert "<Types>inquiry</Types>" in text and "<DeviceDescription>DS-2CD2385G1-I<" in text
    assert f"<MAC>{hik.mac.replace(':', '-')}</MAC>" in text
    assert "<Uuid>5A1B0E4C-0000-4000-8000-0000000000AB</Uuid>" in text
    assert "<DeviceDescription>CS-C6TC-32WFR<" in replies[one_of(lab, "ezviz")].decode()
    assert b'SYSTEM "file:///etc/passwd"' in replies[one_of(lab, "hostile-xml-bomb")]


@pytest.mark.lab
def test_wsd_probe_gets_probematches_relating_to_the_probe(lab: Lab) -> None:
    replies = multicast(lab, "239.255.255.250", 3702, WSD_PROBE)
    assert set(replies) == expected_ips(lab, "wsd")
    for data in replies.values():
        assert b"uuid:0a6dc791-2be6-4991-9af1-454778a1917a</wsadis:RelatesTo>" in data
    hik = replies[one_of(lab, "hikvision-ipc")].decode()
    assert "onvif://www.onvif.org/name/HIKVISION%20DS-2CD2385G1-I" in hik
    assert "-5850ed" in hik  # EPR node is the MAC
    assert "onvif://www.onvif.org/name/CPPLUS" in replies[one_of(lab, "cpplus")].decode()
    assert len(replies[one_of(lab, "hostile-huge-headers")]) >= 65000
    assert b"<!ENTITY lol9" in replies[one_of(lab, "hostile-xml-bomb")]


def dhip_request() -> bytes:
    body = b'{"method":"DHDiscover.search","params":{"mac":"","uni":1}}\n'
    return (
        b"\x20\x00\x00\x00DHIP"
        + bytes(8)
        + len(body).to_bytes(4, "little")
        + bytes(4)
        + len(body).to_bytes(4, "little")
        + bytes(4)
        + body
    )


@pytest.mark.lab
def test_dhip_multicast_and_broadcast(lab: Lab) -> None:
    for group in ("239.255.255.251", "255.255.255.255"):
        replies = multicast(lab, group, 37810, dhip_request())
        assert set(replies) == expected_ips(lab, "dhip")
    intelbras = replies[one_of(lab, "intelbras")]
    assert intelbras[:8] == b"\x20\x00\x00\x00DHIP"
    length = int.from_bytes(intelbras[16:20], "little")
    assert length == len(intelbras) - 32 == int.from_bytes(intelbras[24:28], "little")
    message = json.loads(intelbras[32:].rstrip(b"\n\0"))
    assert message["method"] == "client.notifyDevInfo"
    assert message["params"]["deviceInfo"]["Vendor"] == "Intelbras"
    assert message["mac"] == lab.devices_of("intelbras")[0].mac
    bad = replies[one_of(lab, "hostile-garbage")]
    assert int.from_bytes(bad[16:20], "little") != len(bad) - 32


@pytest.mark.lab
def test_dvrip_and_ssdp(lab: Lab) -> None:
    request = bytes.fromhex("a3010001" + "00" * 12 + "02" + "00" * 15)
    replies = multicast(lab, "255.255.255.255", 5050, request)
    assert set(replies) == expected_ips(lab, "dvrip")
    reply = replies[one_of(lab, "dahua-ipc")]
    assert reply[0] == 0xB3 and b"SerialNo:6C01E93PAG" in reply
    search = (
        b'M-SEARCH * HTTP/1.1\r\nHOST: 239.255.255.250:1900\r\nMAN: "ssdp:discover"\r\n'
        b"MX: 1\r\nST: ssdp:all\r\n\r\n"
    )
    replies = multicast(lab, "239.255.255.250", 1900, search)
    assert set(replies) == expected_ips(lab, "ssdp")
    assert b"Portable SDK for UPnP devices" in replies[one_of(lab, "axis")]


@pytest.mark.lab
def test_mdns_services_are_browsable(lab: Lab) -> None:
    src = str(lab.topology.networks[0].scanner)
    out = in_scanner(
        lab,
        f"""
        import time
        from zeroconf import IPVersion, ServiceBrowser, ServiceListener, Zeroconf
        names = set()
        class Listener(ServiceListener):
            def add_service(self, zc, type_, name): names.add(name)
            def update_service(self, zc, type_, name): pass
            def remove_service(self, zc, type_, name): pass
        zc = Zeroconf(interfaces=[{src!r}], ip_version=IPVersion.V4Only)
        ServiceBrowser(zc, ["_CGI._tcp.local.", "_axis-video._tcp.local."], Listener())
        time.sleep(2.5)
        info = zc.get_service_info("_CGI._tcp.local.", sorted(n for n in names if "CGI" in n)[0])
        print(sorted(names)); print(info.server)
        zc.close()
        """,
    )
    hik = lab.devices_of("hikvision-ipc")[0]
    assert "HIKVISION DS-2CD2385G1-I - " in out and "._CGI._tcp.local." in out
    assert "AXIS P3245-LV - " in out
    serial = lab.topology.personas["hikvision-ipc"].device_vars(
        ipaddress.IPv4Address(hik.ip), hik.mac
    )["serial"]
    assert f"{serial}.local." in out


@pytest.mark.lab
def test_hostile_devices_misbehave_and_the_emulator_survives(lab: Lab) -> None:
    garbage = tcp_exchange(lab, one_of(lab, "hostile-garbage"), 80, b"GET / HTTP/1.0\r\n\r\n")
    assert len(garbage) == 4096 and not garbage.startswith(b"HTTP/")
    huge = tcp_exchange(
        lab,
        one_of(lab, "hostile-huge-headers"),
        80,
        b"GET / HTTP/1.0\r\n\r\n",
        limit=2 * 1024 * 1024,
    )
    assert max(len(line) for line in huge.split(b"\r\n")) >= 1024 * 1024
    endless = tcp_exchange(
        lab,
        one_of(lab, "hostile-huge-headers"),
        80,
        b"GET /x HTTP/1.0\r\n\r\n",
        limit=4 * 1024 * 1024,
    )
    assert len(endless) == 4 * 1024 * 1024
    begun = time.monotonic()
    slow = in_scanner(
        lab,
        f"""
        import socket
        s = socket.create_connection(({one_of(lab, "hostile-slow")!r}, 80), timeout=5)
        s.sendall(b"GET / HTTP/1.0\\r\\n\\r\\n")
        print(len(s.recv(100)))
        """,
    )
    assert slow.strip() == "1" and time.monotonic() - begun < 10
    assert lab.emulator is not None and lab.emulator.poll() is None


# -- teardown -------------------------------------------------------------------------------

SMALL = """
name = "small"
[[network]]
name = "lan"
cidr = "198.18.77.0/24"
scanner = "198.18.77.1"
[[group]]
persona = "hik-only-http-server"
network = "lan"
count = 2
"""


@pytest.mark.lab
def test_teardown_leaves_nothing_even_after_the_emulator_is_killed(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)
    with Lab(load_topology(tmp_path / "small.toml")) as lab:
        prefix = lab.layout.prefix if lab.layout else ""
        assert len(owned_by(prefix)) == 3
        assert lab.emulator is not None
        os.kill(lab.emulator.pid, signal.SIGKILL)
        lab.emulator.wait(5)
    assert owned_by(prefix) == []


CRASHING_OWNER = """
import os, signal, sys
from camscan.lab import Lab, load_topology
lab = Lab(load_topology(sys.argv[1]))
lab.start()
print(lab.layout.prefix, lab.emulator.pid, flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.lab
def test_labs_of_dead_owners_are_removed_and_their_emulator_dies(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)
    env = Lab(load_topology(tmp_path / "small.toml")).python_env()
    done = subprocess.run(
        [sys.executable, "-c", CRASHING_OWNER, str(tmp_path / "small.toml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    prefix, emulator_pid = done.stdout.split()
    # Checked at once: any lab started meanwhile (another test run) also removes stale labs.
    assert len(owned_by(prefix)) == 3  # the owner died without cleaning up
    assert list(Path(tempfile.gettempdir()).glob(f"{prefix}*")), "the owner left no scratch folder"
    deadline = time.monotonic() + 5
    while Path(f"/proc/{emulator_pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not Path(f"/proc/{emulator_pid}").exists(), "emulator outlived its parent"
    removed = remove_stale()
    assert set(owned_by(prefix)) == set() and len([n for n in removed if n.startswith(prefix)]) == 3
    assert all(not n.startswith(prefix) for n in existing())
    # ... and so is its scratch folder (the emulator's spec and log)
    assert list(Path(tempfile.gettempdir()).glob(f"{prefix}*")) == []


@pytest.mark.lab
def test_sigterm_tears_the_lab_down(tmp_path: Path) -> None:
    (tmp_path / "small.toml").write_text(SMALL)
    env = Lab(load_topology(tmp_path / "small.toml")).python_env()
    proc = subprocess.Popen(
        [sys.executable, "-m", "camscan.lab", "up", str(tmp_path / "small.toml")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    first = proc.stdout.readline()
    scanner_ns = proc.stdout.readline().split(":")[-1].strip()
    assert first.startswith("lab small") and scanner_ns in existing()
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    assert scanner_ns not in existing()


@pytest.mark.lab
def test_guard_and_emulator_refuse_a_namespace_with_a_default_route(tmp_path: Path) -> None:
    from camscan.lab import netns

    name = f"{netns.new_prefix()}routed"
    netns.add(name)
    try:
        netns.ip_batch(
            [
                "link add v0 type veth peer name v1",
                "addr add 198.18.99.2/24 dev v0",
                "link set v0 up",
                "route add default via 198.18.99.1",
            ],
            namespace=name,
        )
        with netns.entered(name):
            problem = lab_namespace_problem()
        assert problem == "this namespace has a default route"
        spec = {
            "parent": os.getpid(),
            "lifetime": 30,
            "personas": {"p": {"http": {"80": {}}}},
            "devices": [
                {
                    "ns": name,
                    "ifname": "v0",
                    "ip": "198.18.99.2",
                    "mac": "02:00:00:00:00:01",
                    "prefixlen": 24,
                    "persona": "p",
                    "vars": {},
                }
            ],
        }
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        env = Lab(load_topology("mixed")).python_env()
        done = subprocess.run(
            [sys.executable, "-m", "camscan.lab.emulator", str(tmp_path / "spec.json")],
            capture_output=True,
            text=True,
            env=env,
            timeout=30,
        )
        assert done.returncode == 1 and "refusing namespace" in done.stderr
        assert "ready" not in done.stdout
    finally:
        netns.delete(name)
