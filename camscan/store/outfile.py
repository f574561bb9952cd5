"""Writing a report to a name the user gave, the way the shell's `>` would, minus half-files.

- A regular file (or a symlink to one) is written to a temporary file beside it and renamed
  over it: a reader, a crash or a kill -9 sees the old report or the new one, never half of one.
  Through a symlink the link's target is replaced and the link kept (`latest.json -> 12-06.json`).
- Anything else that exists (a character device such as /dev/null or a tty, a FIFO, a pipe or
  process substitution `>(cmd)` as /dev/fd/N, /dev/stdout) is opened and written in place, as
  `>` does: renaming a file over /dev/null would break it for the whole machine.
- A name that reaches an open descriptor (/dev/stdout, /dev/fd/N, /proc/self/fd/N) is written
  in place even when the descriptor is a regular file: the shell redirected it, and replacing
  the file would unlink the one the shell opened.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

_DESCRIPTOR_DIRS = ("/dev/fd/", "/proc/self/fd/", "/proc/thread-self/fd/")
_DESCRIPTOR_NAMES = ("/dev/stdout", "/dev/stderr", "/dev/stdin")


def _names_descriptor(path: Path) -> bool:
    """Whether `path` (or a symlink on the way to it) names an open file descriptor."""
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own symlink limit
        if current.startswith(_DESCRIPTOR_DIRS) or current in _DESCRIPTOR_NAMES:
            return True
        if current.startswith("/proc/") and "/fd/" in current:
            return True
        if not os.path.islink(current):
            return False
        current = os.path.normpath(os.path.join(os.path.dirname(current), os.readlink(current)))
    return False


def in_place(path: Path) -> bool:
    """True when `path` must be written through in place (it exists and is not a regular file,
    or it names an open descriptor); False when it is written atomically."""
    if _names_descriptor(path):
        return True
    try:
        mode = os.stat(path).st_mode  # follows symlinks: a link to /dev/null is /dev/null
    except OSError:
        return False  # a new file (or a dangling link: its target is created)
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _atomic_target(path: Path) -> Path:
    """The file a rename must replace: a symlink's final target, so that the link is kept."""
    return Path(os.path.realpath(path)) if os.path.islink(path) else path


def atomic_write(path: Path, write: Callable[[TextIO], None]) -> None:
    """Let `write` fill a temporary file beside `path`, flush it to disk, then rename it over
    `path`: a reader (or a kill -9 midway) sees the old file or the new one, never half of one."""
    path = _atomic_target(Path(path))
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        with contextlib.suppress(OSError):  # keep the permissions of the file it replaces
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_file(path: Path, write: Callable[[TextIO], None]) -> None:
    """Write a report to `path`: through in place for a device, FIFO or descriptor, atomically
    for a regular file (see the module's docstring). Refuses a directory (IsADirectoryError)."""
    path = Path(path)
    if not in_place(path):
        atomic_write(path, write)
        return
    # "w" as the shell's ">" (O_TRUNC is ignored by devices and pipes); no fsync, which
    # pipes and most devices refuse.
    with open(path, "w", encoding="utf-8", newline="") as out:
        write(out)
        out.flush()


def check_writable(path: Path) -> str | None:
    """Why `path` cannot be written as a report (one line), or None; sends nothing, opens no
    device or FIFO (a FIFO would wait for its reader), and writes only a temporary file it
    removes, so a bad -o is found before the scan, not after."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a directory"
    if in_place(path):
        if not os.path.exists(path):
            return f"{path} names no open file"
        return None if os.access(path, os.W_OK) else f"{path} is not writable"
    target = _atomic_target(path)
    parent = target.parent
    if not parent.is_dir():
        return f"{parent} is not an existing directory"
    try:
        fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{target.name}.", suffix=".tmp")
    except OSError as e:
        return f"cannot write in {parent}: {e.strerror or e}"
    os.close(fd)
    Path(tmp).unlink(missing_ok=True)
    if target.exists() and not os.access(target, os.W_OK) and not os.access(parent, os.W_OK):
        return f"{target} is not writable"
    return None
