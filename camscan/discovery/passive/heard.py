"""From a capture file (or a listening session) to devices and honest coverage.

Passive listening never proves absence: a device that said nothing while camscan listened is
simply not in the result. So every configured segment gets a coverage entry with method
"passive", `covered` false and a note saying what was heard, for how long and where, and the
run's `not_covered` says "passive: not exhaustive": the verdict can never read "clean".
"""

from __future__ import annotations

import dataclasses
import ipaddress
import time
from typing import BinaryIO

from camscan import channels as ch
from camscan.discovery.passive import pcapio
from camscan.discovery.passive.dissect import Heard
from camscan.macaddr import MacSource
from camscan.model import Coverage, Device, Observation, Segment

NOT_EXHAUSTIVE = "passive: not exhaustive"


@dataclasses.dataclass(frozen=True, slots=True)
class Source:
    """What was listened to: a capture file or an interface, and what it held."""

    kind: str  # "pcap", "pcapng", "interface" or "zeek"
    name: str  # the file or interface
    packets: int
    parsed: int  # packets that passed the prefilter and were parsed
    seconds: float  # capture time from first to last packet, or time listened
    damaged: str | None = None  # why the read stopped early

    def describe(self) -> str:
        if self.kind == "zeek":
            return (
                f"{NOT_EXHAUSTIVE}: read {self.packets} Zeek log records in {self.name}; "
                "devices Zeek did not log are not in this result"
            )
        where = f"on interface {self.name}" if self.kind == "interface" else f"in {self.name}"
        return (
            f"{NOT_EXHAUSTIVE}: heard {self.packets} packets over {self.seconds:.0f} s {where}; "
            "devices that sent nothing camscan reads in that time are not in this result"
        )


def read_capture(stream: BinaryIO, name: str) -> tuple[Heard, Source]:
    """Every packet of a pcap/pcapng stream through the prefilter; raises pcapio.CaptureError
    when the file is not a capture (damage after the first packet is noted, not raised)."""
    stats = pcapio.ReadStats()
    heard = Heard()
    began = time.perf_counter()
    pcapio.read(stream, stats, heard.feed_records)
    heard.finish()
    heard.stats["passive.read_ms"] = round((time.perf_counter() - began) * 1000)
    if stats.skipped_link:
        heard.stats["passive.other_link_types"] += stats.skipped_link
    seconds = float((stats.last or 0) - (stats.first or 0))
    source = Source(stats.kind, name, stats.packets, heard.parsed, seconds, stats.damaged)
    return heard, source


def devices_from(observations: list[Observation]) -> list[Device]:
    """One device per sender address; the MAC its own frames or ARP carried wins."""
    by_ip: dict[str, Device] = {}
    for obs in observations:
        if not obs.ip:
            continue
        try:
            ipaddress.IPv4Address(obs.ip)
        except ValueError:
            continue
        dev = by_ip.get(obs.ip)
        if dev is None:
            dev = by_ip[obs.ip] = Device(ip=obs.ip)
        dev.interface = dev.interface or obs.fields.get(ch.FIELD_INTERFACE) or None
        mac = obs.mac or obs.fields.get(ch.FIELD_MAC)
        if mac and (dev.mac is None or obs.channel == ch.ARP_MAC):
            dev.mac = mac.lower()
            dev.mac_source = MacSource.WIRE if obs.channel == ch.ARP_MAC else MacSource.REPORTED
        dev.observations.append(obs)
    return sorted(by_ip.values(), key=lambda d: ipaddress.IPv4Address(d.ip))


def coverage(
    sources: list[Source], segments: list[Segment], devices: list[Device]
) -> tuple[list[Coverage], list[str]]:
    """One passive entry per configured segment (or one for all traffic without segments),
    never covered; and the run's not-covered lines."""
    heard = "; ".join(s.describe().removeprefix(NOT_EXHAUSTIVE + ": ") for s in sources)
    note = f"{NOT_EXHAUSTIVE}: {heard}"
    target = ", ".join(f"{s.kind}:{s.name}" for s in sources)
    iface = next((s.name for s in sources if s.kind == "interface"), None)
    parts = [(c, [seg.name]) for seg in segments for c in seg.cidrs] or [("0.0.0.0/0", [])]
    entries = []
    for cidr, names in parts:
        net = ipaddress.ip_network(cidr, strict=False)
        answered = sum(1 for d in devices if ipaddress.ip_address(d.ip) in net)
        entries.append(
            Coverage(
                target=target,
                network=cidr,
                method="passive",
                interface=iface,
                segments=names,
                answered=answered,
                probes=["passive"],
                covered=False,
                note=note,
            )
        )
    not_covered = [s.describe() for s in sources]
    not_covered += [s.damaged for s in sources if s.damaged]
    return entries, not_covered
