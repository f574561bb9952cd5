"""The device emulator: one asyncio process playing every device of a lab.

Run by `Lab` as `python -m camscan.lab.emulator SPEC.json`. It dies with its parent
(PR_SET_PDEATHSIG) and after a hard lifetime (SIGALRM), refuses any namespace the guard does not
accept, enters each device namespace only to create sockets (setns), then serves from the host
namespace's thread. It prints one line "ready <devices> <listeners>" once everything listens.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import importlib
import json
import os
import signal
import socket
import sys
from pathlib import Path
from typing import Any

from camscan.discovery import registry
from camscan.errors import RunError
from camscan.lab import netns
from camscan.lab.services import http, mdns, rtsp, tcp
from camscan.lab.services.common import DeviceContext, Starter
from camscan.labguard import lab_namespace_problem

PR_SET_PDEATHSIG = 1


class EmulatorError(RunError):
    """The spec or a namespace is unusable; the message is one line."""


def _tie_to_parent(parent: int, lifetime: int) -> None:
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != parent:  # the parent died before prctl took effect
        raise SystemExit(1)
    signal.alarm(max(1, lifetime))  # default SIGALRM action ends the process: a hard stop


def _open_device(dev: dict[str, Any], services: dict[str, Any]) -> list[Starter]:
    ctx = DeviceContext(
        ip=dev["ip"],
        ifname=dev["ifname"],
        ifindex=socket.if_nametoindex(dev["ifname"]),
        mac=dev["mac"],
        persona=dev["persona"],
        vars=dev["vars"],
        tls_cert=dev.get("tls_cert"),
        tls_key=dev.get("tls_key"),
        prefixlen=int(dev["prefixlen"]),
        ip6=dev.get("ip6"),
        ipv4=bool(dev.get("ipv4", True)),
        link6=dev.get("link6"),
    )
    starters: list[Starter] = []
    if "http" in services:
        starters += http.start(ctx, services["http"], secure=False)
    if "https" in services:
        starters += http.start(ctx, services["https"], secure=True)
    if "rtsp" in services:
        starters += rtsp.start(ctx, services["rtsp"])
    if "tcp" in services:
        starters += tcp.start(ctx, services["tcp"])
    # The UDP discovery protocols: the probe registry's list, each answered by the service
    # module of the same name on the port and group the registry declares (and on its IPv6
    # group too where the device runs IPv6). An IPv6-only device leaves the IPv4-only ones silent.
    for spec in registry.REGISTRY:
        if spec.udp is None or spec.name not in services:
            continue
        if ctx.ipv4 or (ctx.link6 and spec.udp.group6):
            service = importlib.import_module(f"camscan.lab.services.{spec.name}")
            starters += service.start(ctx, services[spec.name], spec.udp)
    return starters


async def serve(spec: dict[str, Any]) -> None:
    personas: dict[str, dict[str, Any]] = spec["personas"]
    starters: list[Starter] = []
    by_ns: dict[str, list[dict[str, Any]]] = {}
    for dev in spec["devices"]:
        by_ns.setdefault(dev["ns"], []).append(dev)
    for ns, devices in by_ns.items():
        with netns.entered(ns):
            problem = lab_namespace_problem()
            if problem:
                raise EmulatorError(f"refusing namespace {ns}: {problem}")
            for dev in devices:
                starters += _open_device(dev, personas[dev["persona"]])
    servers = await asyncio.gather(*starters)
    await mdns.register_all()
    print(f"ready {len(spec['devices'])} {len(servers)}", flush=True)
    try:
        await asyncio.Event().wait()  # until killed
    finally:
        await mdns.close_all()


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m camscan.lab.emulator SPEC.json", file=sys.stderr)
        return 2
    spec = json.loads(Path(argv[0]).read_text())
    _tie_to_parent(int(spec["parent"]), int(spec["lifetime"]))
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        asyncio.run(serve(spec))
    except (EmulatorError, netns.NetnsError, OSError) as exc:
        print(f"emulator: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
