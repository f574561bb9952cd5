"""Self-signed certificates carrying a persona's subject and issuer, cached across runs.

    [tls]
    subject = "CN=www.hikvision.com,OU=DVRNVR,O=HIKVISION,L=HangZhou,ST=ZheJiang,C=CN"
    issuer = "..."   # optional, defaults to the subject

EC P-256 keys: generating one takes milliseconds, and the cache makes later labs free.
"""

from __future__ import annotations

import datetime
import hashlib
import os
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "camscan" / "lab-tls"


def ensure_cert(persona: str, conf: dict[str, Any]) -> tuple[str, str]:
    """(cert path, key path) for a persona's [tls] table, generated once and cached."""
    subject_text = str(conf.get("subject", f"CN={persona}"))
    issuer_text = str(conf.get("issuer", subject_text))
    tag = hashlib.sha256(f"{persona}|{subject_text}|{issuer_text}".encode()).hexdigest()[:16]
    directory = cache_dir()
    cert_path, key_path = directory / f"{persona}-{tag}.crt", directory / f"{persona}-{tag}.key"
    if cert_path.is_file() and key_path.is_file():
        return str(cert_path), str(key_path)
    key = ec.generate_private_key(ec.SECP256R1())
    # Cameras ship certificates valid for years from a fixed date (signatures.md 2.9).
    not_before = datetime.datetime(2019, 12, 17, tzinfo=datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name.from_rfc4514_string(subject_text))
        .issuer_name(x509.Name.from_rfc4514_string(issuer_text))
        .public_key(key.public_key())
        .serial_number(int(tag, 16))
        .not_valid_before(not_before)
        .not_valid_after(datetime.datetime(2037, 12, 31, tzinfo=datetime.UTC))
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    tmp_key, tmp_cert = (
        key_path.with_suffix(f".{os.getpid()}.k"),
        cert_path.with_suffix(f".{os.getpid()}.c"),
    )
    tmp_key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    tmp_key.chmod(0o600)
    tmp_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp_key, key_path)  # atomic: concurrent labs never read half a file
    os.replace(tmp_cert, cert_path)
    return str(cert_path), str(key_path)
