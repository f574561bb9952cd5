"""Run every banner probe against many hosts in one event loop, within `Limits`.

Bounds: a global connection semaphore, a small per-host semaphore, the run's rate limiter (each
new connection draws from its global and per-host caps), a deadline per request and a budget
of wall-clock time per host (`Limits.host_deadline`, from its first request): no device, slow or
hostile, holds the run longer than that past the moment it was first asked. A host that accepts
connections but answers nothing is stopped sooner, at its first request's read timeout
(`_Run._unanswered`).
A hostile host only ever holds its own worker; a closed port costs one refused connect and
ends that port's chain.

A port's requests (the telling HTTP paths and then GET /, RTSP OPTIONS and DESCRIBE) share one
connection where the device keeps it open (HTTP keep-alive, RTSP's persistent connections): each
goes on it once the one before was answered. A request not answered within `Limits.reuse_wait`
sends the port's remaining ones side by side on new connections, so a camera that takes 2.5 s per
answer is still read in about one answer's time, not five. They are cancelled if the port's first
request fails.

Asking less (issue 27, `Hints`): a device discovery already knows is asked nothing, a port
discovery saw refused is not opened again, and the alternative web ports only of a host with a
sign of a camera whose web server said nothing on the usual ports; each skip is one
`banners.skipped` observation with its reason, evidence rather than an error.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import dataclasses
import functools
import ipaddress
import json
import sys
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TypeVar

from camscan import channels
from camscan.discovery.banners import NAME
from camscan.discovery.banners.http import TELLING_PATHS, probe_http, probe_http_on
from camscan.discovery.banners.limits import Limits
from camscan.discovery.banners.rtsp import METHODS, probe_rtsp, probe_rtsp_on
from camscan.discovery.banners.tcpports import (
    STALE,
    Kept,
    ProbeFailure,
    Quiet,
    Unanswered,
    probe_banner,
    probe_open,
)
from camscan.discovery.banners.tls import probe_https
from camscan.discovery.base import Hints, HostFeed
from camscan.discovery.rate import RateLimiter
from camscan.errors import ProbeKind
from camscan.identify.makers import display_name, sdk_port_owners
from camscan.model import Observation, ProbeError, to_jsonable

T = TypeVar("T")
Work = Callable[[list[Observation]], Awaitable[object]]
MAX_OBSERVATIONS_PER_HOST = 512  # a real camera gives under 150 on the usual ports
MAX_RAW_PER_HOST = 1 << 20  # characters of Observation.raw kept per host
BannerResults = dict[str, tuple[list[Observation], list[ProbeError]]]


@dataclasses.dataclass(slots=True)
class _Ask:
    """One follow-up request of a port, in its three forms, and what it found."""

    name: str  # the probe name its errors carry
    fresh: Work  # on a new connection, closed after
    keep: Callable[[Callable[[], None]], Work]  # on a new connection, kept if the device allows
    on: Callable[[Kept], Work]  # on a connection the device kept open
    found: list[Observation] = dataclasses.field(default_factory=list)
    failed: list[ProbeError] = dataclasses.field(default_factory=list)
    answered: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Ports:
    http: tuple[int, ...] = (80, 8080, 81, 88)  # TELLING_PATHS, then GET / (`http_chain`)
    https: tuple[int, ...] = (443, 8443)  # certificate, then GET /
    rtsp: tuple[int, ...] = (554,)  # OPTIONS, then DESCRIBE
    banner: tuple[int, ...] = (8000,)  # unprompted bytes; a silent port is then tried as HTTP
    connect: tuple[int, ...] = (37777,)  # open or not

    @classmethod
    def from_map(cls, ports: Mapping[str, Sequence[int]]) -> Ports:
        """Only the kinds named are probed: {"http": [18080]} probes one HTTP port, nothing else."""
        kinds = {field.name for field in dataclasses.fields(cls)}
        unknown = set(ports) - kinds
        if unknown:
            raise ValueError(f"unknown port kinds {sorted(unknown)}; known: {sorted(kinds)}")
        return cls(**{kind: tuple(int(p) for p in ports.get(kind, ())) for kind in kinds})


# Alternative web ports (of the default Ports), asked after the usual ones and only of a host
# that showed a sign of a camera (a usual camera port open, or a discovery reply) and whose web
# server did not answer on 80 or 443. A PC that refuses 80, 443, 554, 8000 and 37777 and said
# nothing to discovery is not asked four more ports, nor is a camera whose web UI already spoke.
ALTERNATIVE_PORTS = (8080, 81, 88, 8443)
QUIET_HOST = "no usual camera port open and no discovery reply"

# Unanswered handshakes after which a host that answered none is taken as silent. A host's
# first requests go out together (up to Limits.per_host), so a silent host costs one burst of
# handshakes and one connect timeout; requests queued behind it are then skipped.
SILENT_AFTER = 3


@dataclasses.dataclass(slots=True)
class _Host:
    ip: str
    gate: asyncio.Semaphore
    observations: list[Observation] = dataclasses.field(default_factory=list)
    errors: list[ProbeError] = dataclasses.field(default_factory=list)
    answered: bool = False  # some handshake got an answer (accepted or reset): the host is there
    unanswered: int = 0  # handshakes that got no answer at all (each after SYN retransmits)
    # time.monotonic() of its first request, when its budget starts (see `_Run.attempt`)
    first_at: float | None = None
    finished: float = 0.0  # when its last request ended
    cut: list[str] = dataclasses.field(default_factory=list)  # requests its budget ended
    opened: bool = False  # some port accepted a connection
    # some request got content back (a reply, a banner, even a bad one), not a bare accept
    spoke: bool = False
    # the request after which the host was stopped: it accepted, but answered nothing in time
    stalled: str | None = None
    timers: set[asyncio.Timeout] = dataclasses.field(default_factory=set)  # requests in flight
    skipped: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # why -> probes

    def skip(self, probe: str, why: str) -> None:
        """`probe` was not asked, on purpose: said in the device's evidence, never a failure."""
        probes = self.skipped.setdefault(why, [])
        if probe not in probes:
            probes.append(probe)

    def stop(self) -> None:
        """End every request in flight now (each ends as if its budget ran out)."""
        now = asyncio.get_running_loop().time()
        for timer in self.timers:
            with contextlib.suppress(RuntimeError):  # it had just expired by itself
                timer.reschedule(now)

    @property
    def silent(self) -> bool:
        """No handshake answered and SILENT_AFTER went unanswered: filtered or gone."""
        return not self.answered and self.unanswered >= SILENT_AFTER


