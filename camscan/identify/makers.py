"""Maker slugs, their display names, and which makers the policy cares about.

A maker is who built the hardware; a badge is the brand on the box (EZVIZ, Lorex, CP PLUS...).
"""

from __future__ import annotations

import re

DISPLAY_NAMES: dict[str, str] = {
    "hikvision": "Hikvision",
    "dahua": "Dahua",
    "uniview": "Uniview",
    "tiandy": "Tiandy",
    "xiongmai": "Xiongmai",
    "hisilicon-dvr": "HiSilicon reference DVR",
    "milesight": "Milesight",
    "tvt": "TVT",
    "hipcam": "Hipcam",
    "axis": "Axis",
    "hanwha": "Hanwha Vision",
    "bosch": "Bosch",
    "reolink": "Reolink",
    "vivotek": "Vivotek",
    "avigilon": "Avigilon",
    "sony": "Sony",
    "geovision": "GeoVision",
    "tp-link": "TP-Link",
    "huawei": "Huawei",
    "zte": "ZTE",
    "hytera": "Hytera",
    "generic": "generic embedded stack",
}

# Headquartered in the PRC (subject to its National Intelligence Law; signatures.md section 4).
PRC_MAKERS: frozenset[str] = frozenset(
    {"hikvision", "dahua", "uniview", "tiandy", "xiongmai", "hisilicon-dvr", "milesight", "tvt",
     "huawei", "zte", "hytera"}
)

# The makers the UK guidance names.
LISTED: frozenset[str] = frozenset({"hikvision", "dahua"})

# US NDAA FY2019 section 889(f)(3): telecommunications or video surveillance equipment produced
# by Huawei, ZTE, Hytera, Hikvision or Dahua (or their subsidiaries and affiliates).
NDAA889: frozenset[str] = frozenset({"huawei", "zte", "hytera", "hikvision", "dahua"})

# `listed_makers = "<preset>"` in [policy]: named sets of makers one rule covers.
PRESETS: dict[str, frozenset[str]] = {
    "nil": PRC_MAKERS,  # UK: "companies subject to the National Intelligence Law" of the PRC
    "ndaa889": NDAA889,
    "uk": LISTED,  # the two makers the UK guidance names (the default)
}


def expand_listed(names: str | list[str]) -> list[str]:
    """Maker slugs for a [policy] listed_makers value: a preset name, or a list of maker slugs
    and preset names ("ndaa889", "uniview"). Order kept, repeats dropped; names that are not
    presets pass through unchanged (validating maker names is the caller's job)."""
    out: list[str] = []
    for name in [names] if isinstance(names, str) else names:
        key = name.strip().lower()
        for slug in sorted(PRESETS[key]) if key in PRESETS else [key]:
            if slug not in out:
                out.append(slug)
    return out

# Brand spellings seen on the wire, keyed by their letters and digits only, lowercased.
_BADGE_SPELLINGS: dict[str, str] = {
    "ezviz": "EZVIZ",
    "hilook": "HiLook",
    "hiwatch": "HiWatch",
    "lorex": "Lorex",
    "amcrest": "Amcrest",
    "intelbras": "Intelbras",
    "cpplus": "CP PLUS",
    "imou": "Imou",
    "lechange": "Lechange",
    "interlogix": "Interlogix",
    "empiretech": "EmpireTech",
}

# Placeholders devices report instead of a brand (DHIP "Vendor":"Private"/"General").
# Placeholders and device-class words that devices put where a brand would go (ONVIF name/IPC).
_NOT_BADGES = frozenset(
    {"", "private", "general", "generic", "none", "null", "unknown", "onvif", "ipc", "nvr",
     "dvr", "xvr", "ipcamera", "camera", "networkcamera", "webcam", "ptz"}
)


def display_name(maker: str | None) -> str:
    if maker is None:
        return "unknown maker"
    return DISPLAY_NAMES.get(maker, maker.replace("-", " ").title())


def _key(text: str) -> str:
    return re.sub(r"[^0-9a-z]", "", text.lower())


def normalise_badge(badge: str | None, maker: str | None) -> str | None:
    """The brand to show beside `maker`, or None when `badge` is empty, a placeholder, or just
    the maker's own name ("HIKVISION" on a Hikvision, "Dahua" on a Dahua)."""
    if badge is None:
        return None
    text = " ".join(badge.split())[:64]
    key = _key(text)
    if key in _NOT_BADGES:
        return None
    if maker is not None and key in {_key(maker), _key(display_name(maker))}:
        return None
    if key in {_key(m) for m in DISPLAY_NAMES}:
        return None  # another maker's name is a maker, not a badge; signatures say so instead
    return _BADGE_SPELLINGS.get(key, text)
