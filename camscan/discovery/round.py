"""One multicast discovery round: every selected probe at once, on every selected interface,
in one bounded window, outcomes merged.

Run directly for the lab tests (it refuses to run outside a lab namespace unless told to):
    python -m camscan.discovery.round --json [--interface eth0] [--window 1.5] [--probes sadp,dhip]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Iterable

from camscan.discovery import registry
from camscan.discovery.backlog import drain_seconds
from camscan.discovery.base import DiscoveryProbe, ProbeContext, ProbeOutcome
from camscan.errors import ProbeKind
from camscan.model import Observation, ProbeError, to_jsonable
from camscan.netif import InterfaceError, select_interfaces
from camscan.settings import Limits, ScanSettings, Timeouts
from camscan.targets import TargetError, TargetSet

GRACE = 2.0  # seconds past the window a probe may use to finish (description fetches, close)


async def _guarded(probe: DiscoveryProbe, ctx: ProbeContext) -> ProbeOutcome:
    """A probe's outcome; a crash or overrun becomes a ProbeError, never the round's end."""
    # the window, the bound on reading what it left queued (backlog.py), then the grace
    limit = ctx.settings.timeouts.window + drain_seconds(ctx.targets.size()) + GRACE
    try:
        return await asyncio.wait_for(probe.run(ctx), limit)
    except TimeoutError:
        error = f"did not finish within {limit:.1f} s"
        return ProbeOutcome(errors=[ProbeError(probe.name, None, error, ProbeKind.TIMEOUT)])
    except Exception as exc:  # a probe bug must not lose the other probes' results
        return ProbeOutcome(errors=[ProbeError.caught(probe.name, None, exc)])


async def run_round(ctx: ProbeContext, names: Iterable[str] | None = None) -> ProbeOutcome:
    """Run the named probes (all by default) concurrently; raises ValueError for unknown names."""
    multicast = registry.multicast()  # the registry's multicast probes: only these run in a round
    chosen = list(names) if names is not None else list(multicast)
    unknown = sorted(set(chosen) - set(multicast))
    if unknown:
        known = ", ".join(multicast)
        raise ValueError(f"unknown discovery probe: {', '.join(unknown)} (known: {known})")
    return await run_probes(ctx, [registry.get(n).create() for n in chosen])


async def run_probes(ctx: ProbeContext, probes: list[DiscoveryProbe]) -> ProbeOutcome:
    """Run `probes` concurrently, each guarded; one outcome, identical observations once."""
    outcomes = await asyncio.gather(*(_guarded(p, ctx) for p in probes))
    merged = ProbeOutcome()
    seen: set[tuple[str, str, str | None, str]] = set()
    for outcome in outcomes:
        for o in outcome.observations:
            key = (o.probe, o.channel, o.ip, o.raw)
            if key not in seen:
                seen.add(key)
                merged.observations.append(o)
        merged.errors += outcome.errors
    return merged


def _report_line(o: Observation) -> str:
    fields = " ".join(f"{k}={v}" for k, v in sorted(o.fields.items()) if k != "ip")
    return f"{o.ip or '-':15} {o.probe:5} {o.channel:20} {fields}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m camscan.discovery.round")
    parser.add_argument("--interface", action="append", help="repeatable; default: all but lo")
    parser.add_argument("--target", action="append", help="CIDR; default: the interfaces' nets")
    parser.add_argument("--window", type=float, default=Timeouts().window, help="seconds to listen")
    subset = ",".join(registry.multicast())
    parser.add_argument("--probes", default=subset, help="comma-separated subset")
    parser.add_argument(
        "--max-reply-bytes", type=int, default=Limits().max_reply_bytes, help="larger: dropped"
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of lines")
    parser.add_argument(
        "--outside-lab", action="store_true", help="allow running outside a lab namespace"
    )
    args = parser.parse_args(argv)
    if not args.outside_lab:
        from camscan.labguard import lab_namespace_problem  # a test tool: keep it in the lab

        problem = lab_namespace_problem()
        if problem:
            print(f"error: not in a lab namespace ({problem}); see --outside-lab", file=sys.stderr)
            return 2
    try:
        interfaces = select_interfaces(args.interface)
        targets = (
            TargetSet.parse(args.target)
            if args.target
            else TargetSet([i.network for i in interfaces])
        )
        window = max(0.1, min(args.window, 30.0))
        chosen = ScanSettings(
            timeouts=Timeouts(window=window), limits=Limits(max_reply_bytes=args.max_reply_bytes)
        )
        ctx = ProbeContext(interfaces, targets, settings=chosen)
        outcome = asyncio.run(run_round(ctx, [p for p in args.probes.split(",") if p]))
    except (InterfaceError, TargetError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(
            json.dumps(
                {
                    "interfaces": [i.name for i in interfaces],
                    "observations": to_jsonable(outcome.observations),
                    "errors": to_jsonable(outcome.errors),
                    "stats": dict(ctx.stats),
                },
                indent=1,
            )
        )
    else:
        for o in outcome.observations:
            print(_report_line(o))
        for e in outcome.errors:
            print(f"error: {e.probe} {e.target or ''}: {e.error}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
