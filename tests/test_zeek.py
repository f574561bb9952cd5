"""`camscan import` of Zeek logs (TSV and JSON, one file or a log directory): the same channels
a capture gives, attributed to the host Zeek logged; bad input is one line or skipped lines."""

from __future__ import annotations

import io
import json
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from camscan.cli.main import app
from camscan.discovery.ingest import IngestError
from camscan.discovery.passive.zeek import read_logs

SUBJECT = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
SOFTWARE_TSV = (
    "#separator \\x09\n#set_separator\t,\n#empty_field\t(empty)\n#unset_field\t-\n#path\tsoftware\n"
    "#fields\tts\thost\thost_p\tsoftware_type\tname\tunparsed_version\n"
    "#types\ttime\taddr\tport\tenum\tstring\tstring\n"
    "1700000000.0\t198.18.40.10\t80\tHTTP::SERVER\tHikvision-Webs\tHikvision-Webs\n"
    "1700000000.0\t198.18.40.11\t-\tHTTP::BROWSER\tcurl\tcurl/7.88\n"
    "1700000001.0\t198.18.40.10\t80\tHTTP::SERVER\tHikvision-Webs\tHikvision-Webs\n"
    "a line with the wrong number of fields\n"
    "#close\t2024-01-01-01-00-00\n"
)


def _write(folder: Path) -> None:
    (folder / "software.log").write_text(SOFTWARE_TSV)
    ssl = {"id.resp_h": "198.18.40.12", "id.resp_p": 443, "cert_chain_fps": ["fp1", "fp2"]}
    (folder / "ssl.log").write_text(json.dumps(ssl) + "\n")
    cert = {"fingerprint": "fp1", "certificate.subject": SUBJECT, "certificate.issuer": SUBJECT}
    (folder / "x509.log").write_text(json.dumps(cert) + "\n")
    lease = {"mac": "3c:ef:8c:00:00:01", "assigned_addr": "198.18.40.13", "host_name": "IPC"}
    (folder / "dhcp.log").write_text(json.dumps(lease) + "\nnot json\n")
    (folder / "conn.log").write_text("{}\n")  # not read


def test_a_log_directory_gives_the_channels_a_capture_gives(tmp_path: Path) -> None:
    _write(tmp_path)
    done = CliRunner().invoke(app, ["import", str(tmp_path), "-f", "json"])
    assert done.exit_code == 3, done.output
    doc = json.loads(done.stdout)
    by_ip = {d["ip"]: d for d in doc["devices"]}
    assert set(by_ip) == {"198.18.40.10", "198.18.40.12", "198.18.40.13"}  # not the browser
    assert by_ip["198.18.40.10"]["maker"] == "hikvision"  # Server: Hikvision-Webs, once
    assert [o["channel"] for o in by_ip["198.18.40.10"]["observations"]] == ["http.header.server"]
    tls = by_ip["198.18.40.12"]  # the certificate, tied to its server through ssl.log
    assert tls["maker"] == "hikvision" and tls["observations"][0]["raw"] == SUBJECT
    assert by_ip["198.18.40.13"]["mac"] == "3c:ef:8c:00:00:01"
    assert doc["run"]["coverage"][0]["method"] == "passive"
    assert "Zeek log records" in doc["run"]["not_covered"][0]


def test_a_single_log_and_standard_input(tmp_path: Path) -> None:
    (tmp_path / "software.log").write_text(SOFTWARE_TSV)
    done = CliRunner().invoke(app, ["import", str(tmp_path / "software.log"), "-f", "json"])
    assert done.exit_code == 3 and json.loads(done.stdout)["devices"][0]["maker"] == "hikvision"
    done = CliRunner().invoke(app, ["import", "-", "-f", "json"], input=SOFTWARE_TSV)
    assert done.exit_code == 3, done.output


def test_a_directory_without_zeek_logs_is_one_line(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["import", str(tmp_path)])
    assert done.exit_code == 2 and "no Zeek log camscan reads" in done.output


def test_a_zeek_header_without_fields_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "x.log").write_text("#separator \\x09\n#path\tsoftware\n")
    done = CliRunner().invoke(app, ["import", str(tmp_path / "x.log")])
    assert done.exit_code == 2 and "without a #fields header" in done.output


@settings(max_examples=200, deadline=None)
@given(body=st.binary(max_size=400), json_mode=st.booleans())
def test_any_log_body_reads_without_raising(body: bytes, json_mode: bool) -> None:
    head = b'{"unparsed_version": "x"}\n' if json_mode else SOFTWARE_TSV.encode()[:200]
    try:  # only the one-line ingest error may escape
        read_logs([("fuzz", io.BytesIO(head + body))])
    except IngestError as e:
        message = str(e)
        assert "\n" not in message
