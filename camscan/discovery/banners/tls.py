"""HTTPS banner probe: handshake without verification, read the certificate, then GET /.

The certificate is what we came for (Hikvision units ship a firmware-baked subject such as
O=HIKVISION, OU=DVRNVR), so nothing is verified and old protocol versions and ciphers are
allowed: the probe sends no secrets, and many cameras only speak TLS 1.0 with weak ciphers.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ssl

from cryptography import x509

from camscan import channels
from camscan.discovery.banners.http import get_into
from camscan.discovery.banners.limits import Limits
from camscan.discovery.banners.tcpports import ProbeFailure, close, describe_oserror, open_tcp
from camscan.errors import ProbeKind, kind_of
from camscan.model import Observation

_OP_LEGACY_SERVER_CONNECT = 0x4  # ssl.OP_LEGACY_SERVER_CONNECT, named only from Python 3.12


@functools.cache
def client_context() -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.options |= _OP_LEGACY_SERVER_CONNECT
    try:
        context.set_ciphers("ALL:@SECLEVEL=0")
    except ssl.SSLError:
        context.set_ciphers("ALL")
    return context


def names_of(der: bytes) -> tuple[str, str]:
    """(subject, issuer) as RFC 4514 strings; ProbeFailure if the certificate does not parse."""
    try:
        cert = x509.load_der_x509_certificate(der)
        return cert.subject.rfc4514_string(), cert.issuer.rfc4514_string()
    except (ValueError, TypeError) as exc:
        reason = " ".join(str(exc).split())[:120]
        raise ProbeFailure(f"unparsable certificate: {reason}") from None


async def start_tls(writer: asyncio.StreamWriter, limits: Limits) -> None:
    # Our own timeout, not only asyncio's ssl_handshake_timeout: that one ends the handshake
    # with a ConnectionAbortedError, which reads as a refusal rather than a device that stalled.
    try:
        async with asyncio.timeout(limits.read_timeout):
            await writer.start_tls(client_context(), ssl_handshake_timeout=limits.read_timeout + 1)
    except TimeoutError:
        stalled = f"TLS handshake stalled for {limits.read_timeout:.1f}s"
        raise ProbeFailure(stalled, ProbeKind.TIMEOUT) from None
    except ssl.SSLError as exc:
        reason = exc.reason or describe_oserror(exc)
        raise ProbeFailure(f"TLS handshake failed: {reason}") from None
    except OSError as exc:
        raise ProbeFailure(f"TLS handshake failed: {describe_oserror(exc)}", kind_of(exc)) from None


async def probe_https(ip: str, port: int, limits: Limits, out: list[Observation]) -> bool:
    """tls.subject / tls.issuer from the peer certificate, then the http.* of GET /."""
    reader, writer = await open_tcp(ip, port, limits)
    try:
        await start_tls(writer, limits)
        tls_object = writer.get_extra_info("ssl_object")
        der = tls_object.getpeercert(binary_form=True) if tls_object is not None else None
        cert_problem: ProbeFailure | None = None
        if der:
            try:
                subject, issuer = names_of(der)
            except ProbeFailure as exc:
                cert_problem = exc  # still worth the GET below; reported after it
                subject = issuer = ""
            fields = {
                channels.FIELD_PORT: str(port),
                "sha256": hashlib.sha256(der).hexdigest(),
            }
            named = ((channels.TLS_SUBJECT, subject), (channels.TLS_ISSUER, issuer))
            for channel, name in named if cert_problem is None else ():
                out.append(
                    Observation(
                        channel=channel,
                        raw=name,
                        probe=f"https:{port}",
                        ip=ip,
                        fields=dict(fields),
                    )
                )
        await get_into(reader, writer, ip, "https", port, "/", limits, out)
        if cert_problem is not None:
            raise cert_problem
    finally:
        close(writer)
    return True
