"""Where camscan's analyst-editable data (signatures/, oui/) lives at run time.

A wheel carries the data inside the package as camscan/_data/<name>; a source checkout keeps it
at the top of the repository, where analysts edit it. Data a user refreshes (`camscan oui
update`) goes to a user-writable data directory instead, outside the installed package, so an
upgrade does not wipe it; camscan reads that copy while it is at least as new as the shipped one.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from pathlib import Path

DATA_ENV = "CAMSCAN_DATA_DIR"
REFRESHABLE = ("oui",)  # data sets a user can refresh; signatures are edited in the checkout


def user_data_dir() -> Path:
    """$CAMSCAN_DATA_DIR, else $XDG_DATA_HOME/camscan, else ~/.local/share/camscan."""
    if os.environ.get(DATA_ENV):
        return Path(os.environ[DATA_ENV])
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "camscan"


def shipped_data_dir(name: str) -> Path:
    """The installed copy of data set `name` if there is one, else the checkout's `<name>/`."""
    installed = Path(__file__).parent / "_data" / name
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[1] / name


def _generated(directory: Path) -> dt.date | None:
    try:
        value = tomllib.loads((directory / "provenance.toml").read_text(encoding="utf-8")).get(
            "generated"
        )
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    return value if isinstance(value, dt.date) else None


def refreshed_data_dir(name: str) -> Path | None:
    """The user's refreshed copy of `name`, if it is complete and not older than the shipped."""
    if name not in REFRESHABLE:
        return None
    user = user_data_dir() / name
    mine = _generated(user)
    if mine is None or not (user / "assignments.csv").is_file():
        return None
    shipped = _generated(shipped_data_dir(name))
    return user if shipped is None or mine >= shipped else None


def data_dir(name: str) -> Path:
    """Where to read data set `name`: the user's refreshed copy, else the shipped one."""
    return refreshed_data_dir(name) or shipped_data_dir(name)
