"""Facts about the scanning side recorded in every run: which host ran it, with which data.

A report is read weeks later by someone who did not run it; these say where it came from and
which fingerprints judged it, so two reports can be told apart.
"""

from __future__ import annotations

import hashlib
import socket

from camscan.data import data_dir


def scanner_host() -> str:
    return socket.gethostname()


def _digest(name: str, pattern: str) -> tuple[int, str]:
    """How many files match, and a short SHA-256 over their names and contents."""
    h = hashlib.sha256()
    files = sorted(data_dir(name).glob(pattern))
    for path in files:
        h.update(path.name.encode())
        h.update(path.read_bytes())
    return len(files), h.hexdigest()[:12]


def data_versions() -> dict[str, str]:
    """The OUI data's generation date and the signature set's digest, as display strings."""
    from camscan.data import refreshed_data_dir
    from camscan.identify.oui import data_date

    versions: dict[str, str] = {}
    try:
        generated = data_date()
        where = "refreshed by oui update" if refreshed_data_dir("oui") else "shipped"
        versions["oui"] = f"generated {generated} ({where})" if generated else "date unknown"
        count, digest = _digest("signatures", "*.toml")
        versions["signatures"] = f"{count} files, sha256 {digest}"
    except OSError as e:  # unreadable data is reported elsewhere; the run still completes
        versions["error"] = f"cannot read the data files: {e.strerror or e}"
    return versions
