"""Save a ScanResult as the JSON contract, and load one back with one-line errors.

A saved file may be old, hand-edited or hostile: every value is type-checked before use, and
any problem becomes a ResultFileError naming the file and the place, never a traceback.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any, BinaryIO, TextIO

from camscan.contract import dump_contract
from camscan.errors import DataError, ProbeKind
from camscan.model import (
    SCHEMA_VERSION,
    Coverage,
    CveHit,
    Device,
    Equipment,
    Evidence,
    Exposure,
    ExposureStatus,
    Finding,
    Observation,
    ProbeError,
    ScanResult,
    ScanRun,
    Segment,
    Severity,
    Strength,
    Verdict,
)
from camscan.store.layout import NotInLayout, read_layout
from camscan.store.outfile import atomic_write, write_file

MAX_FILE_BYTES = 512 * 1024 * 1024  # far above any real scan; refuses to read a runaway file


class ResultFileError(DataError):
    """A result file cannot be read; the message is one line."""


_LATEST_TIMESTAMP = 32503680000.0  # 3000-01-01T00:00:00Z


class _Obj:
    """Typed access to one JSON object; `where` names it in error messages."""

    def __init__(self, data: object, where: str) -> None:
        if not isinstance(data, dict):
            raise ResultFileError(f"{where}: expected an object")
        self.data: dict[str, Any] = data
        self.where = where

    def _fail(self, key: str, want: str) -> ResultFileError:
        return ResultFileError(f"{self.where}.{key}: expected {want}")

    def text(self, key: str) -> str:
        value = self.data.get(key)
        if not isinstance(value, str):
            raise self._fail(key, "a string")
        return value

    def opt_text(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and not isinstance(value, str):
            raise self._fail(key, "a string or null")
        return value

    def number(self, key: str, default: float | None = None) -> float:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._fail(key, "a number")
        if not math.isfinite(value):  # json.loads reads NaN and Infinity
            raise self._fail(key, "a finite number")
        return float(value)

    def opt_number(self, key: str) -> float | None:
        return None if self.data.get(key) is None else self.number(key)

    def timestamp(self, key: str) -> float:
        """Seconds since the epoch, between 1970 and the year 3000 (renderable as a date)."""
        value = self.number(key)
        if not 0 <= value <= _LATEST_TIMESTAMP:
            raise self._fail(key, "a time between 1970 and 3000 (seconds since the epoch)")
        return value

    def opt_timestamp(self, key: str) -> float | None:
        return None if self.data.get(key) is None else self.timestamp(key)

    def opt_flag(self, key: str, default: bool) -> bool | None:
        """A flag that may be null (not recorded); absent: `default`."""
        return None if key in self.data and self.data[key] is None else self.flag(key, default)

    def flag(self, key: str, default: bool) -> bool:
        value = self.data.get(key, default)
        if not isinstance(value, bool):
            raise self._fail(key, "true or false")
        return value

    def items(self, key: str) -> list[Any]:
        value = self.data.get(key, [])
        if not isinstance(value, list):
            raise self._fail(key, "a list")
        return value

    def texts(self, key: str) -> list[str]:
        values = self.items(key)
        if not all(isinstance(v, str) for v in values):
            raise self._fail(key, "a list of strings")
        return values

    def objs(self, key: str) -> list[_Obj]:
        return [_Obj(v, f"{self.where}.{key}[{i}]") for i, v in enumerate(self.items(key))]

    def obj(self, key: str) -> _Obj:
        return _Obj(self.data.get(key), f"{self.where}.{key}")

    def text_map(self, key: str, values: type = str) -> dict[str, Any]:
        value = self.data.get(key, {})
        if not isinstance(value, dict) or not all(isinstance(v, values) for v in value.values()):
            raise self._fail(key, f"an object of {values.__name__} values")
        return {str(k): v for k, v in value.items()}

    def choice(
        self, key: str, enum: type[Severity] | type[Strength] | type[ProbeKind], default: str = ""
    ) -> Any:
        value = self.text(key) if default == "" or key in self.data else default
        try:
            return enum(value)
        except ValueError:
            choices = ", ".join(e.value for e in enum)
            raise self._fail(key, f"one of {choices}") from None


def _probe_error(o: _Obj) -> ProbeError:
    return ProbeError(
        probe=o.text("probe"),
        target=o.opt_text("target"),
        error=o.text("error"),
        kind=o.choice("kind", ProbeKind, ProbeKind.OTHER),  # schema 1.2; older files: "other"
    )


def _run(o: _Obj) -> ScanRun:
    stats = o.text_map("stats", int)
    if any(isinstance(v, bool) for v in stats.values()):
        raise o._fail("stats", "an object of int values")
    return ScanRun(
        targets=o.texts("targets"),
        probes=o.texts("probes"),
        started=o.timestamp("started"),
        ended=o.opt_timestamp("ended"),
        interfaces=o.texts("interfaces"),
        privileged=o.opt_flag("privileged", True),
        partial=o.flag("partial", False),
        errors=[_probe_error(e) for e in o.objs("errors")],
        stats=stats,
        camscan_version=o.opt_text("camscan_version") or "",
        resolved=_resolved(o),
        excluded=o.texts("excluded"),
        scanner_host=o.opt_text("scanner_host") or "",
        data_versions=o.text_map("data_versions"),
        coverage=[_coverage(c) for c in o.objs("coverage")],
        not_covered=o.texts("not_covered"),
        stopped=o.opt_text("stopped"),
        warnings=o.texts("warnings"),
        site=o.opt_text("site"),
        args=o.opt_text("args"),
    )


def _count(o: _Obj, key: str) -> int:
    value = o.number(key, 0)
    if value < 0 or value != int(value):
        raise o._fail(key, "a whole number >= 0")
    return int(value)


def _coverage(o: _Obj) -> Coverage:
    return Coverage(
        target=o.text("target"),
        network=o.text("network"),
        method=o.text("method"),
        interface=o.opt_text("interface"),
        segments=o.texts("segments"),
        planned=_count(o, "planned"),
        probed=_count(o, "probed"),
        answered=_count(o, "answered"),
        probes=o.texts("probes"),
        failed=o.texts("failed"),
        covered=o.flag("covered", False),
        note=o.opt_text("note") or "",
    )


def _resolved(o: _Obj) -> dict[str, list[str]]:
    names = o.text_map("resolved", list)
    if not all(isinstance(a, str) for addresses in names.values() for a in addresses):
        raise o._fail("resolved", "an object of lists of strings")
    return names


def _shared(text: str) -> str:
    """One copy of a value many devices repeat (a channel, an address, a signature's
    description, a common banner), not one per observation: bench import_large's 65,000-device
    result loads in 440 MB instead of 850 (real results repeat less: MACs, serials)."""
    return sys.intern(text) if len(text) <= _SHARED_CHARS else text


def _opt_shared(text: str | None) -> str | None:
    return None if text is None else _shared(text)


_SHARED_CHARS = 512


def _evidence(o: _Obj) -> Evidence:
    return Evidence(
        signature_id=_shared(o.text("signature_id")),
        channel=_shared(o.text("channel")),
        raw=_shared(o.text("raw")),
        maker=_opt_shared(o.opt_text("maker")),
        strength=o.choice("strength", Strength),
        badge=_opt_shared(o.opt_text("badge")),
        captured=o.text_map("captured"),
        description=_shared(o.opt_text("description") or ""),
        probe=_shared(o.opt_text("probe") or ""),
        equipment=_opt_shared(o.opt_text("class")),
        equipment_strength=o.choice("class_strength", Strength)
        if o.data.get("class_strength")
        else None,
    )


def _equipment(o: _Obj) -> Equipment:
    """The device's class (added in 1.6; an older result's devices have none: unknown)."""
    if o.data.get("equipment") is None:
        return Equipment()
    e = o.obj("equipment")
    channels = o.opt_number("recorder_channels")
    return Equipment(
        kind=e.opt_text("class") or "unknown",
        surveillance=e.opt_text("surveillance") or "unknown",
        confidence=e.number("confidence", 0.0),
        confidence_label=e.opt_text("confidence_label") or "none",
        evidence=e.texts("evidence"),
        conflicts=e.texts("conflicts"),
        channels=int(channels) if channels is not None else None,
        summary=e.opt_text("summary") or "",
    )


def _observation(o: _Obj) -> Observation:
    return Observation(
        channel=_shared(o.text("channel")),
        raw=_shared(o.text("raw")),
        probe=_shared(o.text("probe")),
        ip=_opt_shared(o.opt_text("ip")),
        mac=_opt_shared(o.opt_text("mac")),
        fields=o.text_map("fields"),
        at=o.opt_timestamp("at") or 0.0,
    )


def _device(o: _Obj) -> Device:
    confidence = o.number("confidence", 0.0)
    if not 0.0 <= confidence <= 1.0:
        raise o._fail("confidence", "a number from 0 to 1")
    verdict = Verdict(
        maker=o.opt_text("maker"),
        badge=o.opt_text("brand"),
        model=o.opt_text("model"),
        firmware=o.opt_text("firmware"),
        serial=o.opt_text("serial"),
        confidence=confidence,
        confidence_label=o.opt_text("confidence_label") or "none",
        evidence=[_evidence(e) for e in o.objs("evidence")],
        conflicts=o.texts("conflicts"),
        summary=o.opt_text("summary") or "",
        equipment=_equipment(o),
    )
    return Device(
        ip=o.text("ip"),
        mac=o.opt_text("mac"),
        mac_source=o.opt_text("mac_source"),
        interface=o.opt_text("interface"),
        in_scope=o.flag("in_scope", True),
        oui_vendor=o.opt_text("oui_vendor"),
        observations=[_observation(x) for x in o.objs("observations")],
        verdict=verdict,
        probe_errors=[_probe_error(e) for e in o.objs("probe_errors")],
        exposure=_exposure(o.obj("exposure")) if o.data.get("exposure") is not None else None,
        ipv6=o.texts("ipv6") if "ipv6" in o.data else [],  # 1.9
        ipv6_reported=o.texts("ipv6_reported") if "ipv6_reported" in o.data else [],  # 1.12
    )


def _exposure(o: _Obj) -> Exposure:
    try:
        status = ExposureStatus(o.text("status"))
    except ValueError:
        raise o._fail("status", "one of " + ", ".join(s.value for s in ExposureStatus)) from None
    return Exposure(
        status=status,
        summary=o.text("summary"),
        version=o.opt_text("version"),
        note=o.opt_text("note") or "",
        hits=tuple(
            CveHit(
                cve=h.text("cve"),
                advisory=h.opt_text("advisory") or "",
                title=h.opt_text("title") or "",
                severity=h.opt_text("severity") or "",
                cvss=h.opt_number("cvss"),
                fixed=h.opt_text("fixed") or "",
                source=h.opt_text("source") or "",
                kev=h.flag("kev", False),
                kev_added=h.opt_text("kev_added"),
                kev_due=h.opt_text("kev_due"),
                kev_action=h.opt_text("kev_action"),
                note=h.opt_text("note") or "",
            )
            for h in o.objs("cves")
        ),
    )


def _out_of_scope(device: Device) -> Device:
    device.in_scope = False
    return device


def _finding(o: _Obj) -> Finding:
    return Finding(
        device_ip=o.text("device_ip"),
        device_mac=o.opt_text("device_mac"),
        maker=o.opt_text("maker"),
        segment=o.opt_text("segment"),
        zone=o.opt_text("zone"),
        severity=o.choice("severity", Severity),
        flagged=o.flag("flagged", False),
        rationale=o.opt_text("rationale") or "",
        exception=o.opt_text("exception"),
        segment_by=o.opt_text("segment_by"),
        finding_type=o.opt_text("finding_type"),
        deadline=o.opt_text("deadline"),
        overdue=o.flag("overdue", False),
        exposure=o.opt_text("exposure"),
    )


def _segment(o: _Obj) -> Segment:
    return Segment(
        name=o.text("name"),
        cidrs=o.texts("cidrs"),
        zone=o.text("zone"),
        interfaces=o.texts("interfaces"),
        deadline=o.opt_text("deadline"),
    )


def result_from_contract(data: object) -> ScanResult:
    """Rebuild a ScanResult from contract data; raises ResultFileError (one line)."""
    return _result(data)


_DEVICE_KEYS = ("devices", "out_of_scope")


def _result(data: object, read: dict[str, list[Device]] | None = None) -> ScanResult:
    """`read`: the devices and out_of_scope lists already rebuilt (by _streamed)."""
    top = _Obj(data, "result")
    version = top.text("schema_version")
    major = SCHEMA_VERSION.split(".")[0]
    if version.split(".")[0] != major:
        raise ResultFileError(
            f"schema_version {version!r} cannot be read by this camscan (it reads {major}.x)"
        )
    if read is None:
        read = {key: [_device(d) for d in top.objs(key)] for key in _DEVICE_KEYS}
    return ScanResult(
        run=_run(top.obj("run")),
        devices=read["devices"] + [_out_of_scope(d) for d in read["out_of_scope"]],
        findings=[_finding(f) for f in top.objs("findings")],
        segments=[_segment(s) for s in top.objs("segments")],
        policy=top.data["policy"] if isinstance(top.data.get("policy"), dict) else {},
    )


def atomic_write_text(path: Path, text: str) -> None:
    def write(out: TextIO) -> None:
        out.write(text)

    atomic_write(path, write)


def save_result(result: ScanResult, path: Path) -> None:
    """Write atomically (streamed: a large result is never held whole as text)."""
    write_file(path, lambda out: dump_contract(result, out))


def load_result(path: Path | str, *, own: bool = False) -> ScanResult:
    """`own`: a file camscan wrote itself (a spooled run), read whatever its size."""
    path = Path(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES and not own:
            raise ResultFileError(f"{path}: larger than {MAX_FILE_BYTES} bytes, not a result")
        if (streamed := _streamed(path)) is not None:
            return streamed
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ResultFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except UnicodeDecodeError:
        raise ResultFileError(f"{path}: not UTF-8 text, not a camscan result") from None
    return parse_result(text, str(path))


def _streamed(path: Path) -> ScanResult | None:
    """The result read line by line, each device rebuilt as its line is read (memory: the
    result, not its text and its parsed JSON besides); None for a file in another layout or
    with any problem, which the whole-file reader then reads or names."""

    def record(key: str, index: int, value: Any) -> Any:
        if key in _DEVICE_KEYS:
            return _device(_Obj(value, f"result.{key}[{index}]"))
        return value

    try:
        with path.open(encoding="utf-8") as lines:
            data = read_layout(lines, record)
        read = {key: data.pop(key, []) for key in _DEVICE_KEYS}
        if not all(isinstance(d, Device) for devices in read.values() for d in devices):
            return None  # a list written on one line: not the layout, read it whole
        return _result(data, read)
    except (NotInLayout, ResultFileError, UnicodeDecodeError, TypeError):
        return None


def read_result_stream(stream: BinaryIO, where: str = "standard input") -> ScanResult:
    """A result piped in (`camscan report -`), bounded like a file."""
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ResultFileError(f"{where}: larger than {MAX_FILE_BYTES} bytes, not a result")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise ResultFileError(f"{where}: not UTF-8 text, not a camscan result") from None
    return parse_result(text, where)


def parse_result(text: str, path: str) -> ScanResult:
    """The contract's text to a ScanResult; errors name `path` and fit on one line."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ResultFileError(
            f"{path}: not JSON (line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from None
    except RecursionError:
        raise ResultFileError(f"{path}: JSON nested too deeply") from None
    try:
        return result_from_contract(data)
    except ResultFileError as exc:
        raise ResultFileError(f"{path}: {exc}") from None
