"""camscan's one error hierarchy, and the one place errors become exit codes.

Every error a user can cause or meet is a `CamscanError` whose message is one line; the CLI
catches only that base (camscan/cli/errors.py) and exits with `exit_code_for(error)`. Anything
else that escapes is a bug and exits as an internal error.

    CamscanError
    ├── UsageError      bad arguments or targets: exit 2
    ├── DataError       a bad file, config or data set: exit 2
    ├── RunError        the run could not complete (no interface, cannot write): exit 3
    ├── ProbeFailure    one probe failed, with a `kind` a caller can act on: exit 3
    └── InternalError   a camscan bug caught at a boundary: exit 3

The lab's errors are in the tree too: a bad topology or persona file (TopologyError,
PersonaError) is a DataError, a lab that cannot be built or run (LabError, NetnsError,
EmulatorError) a RunError.

A probe failure inside a scan is recorded (model.ProbeError, with the same `kind`), never
raised past the stage: only a caller that runs a probe on its own sees `ProbeFailure`.
"""

from __future__ import annotations

import enum
import errno


class ExitCode(enum.IntEnum):
    """The documented exit codes (README "Exit codes")."""

    OK = 0  # completed, nothing flagged
    FLAGGED = 1  # at least one flagged finding
    USAGE = 2  # usage or configuration error
    FAILED = 3  # the scan failed or ended partial


class ProbeKind(enum.StrEnum):
    """Why a probe failed, in words a caller can act on (and a report can count)."""

    TIMEOUT = "timeout"  # no answer (or no complete answer) within the deadline
    REFUSED = "refused"  # the peer refused or reset the connection
    UNREACHABLE = "unreachable"  # no route, host down, network down
    PERMISSION = "permission"  # this process may not do it (e.g. no CAP_NET_RAW)
    MALFORMED = "malformed"  # the device answered, but not in the protocol
    OVERFLOW = "overflow"  # the answer exceeded a bound (bytes, depth, count)
    INTERNAL = "internal"  # a camscan bug, caught so the other results survive
    OTHER = "other"  # anything else; also every error saved before schema 1.2


class CamscanError(Exception):
    """Base of every error camscan reports; str(self) is one line."""

    exit_code: ExitCode = ExitCode.FAILED


class UsageError(CamscanError):
    """The command line or the targets are wrong."""

    exit_code = ExitCode.USAGE


class DataError(CamscanError):
    """A file, configuration or data set is invalid or unreadable."""

    exit_code = ExitCode.USAGE


class RunError(CamscanError):
    """The run itself could not complete (no usable interface, report not writable, ...)."""

    exit_code = ExitCode.FAILED


class ProbeFailure(CamscanError):
    """One probe failed; `kind` says how."""

    exit_code = ExitCode.FAILED

    def __init__(self, message: str, kind: ProbeKind = ProbeKind.OTHER) -> None:
        super().__init__(message)
        self.kind = kind


class InternalError(CamscanError):
    """A bug, caught at a boundary and reported in one line."""

    exit_code = ExitCode.FAILED


def exit_code_for(error: BaseException) -> ExitCode:
    """The exit code for an error that ended a command: its class says, else internal."""
    if isinstance(error, CamscanError):
        return error.exit_code
    return ExitCode.FAILED


_UNREACHABLE_ERRNOS = {errno.EHOSTUNREACH, errno.ENETUNREACH, errno.EHOSTDOWN, errno.ENETDOWN}


def kind_of(error: BaseException) -> ProbeKind:
    """Classify an exception a probe raised (or caught) into a ProbeKind."""
    if isinstance(error, ProbeFailure):
        return error.kind
    if isinstance(error, TimeoutError):
        return ProbeKind.TIMEOUT
    if isinstance(error, ConnectionRefusedError | ConnectionResetError | ConnectionAbortedError):
        return ProbeKind.REFUSED
    if isinstance(error, PermissionError):
        return ProbeKind.PERMISSION
    if isinstance(error, OSError) and error.errno in _UNREACHABLE_ERRNOS:
        return ProbeKind.UNREACHABLE
    if isinstance(error, MemoryError | RecursionError | OverflowError):
        return ProbeKind.OVERFLOW
    if isinstance(error, UnicodeError):
        return ProbeKind.MALFORMED
    if isinstance(error, OSError):
        return ProbeKind.OTHER
    return ProbeKind.INTERNAL
