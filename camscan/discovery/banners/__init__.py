"""Read-only banner probes: HTTP, HTTPS (certificate), RTSP and vendor SDK ports.

GET/OPTIONS/DESCRIBE only, never credentials. Entry point: `grab_banners`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from camscan.discovery.banners.http import Head, parse_head
from camscan.discovery.banners.limits import Limits

if TYPE_CHECKING:
    from camscan.discovery.banners.scheduler import BannerResults, Ports, grab_banners

__all__ = ["BannerResults", "Head", "Limits", "Ports", "grab_banners", "parse_head"]

NAME = "banners"  # the probe's name in the registry, declared once for the package
_FROM_SCHEDULER = {"BannerResults", "Ports", "grab_banners"}


def __getattr__(name: str) -> Any:
    # Imported lazily so `python -m camscan.discovery.banners.scheduler` runs it only once.
    if name in _FROM_SCHEDULER:
        return getattr(importlib.import_module("camscan.discovery.banners.scheduler"), name)
    raise AttributeError(name)
