"""sparse16: 50 devices across a /16: an ARP sweep bound by the frame rate."""

from __future__ import annotations

from bench import tools
from bench.runner import Options, Result, Target, Workload, alternate, available, startup_seconds


def run(opts: Options) -> Result:
    from camscan.discovery.arp import REPLY_TIMEOUT
    from camscan.lab import Lab, load_topology
    from camscan.settings import Limits

    topo = load_topology("sparse16")
    net = topo.networks[0]
    expected = {d.ip for d in topo.devices}
    rate = Limits().rate
    swept = net.cidr.num_addresses - 3  # host addresses less the scanner's own
    ideal = swept / rate + REPLY_TIMEOUT
    result = Result(
        "sparse16",
        f"ARP sweep of {net.cidr} ({swept} addresses), {len(expected)} devices",
        len(expected),
    )
    result.extra.update(rate=rate, reply_timeout=REPLY_TIMEOUT, addresses=swept, ideal_s=ideal)
    print(
        f"  rate-bound ideal: {swept} addresses / {rate:g} per s "
        f"+ {REPLY_TIMEOUT} s = {ideal:.1f} s"
    )
    cidr = str(net.cidr)
    chosen = [tools.camscan_arp(cidr, expected), tools.nmap_arp(cidr, expected, opts.slow_runs)]
    with Lab(topo, emulate=False) as lab:
        alternate(lab, available(chosen, result), opts.runs, opts.workdir, result, label="sparse16")
    return result


def targets(result: Result, results: dict[str, Result]) -> list[Target]:
    cs = result.summary("camscan --probes arp")
    ideal = float(result.extra["ideal_s"])
    text = "/16 sweep within 10% of the rate-bound ideal, peak RSS under 150 MB"
    if not cs:
        return [Target("sparse16", text, None, "camscan did not run")]
    found_all = cs["found_min"] == result.expected and not cs["failed"]
    ok = cs["wall_median"] <= 1.1 * ideal and cs["rss_mb_max"] < 150 and found_all
    why = [] if found_all else [f"found {cs['found_min']}/{result.expected}: {cs.get('notes')}"]
    if cs["wall_median"] > 1.1 * ideal:
        why.append(
            f"{cs['wall_median'] - ideal:.1f} s over the rate-bound ideal "
            f"{ideal:.1f} s (start-up ~{startup_seconds(results):.2f} s of it)"
        )
    passes = cs["wall_median"] / ideal
    if 1.8 <= passes <= 2.2:
        why.append(
            f"{passes:.2f}x the ideal is two full passes at the rate: a retry pass resends "
            "every address that stayed silent, which on a sparse network is nearly all of them"
        )
    if cs["rss_mb_max"] >= 150:
        why.append(f"peak RSS {cs['rss_mb_max']:.0f} MB")
    measured = (
        f"camscan {cs['wall_median']:.1f} s vs ideal {ideal:.1f} s "
        f"({passes:.3f}x), peak RSS {cs['rss_mb_max']:.0f} MB, "
        f"found {cs['found_min']}/{result.expected}"
    )
    return [Target("sparse16", text, ok, measured, why)]


WORKLOAD = Workload(
    "sparse16",
    "ARP sweep of a sparse /16 at the default rate",
    runs=1,
    run=run,
    targets=targets,
    bare_runs=False,
)
