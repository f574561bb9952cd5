"""`Lab`: build a topology, start the device emulator, run commands in the scanner namespace,
and tear it all down on exit, on error, on SIGTERM and at interpreter exit.

    with Lab(load_topology("office")) as lab:
        lab.run(["camscan", "scan", "198.18.10.0/24"], capture_output=True)
"""

from __future__ import annotations

import atexit
import contextlib
import ipaddress
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
from pathlib import Path
from typing import Any

import camscan
from camscan.errors import RunError
from camscan.lab import builder, netns
from camscan.lab.topology import LabDevice, Topology, load_topology

DEFAULT_LIFETIME = 3600  # seconds: the emulator stops by itself after this, whatever happens
READY_TIMEOUT = 60.0


class LabError(RunError):
    """The lab could not be built or its emulator did not start; the message is one line."""


def lab_problem() -> str | None:
    """Why a lab cannot be built here (None if it can): needs root and iproute2."""
    if sys.platform != "linux":
        return "the lab needs Linux network namespaces"
    if os.geteuid() != 0:
        return "the lab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)"
    if shutil.which("ip") is None:
        return "the lab needs iproute2's `ip`"
    probe = subprocess.run(["ip", "netns", "list"], capture_output=True, check=False)
    if probe.returncode != 0:
        return "`ip netns` is not available"
    return None


class Lab:
    def __init__(
        self,
        topology: Topology | str | Path,
        *,
        lifetime: int = DEFAULT_LIFETIME,
        emulate: bool = True,
    ) -> None:
        self.topology = topology if isinstance(topology, Topology) else load_topology(topology)
        self.lifetime = lifetime
        self.emulate = emulate  # False: links and addresses only (ARP answers, nothing listens)
        self.devices: list[LabDevice] = list(self.topology.devices)
        self.layout: builder.Layout | None = None
        self.emulator: subprocess.Popen[bytes] | None = None
        self.build_seconds = 0.0
        self.ready_seconds = 0.0
        self._workdir: Path | None = None
        self._old_sigterm: Any = None

    # -- public view -------------------------------------------------------------------------
    @property
    def scanner_ns(self) -> str:
        return self._layout().scanner_ns

    @property
    def interfaces(self) -> dict[str, str]:
        return dict(self._layout().interfaces)

    @property
    def namespaces(self) -> list[str]:
        return self._layout().namespaces

    def device(self, ip: str) -> LabDevice:
        return next(d for d in self.devices if d.ip == ip)

    def devices_of(self, persona: str) -> list[LabDevice]:
        return [d for d in self.devices if d.persona == persona]

    def run(self, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[Any]:
        """Run a command inside the scanner namespace (and only there)."""
        return subprocess.run(["ip", "netns", "exec", self.scanner_ns, *argv], **kwargs)

    def python_env(self) -> dict[str, str]:
        """An environment in which `python -m camscan...` finds this checkout's package."""
        env = dict(os.environ)
        root = str(Path(camscan.__file__).resolve().parent.parent)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        return env

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> Lab:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        problem = lab_problem()
        if problem:
            raise LabError(problem)
        netns.remove_stale()
        atexit.register(self.close)
        self._catch_sigterm()
        began = time.monotonic()
        try:
            self.layout = builder.build(self.topology, netns.new_prefix())
            self.build_seconds = time.monotonic() - began
            if self.emulate:
                self._start_emulator()
            self.ready_seconds = time.monotonic() - began
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Stop the emulator and delete every namespace; safe to call twice."""
        self._stop_emulator()
        if self.layout is not None:
            builder.teardown(self.layout)
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None
        if self._old_sigterm is not None:
            with contextlib.suppress(ValueError):  # not the main thread any more
                signal.signal(signal.SIGTERM, self._old_sigterm)
            self._old_sigterm = None
        atexit.unregister(self.close)

    # -- internals ---------------------------------------------------------------------------
    def _layout(self) -> builder.Layout:
        if self.layout is None:
            raise LabError("the lab is not running")
        return self.layout

    def _catch_sigterm(self) -> None:
        """SIGTERM becomes KeyboardInterrupt, so `with` blocks and finalisers still run."""
        if threading.current_thread() is not threading.main_thread():
            return
        if signal.getsignal(signal.SIGTERM) in (signal.SIG_DFL, None):
            self._old_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)

    def _spec(self, layout: builder.Layout) -> dict[str, Any]:
        topo = self.topology
        tls: dict[str, tuple[str, str]] = {}
        for name, persona in topo.personas.items():
            if "https" in persona.services:
                from camscan.lab.tls import ensure_cert  # cryptography: only when TLS is played

                tls[name] = ensure_cert(name, dict(persona.services.get("tls", {})))
        devices = []
        for dev in self.devices:
            persona = topo.personas[dev.persona]
            net = topo.network(dev.network)
            entry: dict[str, Any] = {
                "ns": layout.device_ns[dev.network],
                "ifname": builder.device_ifname(dev.index),
                "ip": dev.ip,
                "mac": dev.mac,
                "prefixlen": net.cidr.prefixlen,
                "ip6": dev.ip6,
                "link6": dev.link6,
                "ipv4": dev.ipv4,
                "persona": dev.persona,
                "vars": persona.device_vars(ipaddress.IPv4Address(dev.ip), dev.mac),
            }
            if dev.persona in tls:
                entry["tls_cert"], entry["tls_key"] = tls[dev.persona]
            devices.append(entry)
        return {
            "parent": os.getpid(),
            "lifetime": self.lifetime,
            "personas": {n: p.services for n, p in topo.personas.items()},
            "devices": devices,
        }

    def _start_emulator(self) -> None:
        layout = self._layout()
        self._workdir = Path(tempfile.mkdtemp(prefix=f"{layout.prefix}emu-"))
        spec_path = self._workdir / "spec.json"
        spec_path.write_text(json.dumps(self._spec(layout)))
        log_path = self._workdir / "emulator.log"
        with log_path.open("wb") as log:
            self.emulator = subprocess.Popen(
                [sys.executable, "-m", "camscan.lab.emulator", str(spec_path)],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=self.python_env(),
                start_new_session=True,  # Ctrl-C in a terminal goes to us; we stop it ourselves
            )
        assert self.emulator.stdout is not None
        ready, _, _ = select.select([self.emulator.stdout], [], [], READY_TIMEOUT)
        line = self.emulator.stdout.readline() if ready else b""
        if not line.startswith(b"ready"):
            tail = log_path.read_text(errors="replace").strip().splitlines()
            reason = tail[-1] if tail else "no output"
            raise LabError(f"device emulator did not start: {reason}")

    def _stop_emulator(self) -> None:
        proc, self.emulator = self.emulator, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(3.0)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(3.0)
        if proc.stdout is not None:
            proc.stdout.close()


def _sigterm_to_interrupt(signum: int, frame: types.FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")
