"""The banner probes behind the common probe interface: an inspect-phase probe that reads
HTTP, HTTPS, RTSP and SDK-port banners from the in-scope devices discovery found (ctx.hosts)."""

from __future__ import annotations

import collections
import dataclasses

from camscan.discovery.banners import NAME
from camscan.discovery.banners.limits import Limits
from camscan.discovery.base import ProbeContext, ProbeOutcome


def limits_for(ctx: ProbeContext) -> Limits:
    """[scan] timeout is the per-request deadline, read_timeout the silence per read.

    How fast new connections start is the run's rate limiter's (ctx.limiter), not a limit here.
    A host's budget is one deadline of wall-clock time from its first request: its requests run
    side by side, so that is what the slowest honest camera needs, and all a hostile one gets."""
    return Limits(
        deadline=ctx.settings.timeouts.probe,
        host_deadline=ctx.settings.timeouts.probe,
        read_timeout=min(ctx.settings.timeouts.read, ctx.settings.timeouts.probe),
        concurrency=ctx.settings.limits.concurrency,
    )


class BannerProbe:
    name = NAME

    async def run(self, ctx: ProbeContext) -> ProbeOutcome:
        from camscan.discovery.banners.scheduler import grab_banners

        outcome = ProbeOutcome()
        hosts = ctx.feed if ctx.feed is not None else list(ctx.hosts)
        if not hosts:
            return outcome
        limits = limits_for(ctx)
        stats: collections.Counter[str] = collections.Counter()
        results = await grab_banners(
            hosts, limits, progress=ctx.progress, stats=stats, limiter=ctx.limiter, hints=ctx.hints
        )
        ctx.stats.update({f"banners.{k}": v for k, v in stats.items()})
        for ip, (observations, errors) in results.items():  # each names its host
            outcome.observations += [
                o if o.ip else dataclasses.replace(o, ip=ip) for o in observations
            ]
            outcome.errors += [e if e.target else dataclasses.replace(e, target=ip) for e in errors]
        return outcome
