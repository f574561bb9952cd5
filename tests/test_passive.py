"""Passive discovery offline: the pcap/pcapng reader, the prefilter and dissection, and
`camscan import` of captures, hostile ones included. No network: captures are built in memory.
"""

from __future__ import annotations

import io
import json
import socket
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from camscan import channels
from camscan.cli.main import app
from camscan.discovery.passive import pcapio
from camscan.discovery.passive.dissect import MAX_MESSAGES_PER_SENDER, Heard
from camscan.discovery.passive.heard import devices_from, read_capture

HIK_MAC, DAHUA_MAC, OTHER_MAC = "58:50:ed:00:00:10", "3c:ef:8c:00:00:20", "02:00:00:00:00:30"
HIK_IP, DAHUA_IP, VMS_IP = "198.18.40.10", "198.18.40.20", "198.18.40.1"
SADP_REPLY = (
    '<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><Uuid>A</Uuid><Types>inquiry</Types>'
    "<DeviceDescription>DS-2CD2385G1-I</DeviceDescription>"
    "<DeviceSN>DS-2CD2385G1-I20200414AAWR123456789</DeviceSN><CommandPort>8000</CommandPort>"
    f"<MAC>{HIK_MAC.replace(':', '-')}</MAC><IPv4Address>198.18.40.99</IPv4Address>"
    "<SoftwareVersion>V5.6.2build 190701</SoftwareVersion><Activated>true</Activated>"
    "</ProbeMatch>"
).encode()
RTSP_401 = (
    b'RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: Digest realm="Login to '
    b'ND021811019863", nonce="1"\r\n\r\n'
)


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ip(text: str) -> bytes:
    return bytes(int(x) for x in text.split("."))


def ether(
    src: str, payload: bytes, ethertype: int = 0x0800, dst: str = "ff:ff:ff:ff:ff:ff"
) -> bytes:
    return _mac(dst) + _mac(src) + struct.pack("!H", ethertype) + payload


def ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, 0, 64, proto, 0, _ip(src), _ip(dst)
    )
    return header + payload


def udp(src: str, dst: str, sport: int, dport: int, data: bytes, mac: str) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return ether(mac, ipv4(src, dst, 17, seg))


def tcp(
    src: str,
    dst: str,
    sport: int,
    dport: int,
    data: bytes,
    mac: str,
    seq: int = 1000,
    flags: int = 0x18,
) -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 5 << 4, flags, 65535, 0, 0) + data
    return ether(mac, ipv4(src, dst, 6, seg))


def arp(mac: str, ip: str) -> bytes:
    body = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + _mac(mac) + _ip(ip) + b"\0" * 10
    return ether(mac, body, 0x0806)


def pcap(frames: list[bytes], link: int = 1, order: str = "<") -> bytes:
    out = [struct.pack(order + "IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, link)]
    for i, frame in enumerate(frames):
        out.append(struct.pack(order + "IIII", 1_700_000_000 + i, 0, len(frame), len(frame)))
        out.append(frame)
    return b"".join(out)


def _block(kind: int, body: bytes) -> bytes:
    body += b"\0" * (-len(body) % 4)
    return struct.pack("<II", kind, len(body) + 12) + body + struct.pack("<I", len(body) + 12)


def pcapng(frames: list[bytes], link: int = 1) -> bytes:
    out = [_block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))]
    out.append(_block(1, struct.pack("<HHI", link, 0, 0)))
    for i, frame in enumerate(frames):
        ts = (1_700_000_000 + i) * 1_000_000
        body = struct.pack("<IIIII", 0, ts >> 32, ts & 0xFFFFFFFF, len(frame), len(frame))
        out.append(_block(6, body + frame))
    return b"".join(out)


