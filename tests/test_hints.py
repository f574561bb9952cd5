"""Hints: what discovery learnt, judged by identify's own verdict on the shipped data."""

from __future__ import annotations

import functools

from camscan import channels
from camscan.discovery.base import MAX_JUDGED, Hints
from camscan.model import Observation
from camscan.pipeline import IdentifyData, known_judge
from camscan.targets import TargetSet

IP = "198.18.70.5"
HIK_MAC = "00:bc:99:12:34:56"  # oui/assignments.csv: 00BC99 Hangzhou Hikvision (IEEE MA-L)
# signatures/dahua.toml "dahua.wsd.scopes.name": the name scope alone, no model or firmware
DAHUA_SCOPE = "onvif://www.onvif.org/name/Dahua onvif://www.onvif.org/type/video_encoder"


@functools.cache
def _data() -> IdentifyData:
    return IdentifyData.load()


def _hints() -> Hints:
    targets = TargetSet.parse([f"{IP}/32"], resolver=None)
    return Hints(known_judge(_data(), targets, frozenset()))


def _scopes(raw: str) -> Observation:
    return Observation(channels.WSD_SCOPES, raw, "wsd", ip=IP)


def test_a_maker_from_the_oui_is_taken_back_by_a_reply_naming_another_maker() -> None:
    hints = _hints()
    hints.linked(IP, HIK_MAC, "arp")
    said = hints.maker(IP)
    assert said is not None and said[0] == "hikvision"
    hints.heard([_scopes(DAHUA_SCOPE)])  # names no model or firmware, yet speaks of a maker
    assert hints.maker(IP) is None


def test_a_host_replying_past_the_judging_bound_keeps_no_maker() -> None:
    hints = _hints()
    hints.linked(IP, HIK_MAC, "arp")
    plain = Observation(channels.WSD_SCOPES, "onvif://www.onvif.org/type/video_encoder", "wsd", IP)
    for _ in range(MAX_JUDGED):
        hints.heard([plain])
        assert hints.maker(IP) is not None  # judged again each time: still Hikvision's OUI
    hints.heard([plain])
    assert hints.maker(IP) is None  # no longer judged: nothing is skipped on its word
