"""Debian's snmpd as the lab router's real SNMP agent (issue 28): it serves the router
namespace's own kernel ARP table, which the routed lab's traffic fills, as a real router does.

    with router_agent(lab, community="ro-lab") as agent:
        ...  # camscan with [snmp] routers = [agent.address]

The configuration is generated in a temporary directory (also net-snmp's persistent directory,
so nothing is written under /var/lib/snmp); the agent listens on the router's leg on the
scanner's network only, answers read-only requests from that network only, and is stopped
(and its directory removed) when the block ends, also on failure.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from camscan.errors import RunError

if TYPE_CHECKING:
    from camscan.lab.instance import Lab

SNMPD = "/usr/sbin/snmpd"
READY_TIMEOUT = 20.0


class SnmpdError(RunError):
    """The lab's snmpd could not start; the message is one line."""


@dataclasses.dataclass(frozen=True, slots=True)
class Agent:
    address: str  # the router's address on the scanner's network (udp/161)
    community: str | None
    user: str | None
    auth_key: str | None
    priv_key: str | None


def snmpd_problem() -> str | None:
    return (
        None if os.access(SNMPD, os.X_OK) else f"{SNMPD} is not installed (apt-get install snmpd)"
    )


@contextlib.contextmanager
def router_agent(
    lab: Lab,
    *,
    community: str | None = None,
    user: str | None = None,
    auth_key: str | None = None,
    priv_key: str | None = None,
) -> Iterator[Agent]:
    """snmpd running in the lab's router namespace until the block ends."""
    layout = lab.layout
    gateway = lab.topology.gateway
    if layout is None or layout.router_ns is None or gateway is None or gateway.router is None:
        raise SnmpdError("this lab has no router on the scanner's network")
    if problem := snmpd_problem():
        raise SnmpdError(problem)
    address = str(gateway.router)
    lines = [f"agentAddress udp:{address}:161"]
    if community:
        lines.append(f"rocommunity {community} {gateway.cidr}")
    if user:
        lines.append(f'createUser {user} SHA "{auth_key}" AES "{priv_key}"')
        lines.append(f"rouser {user} priv")
    workdir = Path(tempfile.mkdtemp(prefix=f"{layout.prefix}snmpd-"))
    (workdir / "agent.conf").write_text("\n".join(lines) + "\n")
    argv = [
        "ip",
        "netns",
        "exec",
        layout.router_ns,
        SNMPD,
        "-f",
        "-Lo",
        "-C",
        "-M",
        str(workdir),
        "-m",
        "",
        "-c",
        str(workdir / "agent.conf"),
        "-p",
        str(workdir / "pid"),
    ]
    (workdir / "state").mkdir()  # net-snmp's persistent files (engine id, users): here only
    env = {**os.environ, "SNMP_PERSISTENT_DIR": str(workdir / "state"), "MIBS": ""}
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
        start_new_session=True,
    )
    try:
        _wait_ready(proc)
        yield Agent(address, community, user, auth_key, priv_key)
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
        if proc.stdout is not None:
            proc.stdout.close()
        shutil.rmtree(workdir, ignore_errors=True)


def _wait_ready(proc: subprocess.Popen[bytes]) -> None:
    """snmpd prints its version once it listens."""
    assert proc.stdout is not None
    deadline = time.monotonic() + READY_TIMEOUT
    seen = b""
    while time.monotonic() < deadline:
        ready, _, _ = select.select([proc.stdout], [], [], 0.2)
        if ready:
            line = proc.stdout.readline()
            if not line:
                break
            seen = line
            if line.startswith(b"NET-SNMP version"):
                return
        elif proc.poll() is not None:
            break
    raise SnmpdError(f"snmpd did not start: {seen.decode(errors='replace').strip() or 'no output'}")
