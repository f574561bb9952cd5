"""Scan results the report, table, export and CLI tests share, built from data as a scan
would leave it: Hikvision devices with SADP and HTTP evidence, a Lorex-badged Dahua recorder,
a device whose every string tries to be code somewhere (HTML, CSV formulas, terminal escapes),
an accepted exception, another maker, a device nothing is known about and one out of scope.

`assessed` and `sample_run` are also what tests/html_sample.py builds its office sweep with.
"""

from __future__ import annotations

from datetime import date

from camscan.model import (
    Device,
    Evidence,
    Observation,
    ProbeError,
    ScanResult,
    ScanRun,
    Segment,
    Strength,
    Verdict,
)
from camscan.policy import ExceptionEntry, PolicySettings, evaluate

SCAN_DAY = date(2025, 6, 1)  # the day the policy is applied (exceptions expire against it)

SCRIPT = "<script>alert(1)</script>"
FORMULA = '=HYPERLINK("http://evil.example/x","click me")'
CMD = '+cmd|" /C calc"!A0'
ESC = "\x1b[2J\x1b[31m"

SEGMENTS = [
    Segment("hq-core", ["198.18.0.0/24"], "core"),
    Segment("evidence-store", ["198.18.1.0/24"], "sensitive"),
    Segment("car-park", ["198.18.2.0/24"], "general"),
]


def _ev(
    sig: str,
    channel: str,
    raw: str,
    maker: str | None,
    strength: Strength,
    probe: str,
    badge: str | None = None,
    **captured: str,
) -> Evidence:
    return Evidence(
        signature_id=sig,
        channel=channel,
        raw=raw,
        maker=maker,
        strength=strength,
        badge=badge,
        captured=captured,
        probe=probe,
        description=f"{sig} matched",
    )


def _obs(channel: str, raw: str, probe: str, ip: str, **fields: str) -> Observation:
    return Observation(channel=channel, raw=raw, probe=probe, ip=ip, fields=fields, at=1748772000.5)


def hik_sadp(ip: str, mac: str) -> Device:
    sadp = (
        "<ProbeMatch><Types>inquiry</Types><DeviceDescription>DS-2CD2385G1-I"
        "</DeviceDescription><DeviceSN>DS-2CD2385G1-I20200414AAWRE33842150</DeviceSN>"
        "</ProbeMatch>"
    )
    return Device(
        ip=ip,
        mac=mac,
        interface="eth0",
        oui_vendor="Hangzhou Hikvision Digital Technology",
        observations=[
            _obs("sadp.reply", sadp, "sadp", ip, model="DS-2CD2385G1-I"),
            _obs("http.header.server", "App-webs/", "http:80", ip),
        ],
        verdict=Verdict(
            maker="hikvision",
            model="DS-2CD2385G1-I",
            firmware="V5.5.82",
            serial="DS-2CD2385G1-I20200414AAWRE33842150",
            confidence=0.97,
            confidence_label="high",
            summary="Hikvision-made (high confidence: 2 strong)",
            evidence=[
                _ev(
                    "hikvision.sadp.probematch",
                    "sadp.reply",
                    sadp,
                    "hikvision",
                    Strength.STRONG,
                    "sadp",
                    model="DS-2CD2385G1-I",
                ),
                _ev(
                    "hikvision.http.server.app-webs",
                    "http.header.server",
                    "App-webs/",
                    "hikvision",
                    Strength.STRONG,
                    "http:80",
                ),
                _ev(
                    f"oui.ma-l.{mac[:8].replace(':', '')}",
                    "arp.mac",
                    mac,
                    "hikvision",
                    Strength.STRONG,
                    "arp",
                ),
            ],
        ),
    )


def lorex(ip: str) -> Device:
    realm = 'Digest realm="Login to ND011811000000", nonce="ec3682ef24b2cd9cedefe5cc26110000"'
    return Device(
        ip=ip,
        mac="3c:ef:8c:61:01:c0",
        observations=[_obs("rtsp.header.www-authenticate", realm, "rtsp:554", ip)],
        verdict=Verdict(
            maker="dahua",
            badge="Lorex",
            model="NR900",
            serial="ND011811000000",
            confidence=0.92,
            confidence_label="high",
            conflicts=[],
            summary="Dahua-made, sold as Lorex (high confidence: 1 strong)",
            evidence=[
                _ev(
                    "dahua.auth.realm.login-to",
                    "rtsp.header.www-authenticate",
                    realm,
                    "dahua",
                    Strength.STRONG,
                    "rtsp:554",
                    serial="ND011811000000",
                )
            ],
        ),
    )


