"""camscan.toml: named segments with zones, probe/rate/output settings, policy and exceptions.

Every problem is reported as one line naming the file and the place, e.g.
`camscan.toml: segment "cctv" (segment 2): cidrs[0] "10.0.0.0/33" is not an IPv4 CIDR`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import ipaddress
import re
import tomllib
from pathlib import Path
from typing import Any

from camscan import settings
from camscan.discovery import registry as probe_registry
from camscan.discovery.snmpconf import AUTH_PROTOCOLS, MIN_KEY_CHARS, PRIV_PROTOCOLS, SnmpSettings
from camscan.errors import DataError
from camscan.identify.makers import default_listed, expand_listed, presets
from camscan.macaddr import normalise_mac
from camscan.model import MEDIUM_CONFIDENCE, Segment
from camscan.report.registry import DEFAULT as DEFAULT_FORMAT
from camscan.report.registry import FORMATS
from camscan.settings import BOUNDS, ScanSettings, bound_problem

SPECIAL_ZONES = ("core", "sensitive")
ENGINES = ("camscan", "nmap")  # who does off-link host discovery and the port scan
FINDING_SEVERITIES = ("critical", "high", "medium")  # a zone's severity for a listed maker
_SEGMENT_KEYS = {"name", "cidrs", "zone", "description", "interfaces", "deadline"}
_SCAN_KEYS = {
    "targets",
    "interfaces",
    "rate",
    "host_rate",
    "engine",
    "discovery_window",
    "probes",
    "timeout",
    "read_timeout",
    "concurrency",
    "allow_public",
    "max_hosts",
    "ask_less",
}
_OUTPUT_KEYS = {"format", "file"}
_POLICY_KEYS = {
    "listed_makers",
    "min_confidence",
    "severity",
    "core_any_maker",
    "core_any_maker_severity",
    "deadlines",
    "kev_severity",
}
_IFNAME = re.compile(r"[A-Za-z0-9_.:@-]{1,15}")  # Linux IFNAMSIZ - 1
_EXCEPTION_KEYS = {"mac", "serial", "reason", "accepted_by", "expires"}
_STORE_KEYS = {"db", "site", "keep_runs", "lock_wait"}
DEFAULT_LOCK_WAIT = 60.0  # seconds a write waits for another writer of a SQLite store
MAX_LOCK_WAIT = 86400.0  # a day: longer is a stuck writer, not a busy one
_ESTATE_KEYS = {"silent_after", "expiring_within"}
_SNMP_TABLE = "snmp"  # the [snmp] table: it turns on the opt-in probe of the same name
_TOP_KEYS = {"segment", "scan", "output", "policy", "exception", "store", "estate", _SNMP_TABLE}
_SNMP_KEYS = {f.name for f in dataclasses.fields(SnmpSettings)}
_DURATION = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([mhd])\s*")
_UNIT = {"m": 60.0, "h": 3600.0, "d": 86400.0}


class ConfigError(DataError):
    """The configuration is invalid; the message is one line."""


@dataclasses.dataclass(slots=True)
class ScanConfig:
    """[scan]: what to scan, and the settings (camscan/settings.py) the flags may override."""

    targets: list[str] = dataclasses.field(default_factory=list)
    interfaces: list[str] = dataclasses.field(default_factory=list)
    allow_public: bool = False
    settings: ScanSettings = dataclasses.field(
        # every probe but the opt-in ones (snmp: added when [snmp] is configured)
        default_factory=lambda: ScanSettings(probes=probe_registry.defaults())
    )


@dataclasses.dataclass(slots=True)
class OutputSettings:
    format: str = DEFAULT_FORMAT
    file: str | None = None


@dataclasses.dataclass(slots=True)
class PolicyConfig:
    listed_makers: list[str] = dataclasses.field(default_factory=lambda: list(default_listed()))
    min_confidence: float = MEDIUM_CONFIDENCE  # one ambiguous hint never flags
    severity: dict[str, str] = dataclasses.field(default_factory=dict)  # zone -> severity
    # Instruction 2 of the statement as written: any maker's visual surveillance equipment on
    # a core network is flagged. false: the narrow reading (listed makers only, as before).
    core_any_maker: bool = True
    core_any_maker_severity: str = "high"
    deadlines: dict[str, str] = dataclasses.field(default_factory=dict)  # zone -> ISO date
    kev_severity: str = "high"  # least severity of a camera on KEV-listed firmware, or "off"


@dataclasses.dataclass(slots=True)
class ExceptionConfig:
    reason: str
    accepted_by: str
    expires: dt.date
    mac: str | None = None
    serial: str | None = None


@dataclasses.dataclass(slots=True)
class StoreSettings:
    db: str | None = None  # SQLite path or PostgreSQL URL/conninfo; None: the default file
    site: str | None = None  # separates sensors sharing one database; None: the host name
    keep_runs: int | None = None  # sweeps keep this many runs per site; None: all
    lock_wait: float = DEFAULT_LOCK_WAIT


@dataclasses.dataclass(slots=True)
class EstateConfig:
    """[estate]: when a site counts as silent, and how far ahead exceptions are listed."""

    silent_after: float = 2 * 86400.0  # seconds without a complete run: the site is a gap
    expiring_within: float = 30 * 86400.0  # seconds: exceptions ending sooner are listed


@dataclasses.dataclass(slots=True)
class Config:
    segments: list[Segment] = dataclasses.field(default_factory=list)
    scan: ScanConfig = dataclasses.field(default_factory=ScanConfig)
    output: OutputSettings = dataclasses.field(default_factory=OutputSettings)
    policy: PolicyConfig = dataclasses.field(default_factory=PolicyConfig)
    exceptions: list[ExceptionConfig] = dataclasses.field(default_factory=list)
    store: StoreSettings = dataclasses.field(default_factory=StoreSettings)
    estate: EstateConfig = dataclasses.field(default_factory=EstateConfig)
    snmp: SnmpSettings | None = None  # None: no [snmp] table, no SNMP is sent
    path: Path | None = None

    def segment(self, name: str) -> Segment:
        for s in self.segments:
            if s.name == name:
                return s
        known = ", ".join(s.name for s in self.segments) or "none defined"
        raise ConfigError(f"no segment named {name!r} (known: {known})")


MAX_CONFIG_BYTES = 16 << 20  # a camscan.toml of 20,000 segments is about 1.5 MiB
MAX_TOML_DEPTH = 32  # tables/arrays nested deeper than any camscan.toml needs
MAX_KEY_PARTS = 32  # a dotted key (a.b.c) of more parts than any camscan.toml needs
MAX_ENTRIES = 500_000  # keys and array items: 20,000 segments need about 100,000
# What shapes a TOML document, strings and comments skipped whole (a bracket or a dot inside
# them is text): tomllib's time and memory grow with nesting, dotted parts and entries before
# it can say anything (a key dotted 100,000 deep took 23.5 GB), so they are counted first.
_TOKENS = re.compile(
    r'"""(?:[^\\]|\\.)*?"""|\'\'\'.*?\'\'\'|"(?:[^"\\\n]|\\.)*"|\'[^\'\n]*\'|#[^\n]*'
    r"|[\[\]{}.=,\n]",
    re.DOTALL,
)


def _shape_problem(text: str) -> str | None:
    """Why the document is too deep, too dotted or too long for a camscan.toml, or None;
    one pass without recursion (tomllib recurses per level: 900 deep is a RecursionError)."""
    depth = deepest = dots = most_dots = entries = 0
    for match in _TOKENS.finditer(text):
        c = match.group()
        if c in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif c in "]}":
            depth = max(0, depth - 1)
        elif c == ".":  # a key part, or a float's point (one per value: far under the bound)
            dots += 1
            most_dots = max(most_dots, dots)
        elif c in "=,\n":
            entries += c != "\n"
            dots = 0
    if deepest > MAX_TOML_DEPTH:
        return f"nested over {MAX_TOML_DEPTH} deep"
    if most_dots >= MAX_KEY_PARTS:
        return f"a dotted key of over {MAX_KEY_PARTS} parts"
    if entries > MAX_ENTRIES:
        return f"over {MAX_ENTRIES:,} entries"
    return None


def load_config(path: Path) -> Config:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_CONFIG_BYTES + 1)
        text = data.decode("utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot read: {e}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path}: larger than {MAX_CONFIG_BYTES >> 20} MiB; not a camscan.toml")
    if problem := _shape_problem(text):
        raise ConfigError(f"{path}: not valid TOML for camscan: {problem}")
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    except RecursionError:  # a nesting the cheap check above missed
        raise ConfigError(f"{path}: not valid TOML for camscan: nested too deep") from None
    cfg = parse_config(doc, str(path))
    cfg.path = path
    return cfg


def parse_config(doc: dict[str, Any], where: str = "config") -> Config:
    _no_unknown(doc, _TOP_KEYS, where, "top level")
    cfg = Config()
    segs = doc.get("segment", [])
    if not isinstance(segs, list):
        raise ConfigError(f"{where}: 'segment' must be an array of tables ([[segment]])")
    cfg.segments = [_segment(s, n, where) for n, s in enumerate(segs, 1)]
    _check_segments(cfg.segments, where)
    cfg.scan = _scan(_table(doc, "scan", where), where)
    out = _table(doc, "output", where)
    _no_unknown(out, _OUTPUT_KEYS, where, "[output]")
    fmt = _typed(out, "format", str, DEFAULT_FORMAT, where, "[output]")
    if fmt not in FORMATS:
        raise ConfigError(f"{where}: [output] format {fmt!r} is not one of {', '.join(FORMATS)}")
    cfg.output = OutputSettings(fmt, _typed(out, "file", str, None, where, "[output]"))
    cfg.policy = _policy(_table(doc, "policy", where), where)
    excs = doc.get("exception", [])
    if not isinstance(excs, list):
        raise ConfigError(f"{where}: 'exception' must be an array of tables ([[exception]])")
    cfg.exceptions = [_exception(e, n, where) for n, e in enumerate(excs, 1)]
    cfg.store = _store(_table(doc, "store", where), where)
    cfg.estate = _estate(_table(doc, "estate", where), where)
    if _SNMP_TABLE in doc:
        cfg.snmp = _snmp(_table(doc, _SNMP_TABLE, where), where)
        scan = doc.get("scan")
        if not (isinstance(scan, dict) and "probes" in scan):  # an explicit list must name it
            probes = (*cfg.scan.settings.probes, probe_registry.get(_SNMP_TABLE).name)
            cfg.scan.settings = dataclasses.replace(cfg.scan.settings, probes=probes)

    return cfg


def duration(text: str) -> float | None:
    """Seconds in "90m", "36h" or "2d" (minutes, hours, days), or None if it is not one."""
    match = _DURATION.fullmatch(text)
    if match is None or float(match[1]) <= 0:
        return None
    return float(match[1]) * _UNIT[match[2]]


def _estate(t: dict[str, Any], where: str) -> EstateConfig:
    _no_unknown(t, _ESTATE_KEYS, where, "[estate]")
    got = EstateConfig()
    for key in sorted(_ESTATE_KEYS):
        if key not in t:
            continue
        seconds = duration(t[key]) if isinstance(t[key], str) else None
        if seconds is None:
            raise ConfigError(f'{where}: [estate] {key} must be a time like "2d", "36h" or "90m"')
        setattr(got, key, seconds)
    return got


def _snmp(t: dict[str, Any], where: str) -> SnmpSettings:
    """[snmp]: read-only credentials and the routers whose ARP tables to read. Credentials may
    also come from the environment (camscan/discovery/snmpconf.py), never from a default."""
    place = "[snmp]"
    _no_unknown(t, _SNMP_KEYS, where, place)
    d = SnmpSettings()
    routers = _str_list(t, "routers", where, place) or []
    for i, router in enumerate(routers):
        try:
            ipaddress.IPv4Address(router)
        except ValueError:
            raise ConfigError(
                f"{where}: {place}: routers[{i}] {router!r} is not an IPv4 address"
            ) from None
    text = {
        k: _typed(t, k, str, None, where, place)
        for k in ("community", "user", "auth_protocol", "auth_key", "priv_protocol", "priv_key")
    }
    for key, value in text.items():
        if value is not None and not value.strip():
            raise ConfigError(f"{where}: {place}: {key} must not be empty")
    if text["community"] is not None and text["user"] is not None:
        raise ConfigError(f"{where}: {place}: give community (v2c) or user (v3), not both")
    v3 = ("auth_protocol", "auth_key", "priv_protocol", "priv_key")
    if text["user"] is None and (given := [k for k in v3 if text[k] is not None]):
        raise ConfigError(f"{where}: {place}: {given[0]} needs user (an SNMPv3 user)")
    for key, allowed in (("auth_protocol", AUTH_PROTOCOLS), ("priv_protocol", PRIV_PROTOCOLS)):
        if text[key] is not None and text[key] not in allowed:
            raise ConfigError(
                f"{where}: {place}: {key} {text[key]!r} is not one of {', '.join(allowed)}"
            )
    if text["priv_protocol"] is not None and text["auth_protocol"] is None:
        raise ConfigError(f"{where}: {place}: priv_protocol needs auth_protocol (RFC 3414)")
    for key in ("auth_key", "priv_key"):
        if text[key] is not None and len(text[key]) < MIN_KEY_CHARS:
            raise ConfigError(
                f"{where}: {place}: {key} must be at least {MIN_KEY_CHARS} characters (RFC 3414)"
            )
    devices = _typed(t, "devices", bool, d.devices, where, place)
    if not routers and not devices:
        raise ConfigError(
            f"{where}: {place}: needs routers (addresses whose ARP tables to read) "
            "or devices = true"
        )
    numbers: dict[str, Any] = {}
    for key, typ, low, high in (
        ("port", int, 1, 65535),
        ("timeout", float, 0.1, 60),
        ("retries", int, 0, 5),
        ("max_rows", int, 1, 1_000_000),
        ("max_repetitions", int, 1, 100),
    ):
        value = numbers[key] = _typed(t, key, typ, getattr(d, key), where, place)
        if not low <= value <= high:
            raise ConfigError(f"{where}: {place}: {key} must be between {low} and {high}")
    return SnmpSettings(routers=tuple(routers), devices=devices, **text, **numbers)


def _store(t: dict[str, Any], where: str) -> StoreSettings:
    place = "[store]"
    _no_unknown(t, _STORE_KEYS, where, place)
    db = _typed(t, "db", str, None, where, place)
    site = _typed(t, "site", str, None, where, place)
    keep = _typed(t, "keep_runs", int, None, where, place)
    if db is not None and not db.strip():
        raise ConfigError(f"{where}: {place}: db must not be empty")
    if site is not None and (problem := site_problem(site)):
        raise ConfigError(f"{where}: {place}: site {problem}")
    if keep is not None and keep < 1:
        raise ConfigError(f"{where}: {place}: keep_runs must be at least 1")
    wait = _typed(t, "lock_wait", float, DEFAULT_LOCK_WAIT, where, place)
    if not 0 <= wait <= MAX_LOCK_WAIT:
        raise ConfigError(f"{where}: {place}: lock_wait must be 0 to {MAX_LOCK_WAIT:g} seconds")
    return StoreSettings(db, site, keep, wait)


def site_problem(site: str) -> str | None:
    """Why `site` cannot name a site (None if it can): short printable text."""
    if not site.strip() or len(site) > 100:
        return "must be 1 to 100 characters"
    if not site.isprintable():
        return "must be printable text"
    return None


def _table(doc: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = doc.get(key, {})
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: [{key}] must be a table")
    return value


def _no_unknown(table: dict[str, Any], allowed: set[str], where: str, place: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        known = ", ".join(sorted(allowed))
        raise ConfigError(f"{where}: {place}: unknown field {unknown[0]!r} (allowed: {known})")


def _typed(t: dict[str, Any], key: str, typ: type, default: Any, where: str, place: str) -> Any:
    if key not in t:
        return default
    value = t[key]
    ok = isinstance(value, typ) and not (typ in (int, float) and isinstance(value, bool))
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        value, ok = float(value), True
    if not ok:
        raise ConfigError(f"{where}: {place}: {key} must be {typ.__name__}, got {value!r}")
    return value


def _str_list(t: dict[str, Any], key: str, where: str, place: str) -> list[str] | None:
    if key not in t:
        return None
    value = t[key]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where}: {place}: {key} must be a list of strings")
    return list(value)


def _segment(s: Any, n: int, where: str) -> Segment:
    if not isinstance(s, dict):
        raise ConfigError(f"{where}: segment {n} must be a table")
    name = s.get("name")
    place = f"segment {name!r} (segment {n})" if isinstance(name, str) else f"segment {n}"
    _no_unknown(s, _SEGMENT_KEYS, where, place)
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: {place}: needs a name")
    zone = s.get("zone")
    if not isinstance(zone, str) or not zone.strip():
        raise ConfigError(f"{where}: {place}: needs a zone (core, sensitive, or a label)")
    cidrs = _str_list(s, "cidrs", where, place)
    if not cidrs:
        raise ConfigError(f"{where}: {place}: needs cidrs, a non-empty list of CIDRs")
    for i, c in enumerate(cidrs):
        try:
            ipaddress.ip_network(c, strict=True)
        except ValueError as e:
            raise ConfigError(
                f"{where}: {place}: cidrs[{i}] {c!r} is not an IPv4 CIDR or IPv6 prefix ({e})"
            ) from None
    interfaces = _str_list(s, "interfaces", where, place) or []
    for i, iface in enumerate(interfaces):
        if not _IFNAME.fullmatch(iface):
            raise ConfigError(
                f"{where}: {place}: interfaces[{i}] {iface!r} is not an interface name "
                "(like eth1 or eth0.20)"
            )
    deadline = s.get("deadline")
    if deadline is not None and not _is_date(deadline):
        raise ConfigError(f"{where}: {place}: deadline must be a date like 2027-03-31")
    return Segment(
        name=name,
        cidrs=cidrs,
        zone=zone.strip().lower(),
        interfaces=interfaces,
        deadline=deadline.isoformat() if deadline is not None else None,
    )


def _is_date(value: object) -> bool:
    return isinstance(value, dt.date) and not isinstance(value, dt.datetime)


def _check_segments(segments: list[Segment], where: str) -> None:
    seen: dict[str, int] = {}
    for n, s in enumerate(segments, 1):
        if s.name in seen:
            raise ConfigError(
                f"{where}: duplicate segment name {s.name!r} (segments {seen[s.name]} and {n})"
            )
        seen[s.name] = n
    owner: dict[str, str] = {}
    for s in segments:
        for iface in s.interfaces:
            if iface in owner and owner[iface] != s.name:
                raise ConfigError(
                    f"{where}: interface {iface!r} is named by segments {owner[iface]!r} and "
                    f"{s.name!r}: a device heard on it would have two zones"
                )
            owner[iface] = s.name
    # CIDRs either nest or are disjoint: sorted by first address (widest first), each one
    # overlaps an earlier one exactly when it starts before the furthest end seen so far.
    # O(n log n): 20,000 segments check in well under a second (every pair took minutes).
    nets = sorted(
        ((ipaddress.ip_network(c), s.name) for s in segments for c in s.cidrs),
        key=lambda item: (item[0].version, int(item[0].network_address), -item[0].num_addresses),
    )
    widest: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str] | None = None
    for net, name in nets:
        if widest is not None and widest[0].version != net.version:
            widest = None  # IPv4 and IPv6 never overlap
        if widest is not None and int(net.network_address) <= int(widest[0].broadcast_address):
            a, na = widest
            raise ConfigError(f"{where}: segments {na!r} ({a}) and {name!r} ({net}) overlap")
        if widest is None or int(net.broadcast_address) > int(widest[0].broadcast_address):
            widest = (net, name)


def _scan(t: dict[str, Any], where: str) -> ScanConfig:
    place = "[scan]"
    _no_unknown(t, _SCAN_KEYS, where, place)
    d = ScanSettings(probes=probe_registry.defaults())
    probes = _str_list(t, "probes", where, place)
    if probes is not None:
        known = probe_registry.names()
        bad = [p for p in probes if p not in known]
        if bad:
            raise ConfigError(
                f"{where}: {place}: unknown probe {bad[0]!r} (known: {', '.join(known)})"
            )
    engine = _typed(t, "engine", str, d.engine, where, place)
    if engine not in ENGINES:
        raise ConfigError(f"{where}: {place}: engine must be one of {', '.join(ENGINES)}")
    values = {}
    for key in BOUNDS:  # the bounds the flags obey too (camscan/settings.py)
        typ = int if isinstance(settings.value(d, key), int) else float
        values[key] = _typed(t, key, typ, settings.value(d, key), where, place)
        problem = bound_problem(key, values[key])
        if problem:
            raise ConfigError(f"{where}: {place}: {key} {problem}")
    chosen = dataclasses.replace(
        d,
        probes=tuple(probes) if probes is not None else d.probes,
        engine=engine,
        ask_less=_typed(t, "ask_less", bool, d.ask_less, where, place),
    )
    return ScanConfig(
        targets=_str_list(t, "targets", where, place) or [],
        interfaces=_str_list(t, "interfaces", where, place) or [],
        allow_public=_typed(t, "allow_public", bool, False, where, place),
        settings=settings.with_values(chosen, values),
    )


def known_makers() -> set[str]:
    """Every maker camscan can name: the vocabulary, and those the packaged signature files add
    with `[makers]` (read only when a name is not in the vocabulary: parsing stays cheap)."""
    from camscan.identify import makers

    return {m.slug for m in makers.known() if m.slug != "generic"}


def check_makers(listed: list[str], where: str, known: set[str] | None = None) -> None:
    """Every maker in [policy] listed_makers must be one camscan can identify: a typo would
    silently flag nothing ("hikvison" rated every Hikvision camera on a core segment info).
    Called by parse_config, so every command refuses the same config the same way."""
    import difflib

    vocabulary = known_makers() if known is None else known
    unknown = [name for name in listed if name not in vocabulary]
    if not unknown:
        return
    if known is None:  # perhaps a maker a signature file adds
        from camscan.identify.signatures import added_makers

        vocabulary |= added_makers()
        unknown = [name for name in unknown if name not in vocabulary]
    for name in unknown:
        close = difflib.get_close_matches(name, sorted(vocabulary), n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise ConfigError(
            f"{where}: [policy]: listed_makers {name!r} is not a maker camscan knows "
            f"({hint}known: {', '.join(sorted(vocabulary))})"
        )


def _policy(t: dict[str, Any], where: str) -> PolicyConfig:
    place = "[policy]"
    _no_unknown(t, _POLICY_KEYS, where, place)
    d = PolicyConfig()
    sev = t.get("severity", {})
    if not isinstance(sev, dict) or not all(isinstance(v, str) for v in sev.values()):
        raise ConfigError(f'{where}: {place}: severity must be a table of zone = "severity"')
    for zone, value in sev.items():
        if value == "info":
            raise ConfigError(
                f"{where}: {place}: severity.{zone} 'info' is not allowed: info means \"not a "
                'finding"; a listed maker is at least medium (critical, high or medium)'
            )
        if value not in FINDING_SEVERITIES:
            raise ConfigError(
                f"{where}: {place}: severity.{zone} {value!r} is not one of "
                f"{', '.join(FINDING_SEVERITIES)}"
            )
    kev = _typed(t, "kev_severity", str, d.kev_severity, where, place)
    if kev not in (*FINDING_SEVERITIES, "off"):
        raise ConfigError(
            f"{where}: {place}: kev_severity {kev!r} is not one of "
            f"{', '.join(FINDING_SEVERITIES)}, off"
        )
    mc = _typed(t, "min_confidence", float, d.min_confidence, where, place)
    if not 0 <= mc <= 1:
        raise ConfigError(f"{where}: {place}: min_confidence must be between 0 and 1")
    listed = t.get("listed_makers")
    if isinstance(listed, str):  # a preset: "nil", "ndaa889" (camscan.identify.makers.presets)
        if listed.strip().lower() not in presets():
            raise ConfigError(
                f"{where}: {place}: listed_makers {listed!r} is not a preset "
                f"({', '.join(sorted(presets()))}); give a preset or a list of makers"
            )
        makers: list[str] | None = [listed]
    else:
        makers = _str_list(t, "listed_makers", where, place)
    core_sev = _typed(t, "core_any_maker_severity", str, d.core_any_maker_severity, where, place)
    if core_sev not in FINDING_SEVERITIES:
        raise ConfigError(
            f"{where}: {place}: core_any_maker_severity {core_sev!r} is not one of "
            f"{', '.join(FINDING_SEVERITIES)}"
        )
    deadlines = t.get("deadlines", {})
    if not isinstance(deadlines, dict) or not all(_is_date(v) for v in deadlines.values()):
        raise ConfigError(
            f"{where}: {place}: deadlines must be a table of zone = date, "
            "e.g. sensitive = 2027-03-31"
        )
    if makers is not None:
        makers = expand_listed(makers)
        check_makers(makers, where)
    return PolicyConfig(
        makers if makers is not None else d.listed_makers,
        mc,
        {k.lower(): v for k, v in sev.items()},
        _typed(t, "core_any_maker", bool, d.core_any_maker, where, place),
        core_sev,
        {k.lower(): v.isoformat() for k, v in deadlines.items()},
        kev,
    )


def _exception(e: Any, n: int, where: str) -> ExceptionConfig:
    place = f"exception {n}"
    if not isinstance(e, dict):
        raise ConfigError(f"{where}: {place} must be a table")
    _no_unknown(e, _EXCEPTION_KEYS, where, place)
    mac, serial = e.get("mac"), e.get("serial")
    if not mac and not serial:
        raise ConfigError(f"{where}: {place}: needs a mac or a serial to match the device")
    for key in ("reason", "accepted_by"):
        if not isinstance(e.get(key), str) or not e[key].strip():
            raise ConfigError(f"{where}: {place}: needs {key} (text)")
    expires = e.get("expires")
    if not isinstance(expires, dt.date) or isinstance(expires, dt.datetime):
        raise ConfigError(f"{where}: {place}: needs expires, a date like 2027-03-31")
    if mac is not None and not isinstance(mac, str):
        raise ConfigError(f"{where}: {place}: mac must be text")
    if serial is not None and (not isinstance(serial, str) or not serial.strip()):
        raise ConfigError(f"{where}: {place}: serial must be non-empty text")
    norm = normalise_mac(mac) if mac else None
    if mac and norm is None:
        raise ConfigError(
            f"{where}: {place}: mac {mac!r} is not a MAC address (like 44:19:b6:00:00:01)"
        )
    return ExceptionConfig(e["reason"], e["accepted_by"], expires, norm, serial)


def expired_exceptions(cfg: Config, today: dt.date | None = None) -> list[str]:
    """One warning per exception past its date: it no longer downgrades anything."""
    today = today or dt.date.today()
    return [
        f"exception {n} ({'MAC ' + e.mac if e.mac else 'serial ' + str(e.serial)}, "
        f"{e.reason}) expired on {e.expires}: it no longer applies"
        for n, e in enumerate(cfg.exceptions, 1)
        if e.expires < today
    ]


def config_warnings(cfg: Config, today: dt.date | None = None) -> list[str]:
    """What is valid but probably not meant: expired exceptions, a confidence floor below medium."""
    warnings = expired_exceptions(cfg, today)
    if cfg.policy.min_confidence < MEDIUM_CONFIDENCE:
        warnings.append(
            f"[policy] min_confidence {cfg.policy.min_confidence} is below {MEDIUM_CONFIDENCE} "
            "(medium): a single ambiguous hint can flag a device"
        )
    warnings += _snmp_warnings(cfg)
    return warnings


def _snmp_warnings(cfg: Config) -> list[str]:
    """SNMP credentials others can read, and the devices they would be sent to."""
    snmp, found = cfg.snmp, list[str]()
    if snmp is None:
        return found
    secret = snmp.community or snmp.auth_key or snmp.priv_key
    if secret and cfg.path is not None:
        try:
            readable = cfg.path.stat().st_mode & 0o044
        except OSError:
            readable = 0
        if readable:
            found.append(
                f"{cfg.path} holds SNMP credentials and other users can read it: chmod 600 it, "
                "or give them in CAMSCAN_SNMP_COMMUNITY / CAMSCAN_SNMP_AUTH_KEY / _PRIV_KEY"
            )
    if snmp.devices:
        found.append(
            "[snmp] devices = true sends the SNMP credentials to every device found; give "
            "camscan a community or user meant for that, not the routers' own"
        )
    return found