def lab_frames() -> list[bytes]:
    rtp = udp(HIK_IP, VMS_IP, 50000, 50002, b"\x80\x60" + b"\0" * 1200, HIK_MAC)
    return [
        arp(HIK_MAC, HIK_IP),
        *[rtp] * 50,
        udp(HIK_IP, "239.255.255.250", 37020, 37020, SADP_REPLY, HIK_MAC),
        tcp(
            VMS_IP,
            DAHUA_IP,
            40000,
            554,
            b"DESCRIBE rtsp://x/ RTSP/1.0\r\nCSeq: 2\r\n\r\n",
            OTHER_MAC,
        ),
        tcp(DAHUA_IP, VMS_IP, 554, 40000, RTSP_401, DAHUA_MAC),
        tcp(DAHUA_IP, VMS_IP, 554, 40000, b"$\x00\x05\xdc" + b"\0" * 1400, DAHUA_MAC, seq=5000),
    ]


def _devices(data: bytes) -> dict[str, object]:
    heard, source = read_capture(io.BytesIO(data), "test")
    assert source.packets == len(lab_frames())
    return {d.ip: d for d in devices_from(heard.observations)}


@pytest.mark.parametrize("writer", [pcap, pcapng])
def test_capture_gives_the_observations_active_probes_give(writer) -> None:  # type: ignore[no-untyped-def]
    devices = _devices(writer(lab_frames()))
    hik, dahua = devices[HIK_IP], devices[DAHUA_IP]
    assert hik.mac == HIK_MAC and hik.mac_source == "wire"  # type: ignore[attr-defined]
    channels_heard = {o.channel for o in hik.observations}  # type: ignore[attr-defined]
    assert {channels.ARP_MAC, channels.SADP_REPLY} <= channels_heard
    sadp = next(o for o in hik.observations if o.channel == channels.SADP_REPLY)  # type: ignore[attr-defined]
    assert sadp.fields["model"] == "DS-2CD2385G1-I" and sadp.fields["reported_ip"] == "198.18.40.99"
    assert sadp.probe == "passive:sadp" and sadp.at == 1_700_000_000 + 51
    realm = [o for o in dahua.observations if o.channel == "rtsp.header.www-authenticate"]  # type: ignore[attr-defined]
    assert realm and "Login to ND021811019863" in realm[0].raw
    assert "198.18.40.99" not in devices  # an address inside a payload is a claim, not a device


def dns_query(name: str, src: str, mac: str, response: bool = False) -> bytes:
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0\0\1\0\1"
    header = struct.pack("!6H", 7, 0x8180 if response else 0x0100, 1, 0, 0, 0)
    ports = (53, 40000) if response else (40000, 53)
    return udp(src, "198.18.40.53", *ports, header + question, mac)


def test_cloud_lookups_are_kept_for_sourced_domains_only() -> None:
    frames = [
        dns_query("litedev.hik-connect.com", HIK_IP, HIK_MAC),
        dns_query("www.example.com", HIK_IP, HIK_MAC),  # any other name: not kept
        dns_query("dev.hik-connect.com", HIK_IP, HIK_MAC, response=True),  # the resolver's
        dns_query("www.easy4ipcloud.com", DAHUA_IP, DAHUA_MAC),
    ]
    heard, _ = read_capture(io.BytesIO(pcap(frames)), "dns")
    found = {(o.ip, o.raw) for o in heard.observations if o.channel == channels.DNS_QUERY}
    assert found == {(HIK_IP, "litedev.hik-connect.com"), (DAHUA_IP, "www.easy4ipcloud.com")}
    assert heard.parsed == 2  # lookups of other names cost the asker no budget


def test_cloud_domains_and_signatures_agree() -> None:
    import tomllib

    from camscan.discovery.passive.dissect import cloud_domains

    root = Path(__file__).resolve().parent.parent
    doc = tomllib.loads((root / "signatures" / "cloud.toml").read_text(encoding="utf-8"))
    sigs = [s for s in doc["signature"] if s["channel"] == "dns.query"]
    examples = [e if isinstance(e, str) else e["value"] for s in sigs for e in s["examples"]]
    domains = cloud_domains()
    assert all(any(e == d or e.endswith("." + d) for d in domains) for e in examples)
    assert all(any(e == d or e.endswith("." + d) for e in examples) for d in domains)


