"""A stand-in for a recorder or VMS on the lab LAN (not camscan): it searches for devices the way
SADP, ConfigTool and ONVIF tools do, then talks to each camera (web page, ISAPI/CGI, RTSP
OPTIONS/DESCRIBE, an HTTPS page at TLS 1.2). Run inside a lab's scanner namespace only:

    python tests/passive_vms.py SCANNER_IP DEVICE_IP...

Its traffic is what a mirror port hears on a camera LAN; camscan listen/import must identify
the cameras from it without sending anything.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import socket
import ssl
import sys
import time

from camscan.discovery import dhip, dvrip, mdns, sadp, ssdp, wsd
from camscan.labguard import lab_namespace_problem

HTTP_PATHS = (
    "/",
    "/doc/page/login.asp",
    "/ISAPI/System/deviceInfo",
    "/cgi-bin/magicBox.cgi?action=getMachineName",
)


def searches(scanner_ip: str) -> None:
    """The discovery searches recorders send: SADP, DHIP, DVRIP, WS-Discovery, SSDP, mDNS."""
    sends = [
        (sadp.build_probe(), ("239.255.255.250", 37020)),
        (dhip.build_search(), ("239.255.255.251", 37810)),
        (dhip.build_search(), ("255.255.255.255", 37810)),
        (dvrip.REQUEST, ("255.255.255.255", 5050)),
        (wsd.build_probe(), ("239.255.255.250", 3702)),
        (ssdp.M_SEARCH, ("239.255.255.250", 1900)),
        *(
            (q, ("224.0.0.251", 5353))
            for q in mdns.build_queries([(t, 12) for t in mdns.BROWSE_TYPES])
        ),
    ]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(scanner_ip))
        sock.bind((scanner_ip, 0))
        for payload, dest in sends:
            with contextlib.suppress(OSError):
                sock.sendto(payload, dest)
        time.sleep(1.5)  # the replies go to this port; the mirror hears them either way


def _exchange(ip: str, port: int, request: bytes, tls: bool = False) -> None:
    with contextlib.suppress(OSError), socket.create_connection((ip, port), timeout=2) as raw:
        sock: socket.socket = raw
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.maximum_version = ssl.TLSVersion.TLSv1_2  # the certificate is in the clear
            with contextlib.suppress(ValueError, ssl.SSLError):
                context.set_ciphers("ALL:@SECLEVEL=0")
            sock = context.wrap_socket(raw)
        sock.sendall(request)
        end, got = time.monotonic() + 2, 0
        while time.monotonic() < end and got < 65536 and (chunk := sock.recv(65536)):
            got += len(chunk)  # a recorder stops reading an endless reply too


def talk(ip: str) -> None:
    for path in HTTP_PATHS:
        request = f"GET {path} HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n"
        _exchange(ip, 80, request.encode())
    for method, cseq in (("OPTIONS", 1), ("DESCRIBE", 2)):
        request = (
            f"{method} rtsp://{ip}:554/Streaming/Channels/101 RTSP/1.0\r\nCSeq: {cseq}\r\n\r\n"
        )
        _exchange(ip, 554, request.encode())
    request = f"GET / HTTP/1.1\r\nHost: {ip}\r\nConnection: close\r\n\r\n"
    _exchange(ip, 443, request.encode(), tls=True)


def main(argv: list[str]) -> int:
    problem = lab_namespace_problem()
    if problem:
        print(f"passive_vms: refusing outside a lab: {problem}", file=sys.stderr)
        return 2
    scanner_ip, devices = argv[0], argv[1:]
    searches(scanner_ip)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(pool.map(talk, devices))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
