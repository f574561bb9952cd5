"""A large nmap -sV -oX file for the offline workloads (`import_large`): the three "up" hosts
of tests/fixtures/nmap_camera_lab.xml (a Hikvision, a Dahua and an Axis camera, in nmap's own
layout) copied over N distinct lab addresses (198.18.0.0/15), each MAC made unique, and each
host written `repeats` times as a file merged from several nmap runs would hold it.

`write_observations_jsonl` writes the JSON lines `camscan identify` reads for as many
Hikvision cameras: each its wire MAC, port 80 open and its Server header (three observations,
so 65,000 devices stay under identify's 200,000-observation cap).

Nothing is sent anywhere: this only writes files.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "nmap_camera_lab.xml"
FIRST = int(ipaddress.IPv4Address("198.18.0.1"))
MAX_DEVICES = (1 << 17) - 2  # 198.18.0.1 - 198.19.255.254


def _templates() -> list[str]:
    """The fixture's "up" <host> elements, with {ip} and {mac_tail} holes."""
    text = FIXTURE.read_text(encoding="utf-8")
    hosts = re.findall(r"<host .*?</host>", text, re.DOTALL)
    out = []
    for host in hosts:
        if 'state="up"' not in host:
            continue
        host = re.sub(r'addr="198\.18\.\d+\.\d+"', 'addr="{ip}"', host)
        host = re.sub(
            r'addr="([0-9A-F]{2}(?::[0-9A-F]{2}){2}):[0-9A-F:]{8}"', r'addr="\1:{mac_tail}"', host
        )
        out.append(
            host.replace("{", "{{")
            .replace("}", "}}")
            .replace("{{ip}}", "{ip}")
            .replace("{{mac_tail}}", "{mac_tail}")
        )
    return out


def write_nmap_xml(path: Path, devices: int, repeats: int = 1) -> int:
    """Write the file; returns its size in bytes. Device n (0-based) gets the fixture host
    n % 3 and the address 198.18.0.1 + n."""
    if not 0 < devices <= MAX_DEVICES:
        raise ValueError(f"devices must be 1-{MAX_DEVICES}")
    templates = _templates()
    with path.open("w", encoding="utf-8") as out:
        out.write(
            '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE nmaprun>\n'
            '<nmaprun scanner="nmap" args="nmap -sV -oX large.xml" version="7.93">\n'
        )
        for _ in range(repeats):
            for n in range(devices):
                tail = f"{(n >> 16) & 255:02X}:{(n >> 8) & 255:02X}:{n & 255:02X}"
                ip = str(ipaddress.IPv4Address(FIRST + n))
                out.write(templates[n % len(templates)].format(ip=ip, mac_tail=tail))
                out.write("\n")
        out.write("</nmaprun>\n")
    return path.stat().st_size


def expected_maker(n: int) -> str:
    """The maker of device n in write_nmap_xml's file (the fixture's hosts, in turn)."""
    return ("hikvision", "dahua", "axis")[n % 3]


def write_observations_jsonl(path: Path, devices: int) -> int:
    """Three observations per device on 198.18.0.1 + n; returns the file's size in bytes."""
    if not 0 < devices <= MAX_DEVICES:
        raise ValueError(f"devices must be 1-{MAX_DEVICES}")
    with path.open("w", encoding="utf-8") as out:
        for n in range(devices):
            ip = str(ipaddress.IPv4Address(FIRST + n))
            mac = f"44:19:b6:{(n >> 16) & 255:02x}:{(n >> 8) & 255:02x}:{n & 255:02x}"
            for channel, raw, probe in (
                ("arp.mac", mac, "arp"),
                ("tcp.open", "80", "tcp:80"),
                ("http.header.server", "App-webs/", "http:80"),
            ):
                doc = {"channel": channel, "raw": raw, "ip": ip, "mac": mac, "probe": probe}
                out.write(json.dumps(doc) + "\n")
    return path.stat().st_size


if __name__ == "__main__":  # python bench/nmap_xml.py FILE DEVICES [REPEATS]
    import sys

    devices, repeats = int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 1
    size = write_nmap_xml(Path(sys.argv[1]), devices, repeats)
    print(f"{sys.argv[1]}: {size / 1e6:.1f} MB")