def test_big_endian_and_nanosecond_pcap() -> None:
    frames = lab_frames()
    data = pcap(frames, order=">")
    assert _devices(data)[HIK_IP]
    nano = bytearray(pcap(frames))
    nano[0:4] = bytes.fromhex("4d3cb2a1")
    assert _devices(bytes(nano))[HIK_IP]


def test_import_cli_identifies_and_is_never_clean(tmp_path: Path) -> None:
    path = tmp_path / "lab.pcap"
    path.write_bytes(pcap(lab_frames()))
    done = CliRunner().invoke(app, ["import", str(path), "-f", "json"])
    assert done.exit_code == 3, done.output
    doc = json.loads(done.stdout)
    makers = {d["ip"]: d["maker"] for d in doc["devices"]}
    assert makers[HIK_IP] == "hikvision" and makers[DAHUA_IP] == "dahua"
    assert doc["run"]["partial"] is True and doc["verdict"]["status"] == "partial"
    assert doc["run"]["coverage"][0]["method"] == "passive"
    assert doc["run"]["not_covered"][0].startswith("passive: not exhaustive: heard 55 packets")


def test_quiet_import_of_a_capture_keeps_only_the_gaps_on_stderr(tmp_path: Path) -> None:
    """-q silences the 'report written' line for a capture as for nmap XML; what the capture did
    not cover is still said (it ignored -q before: the passive path dropped the flag)."""
    path, out = tmp_path / "lab.pcap", tmp_path / "out.json"
    path.write_bytes(pcap(lab_frames()))
    loud = CliRunner().invoke(app, ["import", str(path), "-o", str(out)])
    quiet = CliRunner().invoke(app, ["import", str(path), "-o", str(out), "-q"])
    assert loud.exit_code == quiet.exit_code == 3
    assert "report written to" in loud.stderr
    assert "report written to" not in quiet.stderr and "not exhaustive" in quiet.stderr
    assert json.loads(out.read_text())["devices"]


def test_import_still_reads_nmap_xml(tmp_path: Path) -> None:
    path = tmp_path / "scan.xml"
    path.write_text('<?xml version="1.0"?><nmaprun></nmaprun>')
    done = CliRunner().invoke(app, ["import", str(path), "-f", "json"])
    assert done.exit_code == 0, done.output


# --- hostile captures: one line and exit 2, or a bounded result; never a traceback ------------


def _import(tmp_path: Path, data: bytes) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "hostile.cap"
    path.write_bytes(data)
    return subprocess.run(
        [sys.executable, "-m", "camscan", "import", str(path), "-f", "json"],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )


def test_wrong_link_type_is_one_line(tmp_path: Path) -> None:
    done = _import(tmp_path, pcap(lab_frames(), link=147))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "camscan: error: pcap link type 147 is not one camscan reads (Ethernet, raw IP, SLL)"
    ]


def test_pcapng_with_a_2gb_block_is_refused_before_reading_it(tmp_path: Path) -> None:
    shb = _block(0x0A0D0D0A, struct.pack("<IHHq", 0x1A2B3C4D, 1, 0, -1))
    done = _import(tmp_path, shb + struct.pack("<II", 6, 0x80000000) + b"\0" * 64)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "block of 2147483648 bytes" in done.stderr and len(done.stderr.splitlines()) == 1


def test_damage_after_good_packets_keeps_them_and_says_so(tmp_path: Path) -> None:
    good = pcap(lab_frames())
    claim = struct.pack("<IIII", 1, 0, 65535, 65535) + b"\0" * 100  # claims 64 KiB, has 100 B
    done = _import(tmp_path, good + claim)
    assert done.returncode == 3, done.stderr
    doc = json.loads(done.stdout)
    assert any(d["maker"] == "hikvision" for d in doc["devices"])
    assert any("damaged at byte" in line for line in doc["run"]["not_covered"])


