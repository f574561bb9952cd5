"""A scan result shaped like a real office sweep, for the HTML print tests: flagged devices
with several pieces of evidence each, some for review, an accepted exception, other makers,
and fifteen devices nothing is known about. Policy and run as in tests/samples.py."""

from __future__ import annotations

from datetime import date

from camscan.model import (
    Device,
    Evidence,
    Observation,
    ProbeError,
    ScanResult,
    Strength,
    Verdict,
)
from camscan.policy import ExceptionEntry
from tests.samples import assessed, sample_run


def serial_of(n: int) -> str:
    return f"DS-2CD2385G1-I2020041{n:02d}AAWRE3384{n:04d}"


def camera(n: int, ip: str, maker: str = "hikvision", badge: str | None = None) -> Device:
    mac = f"44:19:b6:00:{n // 256:02x}:{n % 256:02x}"
    serial = serial_of(n)
    sadp = (
        "<ProbeMatch><Types>inquiry</Types><DeviceDescription>DS-2CD2385G1-I</DeviceDescription>"
        f"<DeviceSN>{serial}</DeviceSN><MAC>{mac}</MAC></ProbeMatch>"
    )
    evidence = [
        Evidence("hikvision.sadp.probematch", "sadp.reply", sadp, maker, Strength.STRONG,
                 badge, {"serial": serial}, "SADP inquiry answer", "sadp"),
        Evidence("hikvision.http.server.app-webs", "http.header.server", "App-webs/", maker,
                 Strength.STRONG, None, {}, "HTTP Server header", "http:80"),
        Evidence("hikvision.rtsp.realm", "rtsp.header.www-authenticate",
                 f'Digest realm="{maker.upper()}-{n}", nonce="{n:032x}"', maker, Strength.MEDIUM,
                 None, {}, "RTSP realm", "rtsp:554"),
        Evidence(f"oui.{maker}", "arp.mac", mac, maker, Strength.MEDIUM, None, {}, "OUI", "arp"),
    ]  # fmt: skip
    return Device(
        ip=ip,
        mac=mac,
        interface="eth0",
        oui_vendor="Hangzhou Hikvision Digital Technology Co.,Ltd.",
        observations=[Observation("sadp.reply", sadp, "sadp", ip, mac, {"serial": serial}, 1.0)],
        verdict=Verdict(
            maker=maker,
            badge=badge,
            model="DS-2CD2385G1-I",
            firmware="V5.5.82 build 190909",
            serial=serial,
            confidence=0.97,
            confidence_label="high",
            evidence=evidence,
            summary=f"{maker.title()}-made (high confidence: 2 strong)",
        ),
    )


def office_result() -> ScanResult:
    devices = [camera(n, f"198.18.0.{10 + n}") for n in range(1, 6)]  # core: critical
    devices += [camera(n, f"198.18.1.{10 + n}", "dahua", "Lorex") for n in range(6, 9)]  # high
    devices += [camera(n, f"198.18.2.{10 + n}") for n in range(9, 12)]  # review
    devices.append(camera(12, "198.18.1.40"))  # accepted below
    devices.append(
        Device(
            ip="198.18.2.77",
            mac="00:40:8c:01:02:03",
            verdict=Verdict(maker="axis", confidence=0.9, confidence_label="high"),
        )
    )
    devices += [
        Device(
            ip=f"198.18.{n % 3}.{100 + n}",
            mac=f"02:00:00:00:00:{n:02x}",
            oui_vendor=None,
            probe_errors=[ProbeError("http:80", f"198.18.{n % 3}.{100 + n}", "connection refused")]
            if n % 4 == 0
            else [],
        )
        for n in range(15)
    ]
    exceptions = [
        ExceptionEntry("replacement ordered (CHG-1234)", "J. Smith, CISO", date(2099, 1, 1),
                       mac="44:19:b6:00:00:0c")
    ]  # fmt: skip
    run = sample_run(
        ["arp", "sadp", "dhip", "wsd", "http", "rtsp"],
        {"arp.sent": 1022, "arp.replies": 28},
        scanner_host="scanner-01",
        data_versions={"oui": "generated 2025-05-01", "signatures": "6 files, sha256 0123456789ab"},
    )
    return assessed(devices, exceptions, run)
