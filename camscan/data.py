"""Where camscan's analyst-editable data (signatures/, oui/) lives at run time.

A wheel carries the data inside the package as camscan/_data/<name>; a source checkout keeps it
at the top of the repository, where analysts edit it.
"""

from __future__ import annotations

from pathlib import Path


def data_dir(name: str) -> Path:
    """The installed copy of data set `name` if there is one, else the checkout's `<name>/`."""
    installed = Path(__file__).parent / "_data" / name
    if installed.is_dir():
        return installed
    return Path(__file__).resolve().parents[1] / name
