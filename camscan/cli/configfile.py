"""Which camscan.toml a command reads: --config, else $CAMSCAN_CONFIG, else the first that exists
of ./camscan.toml, the user's config directory and /etc/camscan.toml (the order admins expect:
the most specific first). No file at all is fine: the defaults apply."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from camscan.config import Config

log = logging.getLogger("camscan.cli")
ENV = "CAMSCAN_CONFIG"


def user_config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "camscan"


def default_locations() -> list[Path]:
    return [Path("camscan.toml"), user_config_dir() / "camscan.toml", Path("/etc/camscan.toml")]


def find_config(explicit: Path | None) -> Path | None:
    """The file to read, or None for the defaults. A file named by --config or $CAMSCAN_CONFIG
    must exist (load_config says so in one line if not); the default places are only tried."""
    if explicit is not None:
        return explicit
    if os.environ.get(ENV):
        return Path(os.environ[ENV])
    return next((p for p in default_locations() if _readable_file(p)), None)


def _readable_file(path: Path) -> bool:
    """A default place counts only if it holds a file this user may read (an unprivileged user
    with root's HOME meets unreadable directories: that is no config, not an error)."""
    try:
        return path.is_file() and os.access(path, os.R_OK)
    except OSError:
        return False


def load_cfg(explicit: Path | None) -> Config:
    from camscan.config import load_config, parse_config

    path = find_config(explicit)
    if path is None:
        log.info("config: none found (%s); using the defaults", _places())
        return parse_config({})
    log.info("config: %s", path)
    return load_config(path)


def _places() -> str:
    return ", ".join(str(p) for p in default_locations())
