"""`python -m camscan.lab up TOPO`: build a lab for a person to explore; Ctrl-C tears it down.

Also: `list` (bundled topologies and personas), `clean` (remove labs whose owner died).
"""

from __future__ import annotations

import argparse
import sys
import time

from camscan.lab.instance import Lab, LabError
from camscan.lab.netns import remove_stale
from camscan.lab.persona import PersonaError, bundled_persona_names
from camscan.lab.topology import BUNDLED_TOPOLOGIES, TopologyError, load_topology


def describe(lab: Lab) -> str:
    lines = [
        f"lab {lab.topology.name}: {len(lab.devices)} devices, ready in {lab.ready_seconds:.1f} s",
        f"scanner namespace: {lab.scanner_ns}",
    ]
    for net in lab.topology.networks:
        count = sum(1 for d in lab.devices if d.network == net.name)
        where = (
            f"{lab.interfaces[net.name]}  {net.name:<10} {net.cidr}  scanner {net.scanner}"
            if net.scanner
            else f"{'-':4}  {net.name:<10} {net.cidr}  routed via {net.router}"
        )
        lines.append(f"  {where}  {count} devices")
    lines += [
        "enter it with:",
        f"  sudo ip netns exec {lab.scanner_ns} bash",
        "press Ctrl-C here to tear the lab down",
    ]
    return "\n".join(lines)


def up(topology: str, lifetime: int, show_devices: bool) -> int:
    try:
        with Lab(load_topology(topology), lifetime=lifetime) as lab:
            print(describe(lab), flush=True)
            if show_devices:
                for d in lab.devices:
                    print(
                        f"  {d.ip:<15} {d.mac}  {d.network:<10} {d.persona:<22} "
                        f"expect {d.expected_maker or '-'}",
                        flush=True,
                    )
            deadline = time.monotonic() + lifetime
            while time.monotonic() < deadline and lab.emulator and lab.emulator.poll() is None:
                time.sleep(0.5)
    except KeyboardInterrupt:
        print("\nlab torn down")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camscan.lab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="build a lab and hold it until Ctrl-C")
    p_up.add_argument("topology", help="bundled name (office, flat253, ...) or a TOML path")
    p_up.add_argument("--lifetime", type=int, default=3600, help="seconds before it stops itself")
    p_up.add_argument("--devices", action="store_true", help="list every device")
    sub.add_parser("list", help="bundled topologies and personas")
    sub.add_parser("clean", help="remove labs whose owner process is gone")
    args = parser.parse_args(argv)
    try:
        if args.command == "up":
            return up(args.topology, args.lifetime, args.devices)
        if args.command == "list":
            print(
                "topologies:", " ".join(sorted(p.stem for p in BUNDLED_TOPOLOGIES.glob("*.toml")))
            )
            print("personas:", " ".join(bundled_persona_names()))
            return 0
        removed = remove_stale()
        print(f"removed {len(removed)} namespaces" + (": " + " ".join(removed) if removed else ""))
        return 0
    except (LabError, TopologyError, PersonaError) as exc:
        print(f"camscan lab: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