def test_flood_from_one_sender_is_bounded() -> None:
    frames = [
        udp(
            HIK_IP,
            "239.255.255.250",
            37020,
            37020,
            SADP_REPLY.replace(b"<Uuid>A", f"<Uuid>{i}".encode()),
            HIK_MAC,
        )
        for i in range(MAX_MESSAGES_PER_SENDER * 4)
    ]
    heard, _ = read_capture(io.BytesIO(pcap(frames)), "flood")
    assert heard.parsed == MAX_MESSAGES_PER_SENDER
    assert heard.stats["passive.flood"] == MAX_MESSAGES_PER_SENDER * 3
    assert [e.target for e in heard.errors] == [HIK_IP]


def test_not_a_capture_nor_xml_is_one_line(tmp_path: Path) -> None:
    done = _import(tmp_path, b"\x00\x01garbage")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1


def test_listen_without_cap_net_raw_is_one_line() -> None:
    done = subprocess.run(
        [
            "setpriv",
            "--inh-caps=-all",
            "--bounding-set=-net_raw",
            "--",
            sys.executable,
            "-m",
            "camscan",
            "listen",
            "-i",
            "lo",
            "-d",
            "1",
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("camscan: error: camscan listen needs CAP_NET_RAW")
    assert len(done.stderr.strip().splitlines()) == 1


def test_listen_on_a_missing_interface_is_one_line() -> None:
    done = CliRunner().invoke(app, ["listen", "-i", "nonexistent9", "-d", "1"])
    assert done.exit_code == 2
    assert "cannot listen on nonexistent9" in done.output


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cut=st.integers(min_value=0, max_value=4000), noise=st.binary(max_size=64))
def test_reader_on_cut_and_corrupted_files_raises_only_capture_error(
    cut: int, noise: bytes
) -> None:
    heard = Heard()

    def sink(
        link: int, order: str, data: bytes | bytearray, pos: int, limit: int
    ) -> tuple[int, int, int]:
        assert 0 <= pos <= limit <= len(data) - pcapio.PAD
        end, count, last = heard.feed_records(link, order, data, pos, limit)
        assert pos <= end <= limit and (count == 0 or pos <= last < end)
        return end, count, last

    for data in (pcap(lab_frames()), pcapng(lab_frames())):
        damaged = data[:cut] + noise
        stats = pcapio.ReadStats()
        try:
            pcapio.read(io.BytesIO(damaged), stats, sink)
        except pcapio.CaptureError as e:
            message = str(e)
            assert "\n" not in message
        assert stats.bytes <= len(damaged)


@settings(max_examples=300, deadline=None)
@given(frame=st.binary(max_size=300), link=st.sampled_from(sorted(pcapio.LINK_TYPES)))
def test_dissection_of_any_frame_never_raises(frame: bytes, link: int) -> None:
    heard = Heard()
    heard.frame(link, 0, frame)
    heard.feed(link, 0, frame, 0, len(frame))
    for prefix in (lab_frames()[2][:34], lab_frames()[-2][:54]):  # real headers, random rest
        data = b"pad" + prefix + frame + b"next record"
        heard.feed(1, 0, data, 3, len(data) - 11)
    heard.finish()


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(lab_frames())),
            st.integers(min_value=0, max_value=60),
            st.binary(max_size=6),
            st.integers(min_value=0, max_value=1500),
        ),
        max_size=40,
    ),
    order=st.sampled_from("<>"),
)
def test_the_inline_prefilter_decides_as_frame_does(
    edits: list[tuple[int, int, bytes, int]], order: str
) -> None:
    """feed_records reads most frames inline, without `frame`: real frames with header bytes
    overwritten and cut give the same (MAC, IP) pairs and observations either way."""
    frames = [*lab_frames(), dns_query("litedev.hik-connect.com", HIK_IP, HIK_MAC)]
    built = []
    for i, at, noise, cut in edits:
        edited = bytearray(frames[i])
        edited[at : at + len(noise)] = noise
        built.append(bytes(edited[:cut] if cut < 34 or cut < len(edited) // 2 else edited))
    built += frames  # and every frame whole, in the same capture
    fast, source = read_capture(io.BytesIO(pcap(built, order=order)), "fast")
    slow = Heard()
    for n, frame in enumerate(built):
        slow.frame(1, 1_700_000_000 + n, frame)
    slow.finish()
    assert source.packets == len(built)
    assert fast.pairs == slow.pairs and fast.seen == slow.seen
    assert fast.observations == slow.observations and fast.parsed == slow.parsed


class _Trickle(io.BytesIO):
    """A pipe that hands over at most 777 bytes per read."""

    def read(self, size: int | None = -1) -> bytes:
        return super().read(777 if size is None or size < 0 else min(size, 777))

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer)  # type: ignore[arg-type]
        return super().readinto(view[:777])


@pytest.mark.parametrize("chunk", [64, 1000, pcapio.CHUNK])
def test_records_across_buffer_refills_read_the_same(
    chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Records cut by a buffer's end (any chunk size, a pipe's short reads) are read whole
    once, and a damaged tail is found at the same byte."""
    frames = lab_frames() * 10
    data = pcap(frames) + struct.pack("<IIII", 9, 0, 4000, 4000) + b"\0" * 100
    whole, whole_source = read_capture(io.BytesIO(data), "x")
    monkeypatch.setattr(pcapio, "CHUNK", chunk)
    for stream in (io.BytesIO(data), _Trickle(data)):
        heard, source = read_capture(stream, "x")
        assert source == whole_source and source.packets == len(frames)
        assert source.damaged and f"at byte {len(data) - 116}:" in source.damaged
        assert heard.observations == whole.observations and heard.pairs == whole.pairs


def test_every_mac_ip_pair_is_recorded() -> None:
    """A pair seen once among a stream of others is still learnt: the MAC that forwards for
    five addresses is a router (no device gets its MAC), the others keep theirs."""
    rtp = udp(HIK_IP, VMS_IP, 50000, 50002, b"\x80\x60" + b"\0" * 200, HIK_MAC)
    router = "02:00:00:00:00:99"
    frames = [rtp] * 100
    for n in range(5):
        frames.insert(7 + 13 * n, udp(f"198.18.41.{n}", VMS_IP, 5004, 5006, b"\0" * 64, router))
    frames.insert(50, udp(DAHUA_IP, VMS_IP, 5004, 5006, b"\0" * 64, DAHUA_MAC))
    heard, _ = read_capture(io.BytesIO(pcap(frames)), "pairs")
    assert {k.hex(":"): {socket.inet_ntoa(ip) for ip in v} for k, v in heard.pairs.items()} == {
        HIK_MAC: {HIK_IP},
        DAHUA_MAC: {DAHUA_IP},
        router: {f"198.18.41.{n}" for n in range(5)},
    }
    macs = {d.ip: d.mac for d in devices_from(heard.observations)}
    assert macs == {HIK_IP: HIK_MAC, DAHUA_IP: DAHUA_MAC}


def test_a_capture_is_stored_like_a_scan(tmp_path: Path) -> None:
    path, db = tmp_path / "lab.pcap", tmp_path / "store.db"
    path.write_bytes(pcap(lab_frames()))
    done = CliRunner().invoke(
        app, ["import", str(path), "--db", str(db), "--site", "plant2", "-f", "json"]
    )
    assert done.exit_code == 3, done.output
    history = CliRunner().invoke(app, ["history", "--db", str(db), "-f", "json"])
    assert history.exit_code == 0, history.output
    runs = json.loads(history.stdout)
    rows = runs if isinstance(runs, list) else runs["runs"]
    assert [(r["site"], r["partial"]) for r in rows] == [("plant2", True)]


def test_the_passive_package_has_no_send_path() -> None:
    """Receive-only by construction: no module of camscan/discovery/passive calls any send
    (the lab test proves the same on the wire: zero frames leave the listening port)."""
    import ast

    import camscan.discovery.passive as passive

    sends = {"send", "sendto", "sendall", "sendmsg", "sendfile", "write"}
    for path in Path(passive.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Attribute) and node.attr in sends:
                raise AssertionError(f"{path.name}:{node.lineno}: .{node.attr}")
