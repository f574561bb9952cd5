"""Observations from user data: JSON lines, pasted banners, nmap XML; bad input never raises."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from camscan.discovery.ingest import (
    IngestError,
    devices_from_nmap_xml,
    observations_from_banner,
    observations_from_jsonl,
)
from camscan.identify.engine import identify_device
from camscan.identify.oui import OuiDB
from camscan.identify.signatures import SignatureDB

FIXTURE = Path(__file__).parent / "fixtures" / "nmap_camera_lab.xml"
SIGS = SignatureDB.load()


# --- JSON lines --------------------------------------------------------------------------------


def test_jsonl_keeps_good_lines_and_reports_bad_ones_by_number() -> None:
    lines: list[str | bytes] = [
        json.dumps(
            {
                "channel": "http.header.server",
                "raw": "Hikvision-Webs",
                "ip": "198.18.0.64",
                "mac": "44-19-B6-12-34-56",
            }
        ),
        "",
        "{not json",
        json.dumps(["a list"]),
        json.dumps({"channel": "telepathy", "raw": "x"}),
        json.dumps({"channel": "sadp.reply", "raw": 5}),
        json.dumps({"channel": "sadp.reply", "raw": "x", "ip": "not-an-ip"}),
        json.dumps({"channel": "sadp.reply", "raw": "x", "mac": "zz"}),
        json.dumps({"channel": "dhip.reply", "raw": "{}", "fields": {"model": "IPC"}}).encode(),
    ]
    found, errors = observations_from_jsonl(lines)
    assert [(o.channel, o.ip, o.mac) for o in found] == [
        ("http.header.server", "198.18.0.64", "44:19:b6:12:34:56"),
        ("dhip.reply", None, None),
    ]
    assert found[1].fields == {"model": "IPC"}
    assert found[1].probe == "import"
    assert [e.split(":")[0] for e in errors] == [f"line {n}" for n in (3, 4, 5, 6, 7, 8)]
    assert all("\n" not in e for e in errors)
    assert "unknown channel 'telepathy'" in errors[2]


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=200), st.binary(max_size=200)), max_size=10))
def test_jsonl_never_raises(lines: list[str | bytes]) -> None:
    found, errors = observations_from_jsonl(lines)
    assert len(found) + len(errors) <= len(lines)


def test_deeply_nested_json_is_an_error_not_a_crash() -> None:
    _, errors = observations_from_jsonl(["[" * 100000 + "]" * 100000])
    assert len(errors) == 1
    assert errors[0].startswith("line 1:")


# --- banners -----------------------------------------------------------------------------------


def test_http_response_head_becomes_header_title_and_body_observations() -> None:
    text = (
        'HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Digest qop="auth", '
        'realm="IP Camera(C2183)", nonce="4e54", stale="FALSE"\r\n'
        "Content-Type: text/html\r\n\r\n<html><title> Document &amp; Error </title></html>"
    )
    found = observations_from_banner(text)
    by_channel = {o.channel: o.raw for o in found}
    assert by_channel["http.status"] == "HTTP/1.1 401 Unauthorized"
    assert by_channel["http.header.content-type"] == "text/html"
    assert by_channel["http.title"] == "Document & Error"
    assert by_channel["http.headers"].startswith("HTTP/1.1 401 Unauthorized\r\nWWW-Auth")
    hits = [ev.signature_id for o in found for ev in SIGS.match(o)]
    assert hits == ["hikvision.auth.realm.ip-camera"]


def test_rtsp_response_with_sdp() -> None:
    text = (
        "RTSP/1.0 200 OK\nCSeq: 2\nServer: Rtsp Server/3.0\n\n"
        "v=0\ns=Media Server\na=packetization-supported:DH\n"
    )
    found = observations_from_banner(text)
    assert [o.channel for o in found] == [
        "rtsp.status",
        "rtsp.header.cseq",
        "rtsp.header.server",
        "rtsp.headers",
        "rtsp.sdp",
    ]
    assert {ev.maker for o in found for ev in SIGS.match(o)} == {"dahua", None}


@pytest.mark.parametrize(
    ("text", "channel", "raw"),
    [
        ("Hikvision-Webs\n", "http.header.server", "Hikvision-Webs"),
        ("Server: uc-httpd 1.0.0", "http.header.server", "uc-httpd 1.0.0"),
        (
            'WWW-Authenticate: Basic realm="DVRNVRDVS"',
            "http.header.www-authenticate",
            'Basic realm="DVRNVRDVS"',
        ),
        (
            "<ProbeMatch><Types>inquiry</Types></ProbeMatch>",
            "sadp.reply",
            "<ProbeMatch><Types>inquiry</Types></ProbeMatch>",
        ),
        ("onvif://www.onvif.org/name/Dahua", "wsd.scopes", "onvif://www.onvif.org/name/Dahua"),
    ],
)
def test_bare_banners_are_guessed(text: str, channel: str, raw: str) -> None:
    [obs] = observations_from_banner(text)
    assert (obs.channel, obs.raw) == (channel, raw)


BANNER_HEADS = ["", "HTTP/1.1 200 OK\r\n", "RTSP/1.0 401 Unauthorized\n"]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(BANNER_HEADS), st.text(max_size=500))
def test_random_banners_never_crash(head: str, text: str) -> None:
    for obs in observations_from_banner(head + text):
        SIGS.match(obs)


# --- nmap XML ----------------------------------------------------------------------------------


def test_nmap_fixture_gives_devices_and_verdicts() -> None:
    devices = devices_from_nmap_xml(FIXTURE)
    assert [d.ip for d in devices] == ["198.18.0.64", "198.18.0.108", "198.18.0.90"]
    hik, dahua, axis = devices
    assert hik.mac == "44:19:b6:12:34:56"
    assert hik.oui_vendor == "Hangzhou Hikvision Digital Technology"
    seen = {(o.channel, o.raw) for o in hik.observations}
    assert ("http.header.server", "App-webs/") in seen
    assert ("http.favicon.md5", "89b932fcc47cf4ca3faadb0cfdef89cf") in seen
    assert (
        "tls.subject",
        "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN",
    ) in seen
    assert ("nmap.service", "Hikvision IPCam control port") in seen
    assert not any(o.channel == "http.title" for o in hik.observations)  # "Site doesn't have..."
    assert all(o.ip == "198.18.0.64" for o in hik.observations)
    # Dahua's port 80 reply was only in nmap's service fingerprint (SF: lines, escaped).
    body = next(o.raw for o in dahua.observations if o.channel == "http.body")
    assert body.startswith("<html><head><title>WEB SERVICE</title>")
    assert '"ui-dialog' in body
    assert ("http.header.p3p", "CP=CAO PSA OUR") in {(o.channel, o.raw) for o in dahua.observations}
    assert not any(o.probe == "nmap:8080/tcp" for o in axis.observations)  # filtered port

    ouis = OuiDB.load()
    verdicts = [identify_device(d, SIGS, ouis) for d in devices]
    assert [(v.maker, v.confidence_label) for v in verdicts] == [
        ("hikvision", "high"),
        ("dahua", "high"),
        ("axis", "high"),
    ]
    assert "dahua.http.headers.uppercase" in {e.signature_id for e in verdicts[1].evidence}


def test_nmap_tcp_banner_from_null_probe_fingerprint() -> None:
    xml = (
        b'<nmaprun><host><address addr="198.18.0.65" addrtype="ipv4"/><ports>'
        b'<port protocol="tcp" portid="8000"><state state="open"/><service name="unknown" '
        b'servicefp="SF-Port8000-TCP:V=7.93%I=7%r(NULL,10,&quot;\\0\\0\\0\\x10\\0\\0\\0\\x1e'
        b'\\0\\0\\0\\x1e\\0\\0\\0\\0&quot;);"/></port></ports></host></nmaprun>'
    )
    [device] = devices_from_nmap_xml(xml)
    banner = next(o for o in device.observations if o.channel == "tcp.banner.8000")
    assert banner.raw == "000000100000001e0000001e00000000"
    assert [e.signature_id for e in SIGS.match(banner)] == ["hikvision.tcp.sdk-frame"]


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<nmaprun>&lol3;</nmaprun>"""
EXTERNAL = b"""<?xml version="1.0"?>
<!DOCTYPE nmaprun [<!ENTITY x SYSTEM "file:///etc/passwd">]><nmaprun>&x;</nmaprun>"""


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (BOMB, "nmap XML refused: EntitiesForbidden"),
        (EXTERNAL, "nmap XML refused: EntitiesForbidden"),
        (b"<nmaprun><host>", "nmap XML is not well-formed: no element found"),
        (b"", "nmap XML is not well-formed"),
        (b"\xff\xfe garbage", "nmap XML is not well-formed"),
        (b"<html><body/></html>", "not nmap XML: root element is <html>"),
    ],
)
def test_malformed_nmap_xml_raises_one_line_ingest_error(data: bytes, message: str) -> None:
    with pytest.raises(IngestError) as caught:
        devices_from_nmap_xml(data)
    text = str(caught.value)
    assert text.startswith(message)
    assert "\n" not in text


def test_missing_nmap_file_is_an_ingest_error(tmp_path: Path) -> None:
    with pytest.raises(IngestError, match=r"cannot read .*missing\.xml: No such file"):
        devices_from_nmap_xml(tmp_path / "missing.xml")


@settings(max_examples=200, deadline=None)
@given(
    st.binary(max_size=400)
    | st.text(max_size=400).map(
        lambda s: (
            f"<nmaprun><host><address addr='198.18.0.1' addrtype='ipv4'/>{s}</host></nmaprun>".encode()
        )
    )
)
def test_random_xml_gives_devices_or_ingest_error(data: bytes) -> None:
    try:
        devices = devices_from_nmap_xml(data)
    except IngestError as e:
        message = str(e)
        devices = []
    else:
        message = ""
    assert "\n" not in message
    for device in devices:
        identify_device(device, SIGS, None)
