"""Weigh class evidence into what kind of device it is, beside (not from) the maker verdict.

The same rules as for makers (camscan.identify.verdict): one strong hint decides, two independent
medium hints decide, one medium hint names a class with low confidence, weak hints never decide.
So an open RTSP port or an embedded web server alone never makes "visual surveillance equipment:
yes". When classes of both kinds decide (surveillance and not), surveillance is preferred and the
conflict lowers the confidence; a specific class (camera) is preferred over its family
(video-transmitter: camera or encoder).

A recorder's channel count comes from what SADP and DHIP replies carry without a login
(frontier.md 6): SADP `AnalogChannelNum` + `DigitalChannelNum`, DHIP `VideoInputChannels` +
`RemoteVideoInputChannels`. Cameras on a recorder's own PoE ports, or on coax, are out of the
network's sight: the count says how many there may be.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable

from camscan import channels as ch
from camscan.identify import classes
from camscan.identify.verdict import label_for
from camscan.model import MEDIUM_CONFIDENCE, Equipment, Evidence, Observation, Strength

# Classes whose reply's channel count is cameras the network does not see.
HIDING = frozenset({"recorder", "video-encoder"})
_SADP_CHANNELS = re.compile(r"<(AnalogChannelNum|DigitalChannelNum)>\s*(\d{1,4})\s*<")
_DHIP_CHANNELS = ("VideoInputChannels", "RemoteVideoInputChannels")
MAX_CHANNELS = 4096  # a bound on what a reply may claim
_ORDER = {Strength.STRONG: 0, Strength.MEDIUM: 1, Strength.WEAK: 2}


class _Tally:
    def __init__(self) -> None:
        self.counted: dict[Strength, set[str]] = {s: set() for s in Strength}
        self.sources: set[tuple[str, str]] = set()

    def add(self, sig: str, strength: Strength, source: tuple[str, str]) -> None:
        if source in self.sources or any(sig in ids for ids in self.counted.values()):
            return
        self.sources.add(source)
        self.counted[strength].add(sig)

    def n(self, strength: Strength) -> int:
        return len(self.counted[strength])

    def decides(self) -> bool:
        return bool(self.n(Strength.STRONG) or self.n(Strength.MEDIUM) >= 2)

    def named(self) -> bool:
        return bool(self.n(Strength.STRONG) or self.n(Strength.MEDIUM))

    def ids(self) -> list[str]:
        return sorted(i for s in (Strength.STRONG, Strength.MEDIUM) for i in self.counted[s])


def _rank(slug: str, tally: _Tally) -> tuple[int, int, int, int, int]:
    c = classes.get(slug)
    surveillance = 0 if c and c.surveillance else 1
    specific = 0 if c and c.specific else 1
    return (
        0 if tally.decides() else 1,
        surveillance,
        specific,
        -tally.n(Strength.STRONG),
        -tally.n(Strength.MEDIUM),
    )


def _confidence(tally: _Tally, rivals: int) -> float:
    strong, medium = tally.n(Strength.STRONG), tally.n(Strength.MEDIUM)
    if strong:
        base = min(0.9 + 0.03 * (strong - 1) + 0.02 * min(medium, 2), 0.98)
    elif medium >= 2:
        base = min(0.8 + 0.02 * (medium - 2), 0.84)
    else:
        base = 0.55
    return round(max(base - 0.35 * rivals, 0.05), 2)


def decide_class(evidence: Iterable[Evidence], observations: Iterable[Observation]) -> Equipment:
    """The device's class, its surveillance flag and, for a recorder, its channel count."""
    tallies: dict[str, _Tally] = {}
    # Strongest first: two signatures on one reply count once, as the stronger of the two.
    ranked = sorted(
        (ev for ev in evidence if ev.equipment and ev.equipment_strength is not None),
        key=lambda ev: _ORDER[ev.equipment_strength] if ev.equipment_strength else 3,
    )
    for ev in ranked:
        if ev.equipment and ev.equipment_strength is not None:
            tallies.setdefault(ev.equipment, _Tally()).add(
                ev.signature_id, ev.equipment_strength, (ev.channel, ev.probe)
            )
    named = sorted((s for s, t in tallies.items() if t.named()), key=lambda s: _rank(s, tallies[s]))
    if not named:
        weak = sorted(tallies)
        hint = f" (only weak hints: {', '.join(weak)})" if weak else ""
        return Equipment(summary=f"kind unknown{hint}")
    kind, tally = named[0], tallies[named[0]]
    flag = classes.surveillance(kind)
    # A rival that decides the other way (surveillance or not) is a real conflict.
    rivals = [s for s in named[1:] if classes.surveillance(s) != flag and tallies[s].decides()]
    confidence = _confidence(tally, len(rivals))
    if confidence < MEDIUM_CONFIDENCE:
        flag = classes.UNKNOWN  # one medium hint, or a conflict: not enough to say yes or no
    found = Equipment(
        kind=kind,
        surveillance=flag,
        confidence=confidence,
        confidence_label=label_for(confidence),
        evidence=tally.ids(),
        conflicts=[s for s in named[1:] if s not in _family(kind)],
    )
    if kind in HIDING:
        found.channels = channel_count(observations)
    found.summary = describe(found)
    return found


def _family(kind: str) -> frozenset[str]:
    """Classes that agree with `kind`: a camera is also a video transmitter."""
    if kind in ("camera", "video-encoder", "video-transmitter"):
        return frozenset({"camera", "video-encoder", "video-transmitter"})
    return frozenset({kind})


def describe(eq: Equipment) -> str:
    """ "camera (high confidence); visual surveillance equipment" and the like."""
    text = f"{classes.display_name(eq.kind)} ({eq.confidence_label} confidence)"
    if eq.channels is not None:
        text += f" with {plural(eq.channels, 'channel')}"
    if eq.conflicts:
        text += f"; other evidence says {', '.join(classes.display_name(c) for c in eq.conflicts)}"
    return text


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' if n != 1 else ''}"


def channel_count(observations: Iterable[Observation]) -> int | None:
    """The most channels any SADP or DHIP reply of the device states, or None."""
    counts = [n for obs in observations if (n := _reply_channels(obs)) is not None]
    return max(counts) if counts else None


def _reply_channels(obs: Observation) -> int | None:
    if obs.channel == ch.SADP_REPLY:
        found = {name: int(n) for name, n in _SADP_CHANNELS.findall(obs.raw)}
        return _bounded(sum(found.values())) if found else None
    if obs.channel == ch.DHIP_REPLY:
        try:
            message = json.loads(obs.raw)
        except (ValueError, RecursionError):
            return None
        params = message.get("params") if isinstance(message, dict) else None
        info = params.get("deviceInfo") if isinstance(params, dict) else None
        if not isinstance(info, dict):
            return None
        values = [v for k in _DHIP_CHANNELS if isinstance(v := info.get(k), int)]
        values = [v for v in values if not isinstance(v, bool) and v >= 0]
        return _bounded(sum(values)) if values else None
    return None


def _bounded(n: int) -> int | None:
    return n if 0 <= n <= MAX_CHANNELS else None


def hidden_note(total: int) -> str:
    """The summary's coverage note for recorders' channels: never found devices."""
    return f"up to {plural(total, 'camera')} out of the network's sight behind recorders"
