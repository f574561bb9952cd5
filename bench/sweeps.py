"""ARP sweeps of one /24 against nmap and arp-scan: shared by arp253 and arp_half."""

from __future__ import annotations

from typing import Any

from bench import tools
from bench.runner import (
    Options,
    Result,
    Target,
    alternate,
    available,
    profile_camscan,
    startup_seconds,
)


def run_sweep(name: str, topo: Any, opts: Options, describe: str) -> Result:
    from camscan.lab import Lab

    cidr = str(topo.networks[0].cidr)
    expected = {d.ip for d in topo.devices}
    result = Result(name, f"ARP sweep of {cidr}: {describe}", len(expected))
    result.extra["cidr"] = cidr
    chosen = [
        tools.camscan_arp(cidr, expected),
        tools.nmap_arp(cidr, expected),
        tools.arp_scan(cidr, expected),
        tools.arp_scan(cidr, expected, tuned=True),
    ]
    with Lab(topo, emulate=False) as lab:  # ARP needs addresses only, no services
        alternate(lab, available(chosen, result), opts.runs, opts.workdir, result, label=name)
        if opts.profile:
            argv = ["scan", cidr, "--probes", "arp", "-f", "json", "-o", "/dev/null", "-q"]
            result.extra["profile"] = profile_camscan(lab, argv, opts.workdir / f"{name}-profile")
    return result


def sweep_targets(result: Result, results: dict[str, Result]) -> list[Target]:
    """camscan at most 1.0x nmap -sn -PR -n, all found; stretch: arp-scan tuned's time."""
    name, n = result.workload, result.expected
    cs, nm = result.summary("camscan --probes arp"), result.summary("nmap -sn -PR -n")
    tuned = result.summary("arp-scan (tuned)")
    text = f"ARP sweep at most 1.0x nmap -sn -PR -n, {n}/{n} found"
    if not (cs and nm):
        return [Target(name, text, None, "nmap skipped or not installed")]
    ratio = cs["wall_median"] / nm["wall_median"]
    ok = ratio <= 1.0 and cs["found_min"] == n
    why = [
        f"start-up ~{startup_seconds(results):.2f} s (camscan --help) of camscan's "
        f"{cs['wall_median']:.2f} s; nmap {nm['wall_median']:.2f} s",
    ]
    if cs["found_min"] < n:
        why.append(f"camscan found only {cs['found_min']}/{n} in its worst run")
    if "profile" in result.extra:
        why.append(f"cProfile of one camscan run is in the JSON ({name}.profile)")
    measured = (
        f"camscan {cs['wall_median']:.2f} s vs nmap {nm['wall_median']:.2f} s "
        f"({ratio:.2f}x), found {cs['found_min']}/{n}"
    )
    out = [Target(name, text, ok, measured, why)]
    if tuned:
        stretch = cs["wall_median"] <= tuned["wall_median"] * 1.1
        out.append(
            Target(
                f"{name}:stretch",
                "stretch: within 10% of arp-scan tuned (--retry=1 -B 10M --timeout=200)",
                stretch and cs["found_min"] == n,
                f"camscan {cs['wall_median']:.2f} s vs arp-scan tuned {tuned['wall_median']:.2f} s "
                f"({cs['wall_median'] / tuned['wall_median']:.2f}x)",
                [
                    "arp-scan is a small C program that starts in ~10 ms; camscan's Python "
                    "start-up and imports (scapy) alone cost more than its whole run"
                ],
            )
        )
    return out