def hostile(ip: str) -> Device:
    """A device whose every reported string tries to be code somewhere."""
    banner = f"{SCRIPT}<script>document.title='pwned'</script>"
    return Device(
        ip=ip,
        mac="08:ed:ed:87:42:7a",
        oui_vendor=f"{SCRIPT} Inc",
        observations=[
            _obs("http.header.server", banner, "http:80", ip),
            _obs("dhip.reply", '{"Vendor":"+cmd"}', "dhip", ip, badge=CMD),
        ],
        probe_errors=[ProbeError("rtsp:554", ip, f"reset by peer {SCRIPT}")],
        verdict=Verdict(
            maker="dahua",
            badge=CMD,
            model=FORMULA + ESC,
            firmware="@SUM(1+1)",
            serial="-2+3",
            confidence=0.9,
            confidence_label="high",
            summary=f"\t{SCRIPT}",
            evidence=[
                _ev(
                    "dahua.dhip.notify",
                    "dhip.reply",
                    banner,
                    "dahua",
                    Strength.STRONG,
                    "dhip",
                    badge=CMD,
                    model=FORMULA,
                )
            ],
        ),
    )


def sample_result() -> ScanResult:
    devices = [
        hik_sadp("198.18.0.10", "44:19:b6:12:34:56"),
        hik_sadp("198.18.0.9", "44:19:b6:12:34:57"),  # sorts before .10 numerically
        lorex("198.18.1.20"),
        hostile("198.18.0.66"),
        hik_sadp("198.18.2.5", "54:c4:15:00:00:01"),
        hik_sadp("198.18.1.21", "44:19:b6:00:00:09"),  # accepted by exception below
        Device(
            ip="198.18.2.77",
            mac="00:40:8c:01:02:03",
            verdict=Verdict(maker="axis", confidence=0.9, confidence_label="high"),
        ),
        Device(ip="198.18.3.99", mac=None),  # scanned, nothing known, in no segment
        Device(ip="198.18.9.1", mac=None, in_scope=False),  # heard from outside the targets
    ]
    exceptions = [
        ExceptionEntry("replacement ordered", "CISO", date(2099, 1, 1), mac="44:19:b6:00:00:09")
    ]
    return assessed(
        devices, exceptions, sample_run(["arp", "sadp", "dhip", "http"], {"dropped": 2})
    )


def sample_run(
    probes: list[str],
    stats: dict[str, int],
    scanner_host: str = "",
    data_versions: dict[str, str] | None = None,
) -> ScanRun:
    """A twelve-second run over 198.18.0.0/22 on eth0 in which the WSD probe timed out."""
    return ScanRun(
        targets=["198.18.0.0/22"],
        probes=probes,
        started=1748772000.0,
        ended=1748772012.25,
        interfaces=["eth0"],
        errors=[ProbeError("wsd", None, "timed out")],
        stats=stats,
        camscan_version="0.1.0",
        scanner_host=scanner_host,
        data_versions=data_versions or {},
    )


def assessed(devices: list[Device], exceptions: list[ExceptionEntry], run: ScanRun) -> ScanResult:
    """The devices with the policy applied on SCAN_DAY to SEGMENTS (a copy each: a test may add
    a segment to its result without changing the next test's)."""
    findings = list(evaluate(devices, SEGMENTS, PolicySettings(), exceptions, SCAN_DAY))
    return ScanResult(run=run, devices=devices, findings=findings, segments=list(SEGMENTS))


def firmware_result() -> ScanResult:
    """Hikvision, Dahua and an Amcrest badge on affected, fixed and unknown firmware, each with
    the exposure the advisory data gives it (issue 24), judged under the default policy."""
    from camscan.identify.advisories import AdvisoryData, assess

    data = AdvisoryData.load()
    devices = []
    for ip, maker, model, firmware, badge in (
        ("198.18.0.20", "hikvision", "DS-2CD2386G2-IU", "V5.7.3build 220112", None),
        ("198.18.0.21", "hikvision", "DS-2CD2385G1-I", "V5.6.2build 190701", None),
        ("198.18.2.30", "dahua", "IPC-HDW3441T-ZS", "2.800.0000000.16.R", None),
        ("198.18.2.31", "dahua", "IP2M-841", "2.420.AC00.15.R", "Amcrest"),
        ("198.18.2.32", "dahua", "IPC-HDW1431T1-S4", None, None),
    ):
        verdict = Verdict(
            maker=maker,
            badge=badge,
            model=model,
            firmware=firmware,
            confidence=0.95,
            confidence_label="high",
        )
        devices.append(Device(ip=ip, mac=None, verdict=verdict, exposure=assess(verdict, data)))
    return assessed(devices, [], sample_run(["sadp", "dhip"], {}))
