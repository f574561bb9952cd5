"""A synthetic camera-LAN capture for the passive benchmark: mostly RTP video, some discovery
replies, HTTP/RTSP responses and ARP, written as a pcap of about the size asked for.

    python -m bench.pcap_mix OUT.pcap --mb 1024

The mix per 1,000 packets: ~955 RTP datagrams (1,200-1,400 bytes, 40 streams), 20 RTSP
interleaved video segments over TCP, 10 ACKs from the recorder, and 15 that can carry evidence
(ARP, SADP/DHIP/WS-Discovery/SSDP/mDNS replies, HTTP and RTSP 401s with their requests), from
`CAMERAS` cameras on 198.18.50.0/24, half Hikvision, half Dahua. Only lab addresses appear.
"""

from __future__ import annotations

import argparse
import random
import struct
from pathlib import Path

CAMERAS = 40
VMS_IP, VMS_MAC = "198.18.50.1", "02:00:00:00:50:01"
CHUNK_PACKETS = 1000


def _mac(text: str) -> bytes:
    return bytes.fromhex(text.replace(":", ""))


def _ip(text: str) -> bytes:
    return bytes(int(x) for x in text.split("."))


def _ether(src: str, dst: str, ethertype: int, payload: bytes) -> bytes:
    return _mac(dst) + _mac(src) + struct.pack("!H", ethertype) + payload


def _ipv4(src: str, dst: str, proto: int, payload: bytes) -> bytes:
    return (
        struct.pack(
            "!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0x4000, 64, proto, 0, _ip(src), _ip(dst)
        )
        + payload
    )


def udp(src: str, mac: str, dst: str, sport: int, dport: int, data: bytes) -> bytes:
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    return _ether(mac, "01:00:5e:7f:ff:fa", 0x0800, _ipv4(src, dst, 17, seg))


def tcp(src: str, mac: str, dst: str, sport: int, dport: int, data: bytes, seq: int) -> bytes:
    seg = struct.pack("!HHIIBBHHH", sport, dport, seq, 1, 0x50, 0x18, 65535, 0, 0) + data
    return _ether(mac, VMS_MAC, 0x0800, _ipv4(src, dst, 6, seg))


def camera(i: int) -> tuple[str, str, str]:
    """(ip, mac, maker) of camera i."""
    ip = f"198.18.50.{10 + i}"
    if i % 2 == 0:
        return ip, f"58:50:ed:00:50:{i:02x}", "hikvision"
    return ip, f"3c:ef:8c:00:50:{i:02x}", "dahua"


