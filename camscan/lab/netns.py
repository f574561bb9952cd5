"""Network namespaces by name: create, run `ip` batches in, enter (setns), and remove.

Lab namespaces are named "<prefix><role>" with prefix "cs<owner pid>x<n>-"; the owner pid in the
name lets any later lab remove namespaces left behind by a process that died without cleaning up.
The same prefix names the lab's scratch folders in the temporary directory (the emulator's spec
and log), so they are removed with the namespaces.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import os
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

from camscan.errors import RunError

NETNS_DIR = Path("/run/netns")
CLONE_NEWNET = 0x40000000
_LAB_NAME = re.compile(r"^cs(\d+)x(\d+)-")
_counter = 0
_counter_lock = threading.Lock()


class NetnsError(RunError):
    """An `ip` command failed or a namespace could not be entered; the message is one line."""


def new_prefix() -> str:
    """A name prefix unique to this process and call, recording the owner pid."""
    global _counter
    with _counter_lock:
        _counter += 1
        return f"cs{os.getpid()}x{_counter}-"


def ip(*args: str, namespace: str | None = None, stdin: str | None = None, tool: str = "ip") -> str:
    """Run `ip [-n NS] ARGS` (or iproute2's `bridge`); raise NetnsError with its own message."""
    argv = [tool, *(["-n", namespace] if namespace else []), *args]
    done = subprocess.run(argv, input=stdin, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # In batch mode the cause comes first and "Command failed -:N" last: keep both.
        lines = (done.stderr or done.stdout).strip().splitlines() or ["failed"]
        detail = lines[0] if len(lines) == 1 else f"{lines[0]} ({lines[-1]})"
        raise NetnsError(f"{' '.join(argv[:6])}: {detail}")
    return done.stdout


def ip_batch(commands: list[str], namespace: str | None = None) -> None:
    """Many `ip` commands in one process (building 253 devices stays in the tens of ms)."""
    if commands:
        ip("-batch", "-", namespace=namespace, stdin="\n".join(commands) + "\n")


def bridge_batch(commands: list[str], namespace: str) -> None:
    """Many `bridge` commands (FDB entries) in one process."""
    if commands:
        ip("-batch", "-", namespace=namespace, stdin="\n".join(commands) + "\n", tool="bridge")


def sysctl(namespace: str, settings: dict[str, str]) -> None:
    """Write sysctls inside a namespace (per-namespace /proc/sys/net is chosen at open time)."""
    with entered(namespace):
        for key, value in settings.items():
            Path("/proc/sys", key.replace(".", "/")).write_text(value)


def add(name: str) -> None:
    ip("netns", "add", name)


ETC_NETNS = Path("/etc/netns")  # `ip netns exec NAME` bind-mounts /etc/netns/NAME/* over /etc


def delete(name: str) -> None:
    with contextlib.suppress(NetnsError):
        ip("netns", "delete", name)
    if _LAB_NAME.match(name):
        shutil.rmtree(ETC_NETNS / name, ignore_errors=True)


def write_etc(name: str, files: dict[str, str]) -> None:
    """Files `ip netns exec` shows in place of /etc's inside namespace `name` (hosts, ...)."""
    folder = ETC_NETNS / name
    folder.mkdir(parents=True, exist_ok=True)
    for filename, text in files.items():
        (folder / filename).write_text(text, encoding="utf-8")


def existing() -> list[str]:
    return sorted(p.name for p in NETNS_DIR.iterdir()) if NETNS_DIR.is_dir() else []


def owned_by(prefix: str) -> list[str]:
    return [n for n in existing() if n.startswith(prefix)]


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale(name: str) -> bool:
    m = _LAB_NAME.match(name)
    return m is not None and not _pid_alive(int(m.group(1)))


def remove_stale() -> list[str]:
    """Delete lab namespaces and scratch folders whose owner process is gone.

    Returns the namespace names removed."""
    removed = [name for name in existing() if _stale(name)]
    for name in removed:
        delete(name)
    for folder in Path(tempfile.gettempdir()).glob("cs*x*-*"):
        if folder.is_dir() and _stale(folder.name):
            shutil.rmtree(folder, ignore_errors=True)
    return removed


_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NetnsError(f"setns failed: {os.strerror(err)}")


@contextlib.contextmanager
def entered(name: str) -> Iterator[None]:
    """Move the calling thread into namespace `name`, and back on exit.

    setns is per thread: sockets created inside keep the namespace after we leave it.
    """
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        try:
            target = os.open(NETNS_DIR / name, os.O_RDONLY)
        except OSError as exc:
            raise NetnsError(f"no namespace {name}: {exc.strerror}") from None
        try:
            _setns(target)
        finally:
            os.close(target)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)