class _Run:
    def __init__(
        self,
        limits: Limits,
        ports: Ports,
        stats: collections.Counter[str],
        limiter: RateLimiter,
        hints: Hints | None = None,
        alternatives: Sequence[int] = (),
    ) -> None:
        self.limits = limits
        self.hints = hints if hints is not None else Hints()
        self.alternatives = frozenset(alternatives) if self.hints.ask_less else frozenset()
        # port -> the maker whose SDK protocol it carries (makers.toml), for `_elsewhere`
        self.sdk_owners = sdk_port_owners() if self.hints.ask_less else {}
        self.ports = ports
        self.stats = stats
        self.gate = asyncio.Semaphore(limits.concurrency)
        self.limiter = limiter

    async def attempt(
        self,
        host: _Host,
        probe: str,
        work: Callable[[list[Observation]], Awaitable[T]],
        errors: list[ProbeError] | None = None,
        observations: list[Observation] | None = None,
        *,
        reused: bool = False,
        started: asyncio.Event | None = None,
    ) -> T | None:
        """Run one request under every bound; its failure becomes a ProbeError (or nothing).
        `reused`: it goes on a connection the device kept open (counted apart from new
        connections). It takes no turn from the rate limiter: no SYN and no ARP request go, only
        the request, one at a time after the device's last reply, which README "Rates" leaves
        uncounted like every request on a connection once its SYN is out. `started` is set when
        the request leaves its queue (gates and rate limiter) and goes out.

        A silent device is not waited on port after port: once SILENT_AFTER handshakes to a
        host went unanswered (no SYN-ACK, no reset) and none to it ever was answered, its
        remaining requests are counted quiet (filtered) without a connect. A host that answered
        any handshake, a slow camera included, keeps every probe and every timeout.

        Each host has a budget of wall-clock time (`Limits.host_deadline`) that starts when its
        first request goes out: a request gets what is left of it when less than `deadline` is,
        and none when it is spent, so no host, however many ports it opens and however slowly
        it answers, holds the scan longer than that past its first request. Time queued before
        its first request (behind other hosts) is not counted."""
        sink = host.errors if errors is None else errors
        found = host.observations if observations is None else observations
        async with host.gate, self.gate:
            return await self._attempt_now(host, probe, work, sink, found, reused, started)

    async def _attempt_now(
        self,
        host: _Host,
        probe: str,
        work: Callable[[list[Observation]], Awaitable[T]],
        sink: list[ProbeError],
        found: list[Observation],
        reused: bool,
        started: asyncio.Event | None,
    ) -> T | None:
        if host.silent:
            self.stats["quiet"] += 1
            self.stats["quiet_host_skipped"] += 1
            return None
        if self._known(host, probe) or self._elsewhere(host, probe) or self._over(host, probe):
            return None
        if not reused:  # the SYN goes out in `work`'s first step (connect before its first await)
            await self.limiter.slot(host.ip)
        # a discovery reply came, or the host's time ended, while it waited its turn
        if self._known(host, probe) or self._elsewhere(host, probe) or self._over(host, probe):
            return None
        now = time.monotonic()
        if host.first_at is None:  # its first request: the budget starts
            host.first_at = now
        allowed = min(self.limits.deadline, host.first_at + self.limits.host_deadline - now)
        self.stats["reused" if reused else "connections"] += 1
        if started is not None:
            started.set()
        before = len(found)
        timer: asyncio.Timeout | None = None
        unanswered = False  # it went a read timeout (or its deadline) without a whole reply
        try:
            async with asyncio.timeout(allowed) as timer:
                host.timers.add(timer)
                result = await work(found)
            host.answered = True
            host.opened = True
            return result
        except Unanswered:
            self.stats["quiet"] += 1
            host.unanswered += 1
            return None
        except Quiet:
            self.stats["quiet"] += 1
            host.answered = True  # refused: the host is there, the port is closed
        except ProbeFailure as exc:
            host.answered = True
            host.opened = True
            sink.append(ProbeError(probe, host.ip, str(exc), exc.kind))
            unanswered = exc.kind is ProbeKind.TIMEOUT  # no reply, or too slow to finish its head
            host.spoke |= not unanswered  # it answered, if badly: not a tarpit
        except TimeoutError:
            if host.stalled is not None or allowed < self.limits.deadline:
                self._spent(host, probe)  # cut short by the host's budget, or stopped
            else:
                error = f"timeout after {self.limits.deadline:.1f}s"
                sink.append(ProbeError(probe, host.ip, error, ProbeKind.TIMEOUT))
                unanswered = True
        except Exception as exc:  # a bug must not end the scan; it is reported instead
            error = " ".join(f"internal error: {type(exc).__name__}: {exc}".split())[:300]
            sink.append(ProbeError(probe, host.ip, error, ProbeKind.INTERNAL))
        finally:
            if timer is not None:
                host.timers.discard(timer)
            host.finished = time.monotonic()
            host.spoke |= _content(found[before:])
        if unanswered:
            self._unanswered(host, probe)
        return None

    def _known(self, host: _Host, probe: str) -> bool:
        """The device is known already (issue 27's ask-less): `probe` is skipped, and said so."""
        why = self.hints.known(host.ip)
        if why is None:
            return False
        self.stats["known_skipped"] += 1
        host.skip(probe, f"known from discovery: {why}")
        return True

    def _elsewhere(self, host: _Host, probe: str) -> bool:
        """`probe` would open another maker's SDK port than the one discovery gave for the
        device with high confidence: skipped, and said so. Its own maker's SDK port is still
        asked, and so are HTTP, RTSP and TLS, where a maker conflict (a badge on another
        maker's hardware, a spoofed reply) still shows. The maker is identify's verdict, who
        built it: a Hikvision sold as HiLook or an OEM brand is asked on 8000, not on 37777."""
        port = _port_of(probe)
        owner = self.sdk_owners.get(port) if port is not None else None
        said = self.hints.maker(host.ip) if owner is not None else None
        if said is None or said[0] == owner:
            return False
        self.stats["sdk_skipped"] += 1
        host.skip(probe, f"{display_name(owner)}'s SDK port, and discovery gave {said[1]}")
        return True

    def _over(self, host: _Host, probe: str) -> bool:
        """The host's time is over (its budget spent, or it was stopped): `probe` is not asked,
        and it takes no turn from the rate limiter, as no SYN will go."""
        spent = host.first_at is not None and (
            time.monotonic() >= host.first_at + self.limits.host_deadline
        )
        if spent or host.stalled is not None:
            self._spent(host, probe)
            return True
        return False

    def _unanswered(self, host: _Host, probe: str) -> None:
        """`probe` went unanswered for the read timeout after its connection was accepted (no
        reply, a reply that dripped too slowly to finish its head, or one past the deadline).
        If no request to the host was answered either, it is stopped: a device that accepts
        connections and answers none in a read timeout (a tarpit, a port-forward to nothing, a
        dripper) gets no more of its budget. An honest slow camera has answered by then (it
        must answer within the read timeout to be read at all), so it is never stopped; requests
        sent later than the first (a port's followers, HTTP on a silent banner port) are cut,
        and said so."""
        if host.spoke or host.stalled is not None:
            return
        host.stalled = probe
        self.stats["stalled_hosts"] += 1
        host.stop()

    def _spent(self, host: _Host, probe: str) -> None:
        """The host's budget ended `probe` (not asked, or cut short): said once per host, at
        its end (`_budget_error`), naming every request it ended."""
        self.stats["host_budget_skipped"] += 1
        if probe not in host.cut:
            host.cut.append(probe)

    def _budget_error(self, host: _Host) -> None:
        if host.cut and host.stalled is not None:
            error = (
                f"host stopped: {host.stalled} got no reply in {self.limits.read_timeout:.1f}s "
                f"and no request to it was answered: {', '.join(host.cut)} not asked or cut short"
            )
            host.errors.append(ProbeError(NAME, host.ip, error, ProbeKind.TIMEOUT))
        elif host.cut:
            error = (
                f"host budget of {self.limits.host_deadline:.1f}s spent (from its first request): "
                f"{', '.join(host.cut)} not asked or cut short"
            )
            host.errors.append(ProbeError(NAME, host.ip, error, ProbeKind.TIMEOUT))
        if host.first_at is not None:  # how long it took from its first request
            took = host.finished - host.first_at
            self.stats["longest_host_ms"] = max(self.stats["longest_host_ms"], round(took * 1000))

    async def lead_and_follow(
        self,
        host: _Host,
        lead: tuple[str, Callable[[Callable[[], None]], Work]],
        follow: Sequence[_Ask],
        *,
        reuse_lead: bool,
    ) -> None:
        """Send `lead`; once its connection is accepted, ask `follow` (`_follow`): on the lead's
        own connection when `reuse_lead` and the device keeps it, else on one of their own. A
        lead that is refused sends nothing more; one that fails after connecting (not this
        protocol, broken, too slow) cancels the followers still running, and what they failed
        or half read, the same story told again, is dropped; a follower that was answered is
        kept. Followers' results join the host's in the order of `follow`, whatever order they
        end."""
        accepted = asyncio.Event()
        probe, make_lead = lead
        lead_result: object = None
        async with asyncio.TaskGroup() as group:
            first = group.create_task(self.attempt(host, probe, make_lead(accepted.set)))
            opened = group.create_task(accepted.wait())
            await asyncio.wait((first, opened), return_when=asyncio.FIRST_COMPLETED)
            opened.cancel()
            if not accepted.is_set():
                return  # closed, filtered, skipped, or failed before a connection
            chain = group.create_task(self._follow(host, follow, first if reuse_lead else None))
            lead_result = await first
            if lead_result is None:
                chain.cancel()
        if isinstance(lead_result, Kept):
            lead_result.close()  # done with it (closing twice is harmless)
        for ask in follow:
            if lead_result is None and not ask.answered:
                self.stats["follow_failures_folded"] += 1
                continue
            host.observations += ask.found
            host.errors += ask.failed

    async def _follow(
        self, host: _Host, asks: Sequence[_Ask], lead: asyncio.Task[object] | None
    ) -> None:
        """Ask `asks` one after another on one connection while the device keeps it open and
        answers each within `reuse_wait`: the lead's (`lead` given), else one the first ask
        opens. Past that, whatever is left goes side by side on new connections."""
        conn: Kept | None = None
        try:
            async with asyncio.TaskGroup() as group:
                if lead is not None:
                    await asyncio.wait({lead}, timeout=self.limits.reuse_wait)
                    result = lead.result() if lead.done() else None
                    if not isinstance(result, Kept):
                        await self._side_by_side(host, asks)
                        return
                    conn = result
                for i, ask in enumerate(asks):
                    started = asyncio.Event()
                    work = ask.keep(started.set) if conn is None else ask.on(conn)
                    task = group.create_task(
                        self.attempt(
                            host,
                            ask.name,
                            work,
                            ask.failed,
                            ask.found,
                            reused=conn is not None,
                            started=started,
                        )
                    )
                    await self._answered_soon(task, started)
                    if not task.done():  # slow: the rest go now, side by side
                        await self._side_by_side(host, asks[i + 1 :])
                        result = await task
                        ask.answered = result is not None and result is not STALE
                        if isinstance(result, Kept):
                            result.close()
                        return
                    result = task.result()
                    if result is STALE:  # the device had closed it: ask this one again
                        conn = None
                        await self._side_by_side(host, asks[i:])
                        return
                    ask.answered = result is not None
                    if not isinstance(result, Kept):  # closed after it, or failed
                        conn = None
                        await self._side_by_side(host, asks[i + 1 :])
                        return
                    conn = result
        finally:
            if conn is not None:
                conn.close()

    async def _answered_soon(self, task: asyncio.Task[T], started: asyncio.Event) -> None:
        """Wait for `task` to leave its queue, then at most `reuse_wait` for its answer."""
        going = asyncio.ensure_future(started.wait())
        try:
            await asyncio.wait({task, going}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            going.cancel()
        if not task.done():
            await asyncio.wait({task}, timeout=self.limits.reuse_wait)

    async def _side_by_side(self, host: _Host, asks: Sequence[_Ask]) -> None:
        async def one(ask: _Ask) -> None:
            result = await self.attempt(host, ask.name, ask.fresh, ask.failed, ask.found)
            ask.answered = result is not None

        await asyncio.gather(*(one(ask) for ask in asks))

    async def http_chain(self, host: _Host, port: int, *, expect_http: bool = True) -> None:
        """The telling paths, then `GET /`, all on the first one's connection while the device
        keeps it open (one SYN where it does). `GET /` goes last and asks to close
        (Connection: close, as nmap's probes ask): the reply header shapes the signatures were
        written from are those of a reply to a request that closes, and a server says
        `Connection: close` to the request that asks for it, first on a connection or fifth."""
        ip, limits = host.ip, self.limits

        def get(path: str, on_open: Callable[[], None] | None = None, keep: bool = False) -> Work:
            return functools.partial(
                probe_http,
                ip,
                port,
                path,
                limits,
                expect_http=expect_http,
                on_open=on_open,
                keep_alive=keep,
            )

        def ask(path: str, keep: bool = True) -> _Ask:
            return _Ask(
                f"http:{port}{path}",
                fresh=get(path),
                keep=lambda on_open: get(path, on_open, keep),
                on=lambda conn: functools.partial(
                    probe_http_on, conn, ip, port, path, limits, keep_alive=keep
                ),
            )

        first, *rest = TELLING_PATHS
        follow = [*(ask(path) for path in rest), ask("/", keep=False)]
        lead = (f"http:{port}{first}", lambda on_open: get(first, on_open, keep=True))
        await self.lead_and_follow(host, lead, follow, reuse_lead=True)

    async def rtsp_chain(self, host: _Host, port: int) -> None:
        ip, limits = host.ip, self.limits

        def ask(method: str, on_open: Callable[[], None] | None = None, keep: bool = False) -> Work:
            return functools.partial(
                probe_rtsp, ip, port, method, limits, on_open=on_open, keep=keep
            )

        def follower(method: str) -> _Ask:
            return _Ask(
                f"rtsp:{port}",
                fresh=ask(method),
                keep=lambda on_open: ask(method, on_open, keep=True),
                on=lambda conn: functools.partial(probe_rtsp_on, conn, ip, port, method, limits),
            )

        first, *rest = METHODS
        lead = (f"rtsp:{port}", lambda on_open: ask(first, on_open, keep=True))
        await self.lead_and_follow(host, lead, [follower(m) for m in rest], reuse_lead=True)

    async def banner_chain(self, host: _Host, port: int) -> None:
        work = functools.partial(probe_banner, host.ip, port, self.limits)
        banner = await self.attempt(host, f"tcp:{port}", work)
        if banner == b"":  # open and silent: maybe a web server (HTTP clients speak first)
            await self.http_chain(host, port, expect_http=False)

    async def scan_host(self, ip: str) -> _Host:
        limits = self.limits
        host = _Host(ip, asyncio.Semaphore(limits.per_host))
        try:
            ipaddress.ip_address(ip)
        except ValueError:
            host.errors.append(ProbeError(NAME, ip, "not an IP address", ProbeKind.MALFORMED))
            return host
        wait = self.hints.settle_at - time.monotonic()
        if wait > 0:  # the first discovery replies are due: they may make asking needless
            await asyncio.sleep(wait)
        closed = self.hints.closed.get(ip, set()) if self.hints.ask_less else set()
        first: list[Callable[[], Awaitable[object]]] = []
        later: list[tuple[str, Callable[[], Awaitable[object]]]] = []
        for kind, port, chain in self._chains(host):
            probe = f"{kind}:{port}"
            if self._known(host, probe):  # skipped, and said so
                continue
            if port in closed:
                host.skip(probe, "closed: refused a connection during discovery")
                self.stats["closed_skipped"] += 1
            elif port in self.alternatives:
                later.append((probe, chain))
            else:
                first.append(chain)
        await asyncio.gather(*(chain() for chain in first))  # each held to the host's budget
        if later:
            web = {str(p) for p in (*self.ports.http, *self.ports.https)} - {
                str(p) for p in self.alternatives
            }
            if _web_answered(host, web):
                why = "its web server answered on a usual port"
            elif not (host.opened or ip in self.hints.answered):
                why = QUIET_HOST
            else:
                why = ""
                await asyncio.gather(*(chain() for _, chain in later))
            if why:
                for probe, _ in later:
                    host.skip(probe, why)
                self.stats["alternative_ports_skipped"] += len(later)
        self._budget_error(host)
        for why, probes in host.skipped.items():
            raw = f"{', '.join(probes)} not asked: {why}"
            fields = {"probes": " ".join(probes), "reason": why}
            host.observations.append(
                Observation(channels.BANNERS_SKIPPED, raw, NAME, ip, None, fields)
            )
        _trim(host)
        return host

    def _chains(self, host: _Host) -> list[tuple[str, int, Callable[[], Awaitable[object]]]]:
        """(kind, port, the chain that asks it) for every port of `Ports`, in order."""
        ip, limits, ports = host.ip, self.limits, self.ports
        chains: list[tuple[str, int, Callable[[], Awaitable[object]]]] = []
        for port in ports.http:
            chains.append(("http", port, functools.partial(self.http_chain, host, port)))
        for port in ports.https:
            work = functools.partial(probe_https, ip, port, limits)
            chains.append(
                ("https", port, functools.partial(self.attempt, host, f"https:{port}", work))
            )
        for port in ports.rtsp:
            chains.append(("rtsp", port, functools.partial(self.rtsp_chain, host, port)))
        for port in ports.banner:
            chains.append(("tcp", port, functools.partial(self.banner_chain, host, port)))
        for port in ports.connect:
            work = functools.partial(probe_open, ip, port, limits)
            chains.append(("tcp", port, functools.partial(self.attempt, host, f"tcp:{port}", work)))
        return chains


def _port_of(probe: str) -> int | None:
    """The port a probe name asks ("tcp:8000", "http:8000/favicon.ico" -> 8000)."""
    digits = probe.partition(":")[2].partition("/")[0]
    return int(digits) if digits.isdigit() else None


def _content(found: Sequence[Observation]) -> bool:
    """Something the device said: anything but an accepted connection (`tcp.open`)."""
    return any(o.channel != channels.TCP_OPEN for o in found)


def _web_answered(host: _Host, ports: set[str]) -> bool:
    """An HTTP reply or a TLS certificate came from one of `ports`."""
    return any(
        o.channel.startswith(("http.", "tls.")) and o.fields.get(channels.FIELD_PORT) in ports
        for o in host.observations
    )


def _trim(host: _Host) -> None:
    """Hold one host to the per-host budget, so no device can grow the report without bound."""
    kept: list[Observation] = []
    chars = 0
    for obs in host.observations:
        if len(kept) >= MAX_OBSERVATIONS_PER_HOST or chars + len(obs.raw) > MAX_RAW_PER_HOST:
            error = (
                f"over the per-host budget ({MAX_OBSERVATIONS_PER_HOST} observations, "
                f"{MAX_RAW_PER_HOST >> 10} KiB); {len(host.observations) - len(kept)} dropped"
            )
            host.errors.append(ProbeError(NAME, host.ip, error, ProbeKind.OVERFLOW))
            break
        kept.append(obs)
        chars += len(obs.raw)
    host.observations[:] = kept


async def grab_banners(
    ips: list[str] | HostFeed,
    limits: Limits,
    ports: Ports | Mapping[str, Sequence[int]] | None = None,
    progress: Callable[[int, int], None] | None = None,
    stats: collections.Counter[str] | None = None,
    limiter: RateLimiter | None = None,
    hints: Hints | None = None,
) -> BannerResults:
    """Banner observations and probe errors per IP (every IP given is a key).

    `ips`: a list, or a `HostFeed` that hands hosts over as discovery finds them (each is
    probed at once; the call returns when the feed is closed and every host is done).
    `ports`: None for the usual camera ports, or a map of kind -> ports (see `Ports`).
    `progress(done, total)` is called as each host finishes. `stats` counts connections and
    quiet (closed/filtered) attempts. `limiter`: the run's (None: one of the default rates).
    `hints`: what discovery learnt (closed ports, known devices; see `Hints`): ports it showed
    closed are not opened, known devices are asked nothing more, and with the usual ports
    (`ports` None) ALTERNATIVE_PORTS only of hosts that gave a sign of a camera."""
    alternatives = ALTERNATIVE_PORTS if ports is None else ()
    if ports is None:
        ports = Ports()
    chosen = ports if isinstance(ports, Ports) else Ports.from_map(ports)
    counts = stats if stats is not None else collections.Counter()
    run = _Run(limits, chosen, counts, limiter or RateLimiter(), hints, alternatives)
    feed = ips if isinstance(ips, HostFeed) else None
    unique = [] if isinstance(ips, HostFeed) else list(dict.fromkeys(ips))
    results: BannerResults = {}
    pending = iter(unique)

    async def next_host() -> str | None:
        if feed is not None:
            return await feed.get()
        return next(pending, None)  # one shared iterator: each host goes to exactly one worker

    async def worker() -> None:
        while (ip := await next_host()) is not None:
            host = await run.scan_host(ip)
            results[ip] = (host.observations, host.errors)
            if progress is not None:
                progress(len(results), len(feed.seen) if feed is not None else len(unique))

    slots = max(1, limits.concurrency // 2)  # hosts at once: most hold one or two connections
    workers = slots if feed is not None else min(len(unique), slots)
    await asyncio.gather(*(worker() for _ in range(workers)))
    return {ip: results[ip] for ip in (feed.seen if feed is not None else unique)}


def _lab_problem(ips: list[str]) -> str | None:
    """This entry point is for loopback and the lab only: refuse anything else."""
    if all(ipaddress.ip_address(ip).is_loopback for ip in ips):
        return None
    from camscan.labguard import lab_namespace_problem

    problem = lab_namespace_problem()
    if problem is not None:
        return f"non-loopback targets only inside a camscan lab namespace: {problem}"
    if not all(ipaddress.ip_address(ip) in ipaddress.ip_network("198.18.0.0/15") for ip in ips):
        return "lab targets must lie in 198.18.0.0/15"
    return None


def _parse_ports(specs: list[str]) -> dict[str, list[int]] | None:
    if not specs:
        return None
    ports: dict[str, list[int]] = {}
    for spec in specs:
        kind, _, numbers = spec.partition("=")
        ports.setdefault(kind, []).extend(int(n) for n in numbers.split(",") if n)
    return ports


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m camscan.discovery.banners.scheduler",
        description="Grab HTTP/HTTPS/RTSP/TCP banners (loopback or camscan lab only).",
    )
    parser.add_argument("ips", nargs="+", metavar="IP")
    parser.add_argument("--json", action="store_true", help="print JSON (the only output form)")
    parser.add_argument(
        "--ports",
        action="append",
        default=[],
        metavar="KIND=P[,P]",
        help="e.g. http=80,8080 rtsp=554 (repeat; default: the usual ports)",
    )
    defaults = Limits()
    parser.add_argument("--deadline", type=float, default=defaults.deadline)
    parser.add_argument("--host-deadline", type=float, default=defaults.host_deadline)
    args = parser.parse_args(argv)
    try:
        problem = _lab_problem(args.ips)
        ports = _parse_ports(args.ports)
        limits = Limits(deadline=args.deadline, host_deadline=args.host_deadline)
        if ports is not None:
            Ports.from_map(ports)
    except ValueError as exc:
        problem = str(exc)
    if problem is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    stats: collections.Counter[str] = collections.Counter()
    started = time.monotonic()
    results = asyncio.run(grab_banners(args.ips, limits, ports, stats=stats))
    report = {
        "elapsed": round(time.monotonic() - started, 3),
        "stats": dict(stats),
        "hosts": {
            ip: {"observations": to_jsonable(found), "errors": to_jsonable(errors)}
            for ip, (found, errors) in results.items()
        },
    }
    json.dump(report, sys.stdout, indent=2)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