def evidence(i: int) -> list[bytes]:
    ip, mac, maker = camera(i)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 2) + _mac(mac) + _ip(ip) + b"\0" * 10
    frames = [_ether(mac, "ff:ff:ff:ff:ff:ff", 0x0806, arp)]
    if maker == "hikvision":
        sadp = (
            '<?xml version="1.0" encoding="UTF-8"?><ProbeMatch><Uuid>B</Uuid><Types>inquiry'
            "</Types><DeviceDescription>DS-2CD2385G1-I</DeviceDescription><DeviceSN>DS-2CD238"
            f"5G1-I20200414AAWR{100000000 + i}</DeviceSN><MAC>{mac.replace(':', '-')}</MAC>"
            "<CommandPort>8000</CommandPort></ProbeMatch>"
        )
        frames.append(udp(ip, mac, "239.255.255.250", 37020, 37020, sadp.encode()))
        realm = f'Digest realm="IP Camera(C{2000 + i})", nonce="ab", stale="FALSE"'
        head = f"HTTP/1.1 401 Unauthorized\r\nServer: Hikvision-Webs\r\nWWW-Authenticate: {realm}"
        body = b"<html><head><title>Document Error: Unauthorized</title></head></html>"
        reply = f"{head}\r\nContent-Length: {len(body)}\r\n\r\n".encode() + body
        frames.append(
            tcp(
                VMS_IP,
                VMS_MAC,
                ip,
                40000 + i,
                80,
                b"GET /ISAPI/System/deviceInfo HTTP/1.1\r\n\r\n",
                1,
            )
        )
        frames.append(tcp(ip, mac, VMS_IP, 80, 40000 + i, reply, 1))
    else:
        body = (
            '{"method":"client.notifyDevInfo","params":{"deviceInfo":{"DeviceType":"IPC-HDW1230T'
            f'1","SerialNo":"4M0747EPAA{i:05d}","Vendor":"Dahua"}}}},"mac":"{mac}"}}'
        ).encode()
        header = struct.pack("<I4sIIIIII", 0x20, b"DHIP", 0, 0, len(body), 0, len(body), 0)
        frames.append(udp(ip, mac, "239.255.255.251", 37810, 37810, header + body))
        realm = f'Digest realm="Login to ND0218110{i:05d}", nonce="1"'
        reply = f"RTSP/1.0 401 Unauthorized\r\nCSeq: 2\r\nWWW-Authenticate: {realm}\r\n\r\n"
        frames.append(
            tcp(VMS_IP, VMS_MAC, ip, 41000 + i, 554, b"DESCRIBE rtsp://x/ RTSP/1.0\r\n\r\n", 1)
        )
        frames.append(tcp(ip, mac, VMS_IP, 554, 41000 + i, reply.encode(), 1))
    mdns = struct.pack(">6H", 0, 0x8400, 0, 0, 0, 0)  # an empty response: heard and dropped
    frames.append(udp(ip, mac, "224.0.0.251", 5353, 5353, mdns))
    ssdp = (
        f"NOTIFY * HTTP/1.1\r\nNTS: ssdp:alive\r\nSERVER: Linux UPnP/1.0 cam{i}\r\n"
        f"USN: uuid:{i}\r\n\r\n"
    )
    frames.append(udp(ip, mac, "239.255.255.250", 1900, 1900, ssdp.encode()))
    return frames


def chunk(rng: random.Random, seq: int) -> list[bytes]:
    """CHUNK_PACKETS frames in the mix above."""
    frames: list[bytes] = []
    special = [f for i in rng.sample(range(CAMERAS), 2) for f in evidence(i)][:15]
    for n in range(CHUNK_PACKETS - len(special)):
        i = n % CAMERAS
        ip, mac, _ = camera(i)
        if n % 50 == 7:  # RTSP interleaved video over TCP
            frames.append(
                tcp(ip, mac, VMS_IP, 554, 41000 + i, b"$\x00\x05\x78" + bytes(1400), seq + n * 1400)
            )
        elif n % 100 == 9:  # the recorder's ACK
            frames.append(tcp(VMS_IP, VMS_MAC, ip, 41000 + i, 554, b"", 1))
        else:
            size = 1200 + (n * 37) % 200
            rtp = struct.pack("!BBHII", 0x80, 96, (seq + n) & 0xFFFF, seq + n, 0x1000 + i)
            frames.append(udp(ip, mac, VMS_IP, 50000 + 2 * i, 50002 + 2 * i, rtp + bytes(size)))
    for f in special:
        frames.insert(rng.randrange(len(frames)), f)
    return frames


def write_pcap(path: Path, megabytes: int, seed: int = 1) -> tuple[int, int]:
    """Write about `megabytes` MB; returns (packets, bytes)."""
    rng = random.Random(seed)
    templates = [chunk(rng, k * 100_000) for k in range(8)]
    packets, size, second = 0, 24, 1_700_000_000
    with path.open("wb") as out:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        while size < megabytes * 1_000_000:
            frames = templates[packets // CHUNK_PACKETS % len(templates)]
            parts = []
            for n, frame in enumerate(frames):
                parts.append(struct.pack("<IIII", second, n * 997, len(frame), len(frame)))
                parts.append(frame)
            blob = b"".join(parts)
            out.write(blob)
            size += len(blob)
            packets += len(frames)
            second += 1
    return packets, size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--mb", type=int, default=1024)
    args = ap.parse_args()
    packets, size = write_pcap(args.out, args.mb)
    print(f"{args.out}: {packets} packets, {size / 1e6:.0f} MB")


if __name__ == "__main__":
    main()
