"""hypothesis fuzzing of every offline command's input (issue 11): `identify`, `import`,
`report` and `config check` are fed generated and mutated files through the real CLI, and the
parsers they rest on are fed the same directly. The contract: a result or a one-line error,
never a traceback, never an internal error.

Budget: FUZZ_EXAMPLES examples per test (CI: the default, a few seconds each); raise it locally
with CAMSCAN_FUZZ_EXAMPLES=2000 for a long run.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from camscan.cli.main import app

FUZZ_EXAMPLES = int(os.environ.get("CAMSCAN_FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=FUZZ_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run_cli(*args: str, stdin: bytes | None = None) -> tuple[int, str]:
    r = CliRunner().invoke(app, list(args), input=stdin, prog_name="camscan")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception  # escaped the CLI's error boundary: a traceback for the user
    assert "internal error" not in r.stderr, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    assert r.exit_code in (0, 1, 2, 3), (r.exit_code, r.stderr)
    if r.exit_code == 2:
        assert r.stderr.count("\n") >= 1
        assert r.stderr.splitlines()[-1].startswith("camscan: error: "), r.stderr
    return r.exit_code, r.stdout


def in_file(data: bytes, suffix: str) -> Path:
    fd, name = tempfile.mkstemp(suffix=suffix, prefix="camscan-fuzz-")
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return Path(name)


def mutate(data: bytes, cuts: list[tuple[int, bytes]]) -> bytes:
    """Overwrite, insert or truncate at a few positions."""
    out = bytearray(data)
    for pos, chunk in cuts:
        at = pos % (len(out) + 1)
        if not chunk:
            del out[at:]
        else:
            out[at:at] = chunk
    return bytes(out)


CUTS = st.lists(st.tuples(st.integers(0, 1 << 16), st.binary(max_size=12)), max_size=4)
TEXTISH = st.one_of(
    st.text(max_size=40),
    st.sampled_from(["", "\x00", "\ufeff", "{", "}", "[", "]", '"', "\\", "&a;", "<!--", "\r\n"]),
)

# --- identify ---------------------------------------------------------------------------------

CHANNELS = ["http.header.server", "sadp.reply", "dhip.reply", "tcp.open", "arp.mac", "nope.*"]
JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
OBSERVATION = st.fixed_dictionaries(
    {"channel": st.sampled_from(CHANNELS), "raw": st.text(max_size=60)},
    optional={
        "ip": st.one_of(st.sampled_from(["192.0.2.7", "::1", "300.1.1.1"]), JSON_VALUES),
        "mac": st.one_of(st.sampled_from(["44:19:b6:00:00:01", "zz"]), JSON_VALUES),
        "fields": st.one_of(st.dictionaries(st.text(max_size=8), st.text(max_size=8)), JSON_VALUES),
        "probe": JSON_VALUES,
    },
)
JSONL_LINE = st.one_of(
    OBSERVATION.map(lambda o: json.dumps(o, allow_nan=True)),
    JSON_VALUES.map(lambda v: json.dumps(v, allow_nan=True)),
    TEXTISH,
)


@FUZZ
@given(lines=st.lists(JSONL_LINE, max_size=8), cuts=CUTS)
def test_identify_never_tracebacks(lines: list[str], cuts: list[tuple[int, bytes]]) -> None:
    data = mutate("\n".join(lines).encode("utf-8", "surrogatepass"), cuts)
    run_cli("identify", "-f", "json", stdin=data)


@FUZZ
@given(
    head=st.sampled_from(["HTTP/1.1 200 OK", "RTSP/1.0 401 Unauthorized", "HTTP/1.0 302", ""]),
    rest=st.lists(TEXTISH, max_size=10),
    cuts=CUTS,
)
def test_identify_banners_never_traceback(
    head: str, rest: list[str], cuts: list[tuple[int, bytes]]
) -> None:
    data = mutate(("\r\n".join([head, *rest])).encode("utf-8", "surrogatepass"), cuts)
    run_cli("identify", stdin=data)


# --- import -----------------------------------------------------------------------------------

NMAP_HOST = (
    '<host><status state="up"/><address addr="{ip}" addrtype="ipv4"/>'
    '<address addr="{mac}" addrtype="mac" vendor="{vendor}"/>'
    '<ports><port protocol="tcp" portid="{port}"><state state="open"/>'
    '<service name="http" product="{product}" servicefp="{fp}"/>'
    '<script id="{script}" output="{output}"><elem key="title">{output}</elem></script>'
    "</port></ports></host>"
)
XML_TEXT = st.text(st.characters(blacklist_categories=["Cs"]), max_size=30).map(
    lambda t: t.replace("&", "&amp;").replace("<", "&lt;").replace('"', "&quot;")
)


@st.composite
def nmap_documents(draw: st.DrawFn) -> bytes:
    hosts = draw(
        st.lists(
            st.fixed_dictionaries(
                {
                    "ip": st.sampled_from(["198.18.0.5", "::1", "", "x"]),
                    "mac": st.sampled_from(["44:19:B6:00:00:01", "zz", ""]),
                    "vendor": XML_TEXT,
                    "port": st.sampled_from(["80", "-1", "", "99999999999"]),
                    "product": XML_TEXT,
                    "fp": st.sampled_from(
                        [
                            "",
                            'SF:r(GetRequest,10,"HTTP/1.0\\x20200\\r\\n");',
                            'SF:r(NULL,2,"\\xff")',
                        ]
                    ),
                    "script": st.sampled_from(["http-title", "ssl-cert", "http-favicon", "x"]),
                    "output": XML_TEXT,
                }
            ),
            max_size=4,
        )
    )
    body = "".join(NMAP_HOST.format(**h) for h in hosts)
    doc = f'<?xml version="1.0"?><!DOCTYPE nmaprun><nmaprun scanner="nmap">{body}</nmaprun>'
    return mutate(doc.encode(), draw(CUTS))


@FUZZ
@given(doc=nmap_documents())
def test_import_never_tracebacks(doc: bytes) -> None:
    path = in_file(doc, ".xml")
    try:
        run_cli("import", "-f", "json", str(path))
    finally:
        path.unlink()


@FUZZ
@given(doc=st.binary(max_size=512))
def test_import_of_random_bytes_from_stdin_never_tracebacks(doc: bytes) -> None:
    run_cli("import", "-", stdin=doc)


# --- report -----------------------------------------------------------------------------------


def _saved_result() -> dict[str, Any]:
    line = json.dumps({"channel": "http.header.server", "raw": "Hikvision-Webs", "ip": "192.0.2.7"})
    r = CliRunner().invoke(app, ["identify", "-f", "json"], input=line, prog_name="camscan")
    loaded: dict[str, Any] = json.loads(r.stdout)
    return loaded


SAVED = _saved_result()


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            found += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            found += _paths(v, (*prefix, i))
    return found


PATHS = _paths(SAVED)[1:]


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replace(copy[path[0]], path[1:], value)
    return copy


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(PATHS),
            st.one_of(JSON_VALUES, st.sampled_from([1e300, float("nan"), -1, 2**70, "", []])),
        ),
        min_size=1,
        max_size=3,
    )
)
def test_report_of_a_mutated_saved_result_never_tracebacks(
    edits: list[tuple[tuple[Any, ...], Any]],
) -> None:
    doc: Any = SAVED
    for path, value in edits:
        try:
            doc = _replace(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier edit removed the place
    saved = in_file(json.dumps(doc, allow_nan=True).encode(), ".json")
    try:
        for fmt in ("table", "json", "csv", "html"):
            run_cli("report", "-f", fmt, str(saved))
    finally:
        saved.unlink()


# --- config check -----------------------------------------------------------------------------

TOML_PIECES = st.sampled_from(
    [
        "[[segment]]\n",
        'name = "a"\n',
        'name = "b"\n',
        'zone = "core"\n',
        "zone = 1\n",
        'cidrs = ["10.0.0.0/24"]\n',
        'cidrs = ["10.0.0.0/8", "10.1.0.0/16"]\n',
        'cidrs = ["300.0.0.0/8"]\n',
        "cidrs = []\n",
        "[scan]\n",
        "timeout = 0\n",
        "read_timeout = 1e400\n",
        "rate = -5\n",
        "discovery_window = nan\n",
        "[policy]\n",
        "min_confidence = 2\n",
        'severity = { core = "bogus" }\n',
        "[[exception]]\n",
        'mac = "zz"\n',
        "expires = 2027-03-31\n",
        'reason = "r"\n',
        'accepted_by = "x"\n',
        "x = " + "[" * 40 + "]" * 40 + "\n",
        "[output]\n",
        'format = "xml"\n',
        "= = =\n",
    ]
)


@FUZZ
@given(pieces=st.lists(TOML_PIECES, max_size=12), cuts=CUTS)
def test_config_check_never_tracebacks(pieces: list[str], cuts: list[tuple[int, bytes]]) -> None:
    path = in_file(mutate("".join(pieces).encode(), cuts), ".toml")
    try:
        run_cli("config", "check", str(path))
    finally:
        path.unlink()
