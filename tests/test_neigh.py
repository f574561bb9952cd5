"""The rtnetlink message camscan/discovery/neigh.py writes, read back field by field as the
kernel reads it (<linux/netlink.h>, <linux/neighbour.h>), and the answers it reads. The kernel
itself takes it in tests/test_neigh_lab.py."""

from __future__ import annotations

import ipaddress
import socket
import struct

from hypothesis import given
from hypothesis import strategies as st

from camscan.discovery import neigh

ipv4 = st.ip_addresses(v=4).map(str)
macs = st.binary(min_size=6, max_size=6).map(lambda b: b.hex(":"))
seqs = st.integers(1, 2**32 - 1)
indexes = st.integers(1, 2**31 - 1)


def attributes(data: bytes) -> dict[int, bytes]:
    out = {}
    at = 0
    while at < len(data):
        length, kind = struct.unpack_from("=HH", data, at)
        assert length >= 4 and at + length <= len(data)
        out[kind] = data[at + 4 : at + length]
        at += (length + 3) & ~3
    assert at == len(data)
    return out


@given(seqs, indexes, ipv4, macs)
def test_new_neigh_says_create_reachable_never_replace(
    seq: int, index: int, ip: str, mac: str
) -> None:
    msg = neigh.new_neigh(seq, index, ip, mac)
    length, kind, flags, got_seq, port = struct.unpack_from("=IHHII", msg)
    assert (length, kind, got_seq, port) == (len(msg), 28, seq, 0)  # RTM_NEWNEIGH, to the kernel
    assert len(msg) % 4 == 0
    assert flags == 0x1 | 0x4 | 0x200 | 0x400  # REQUEST, ACK, EXCL, CREATE; no REPLACE (0x100)
    family, pad, got_index, state, ndm_flags, ndm_type = struct.unpack_from("=BxHiHBB", msg, 16)
    assert (family, pad, got_index, ndm_flags, ndm_type) == (socket.AF_INET, 0, index, 0, 0)
    assert state == 0x02  # NUD_REACHABLE
    attrs = attributes(msg[28:])
    assert set(attrs) == {1, 2}  # NDA_DST, NDA_LLADDR
    assert ipaddress.IPv4Address(attrs[1]) == ipaddress.IPv4Address(ip)
    assert attrs[2].hex(":") == mac


def test_new_neigh_bytes_as_the_abi_lays_them() -> None:
    msg = neigh.new_neigh(7, 3, "198.18.40.2", "9c:8e:cd:12:28:02")
    assert msg == bytes.fromhex(
        "30000000 1c00 0506 07000000 00000000"  # nlmsghdr: 48 bytes, NEWNEIGH, flags, seq 7
        " 02 000000 03000000 0200 00 00"  # ndmsg: AF_INET, pad, ifindex 3, REACHABLE
        " 0800 0100 c6122802"  # NDA_DST 198.18.40.2
        " 0a00 0200 9c8ecd122802 0000"  # NDA_LLADDR, padded to 4 bytes
    )


def error_message(seq: int, code: int) -> bytes:
    """The kernel's answer: NLMSG_ERROR with -errno (0: done) and the request's header."""
    body = struct.pack("=i", -code) + struct.pack("=IHHII", 48, 28, 0x605, seq, 0)
    return struct.pack("=IHHII", 16 + len(body), 2, 0, seq, 1234) + body


@given(seqs, st.sampled_from([0, 1, 17, 105, 13]), st.lists(seqs, max_size=3))
def test_answer_finds_the_one_to_its_request(seq: int, code: int, others: list[int]) -> None:
    before = b"".join(error_message(o, 22) for o in others if o != seq)
    assert neigh.answer(before + error_message(seq, code), seq) == code
    assert neigh.answer(before, seq) is None


@given(st.binary(max_size=200), seqs)
def test_answer_never_raises_on_any_bytes(data: bytes, seq: int) -> None:
    got = neigh.answer(data, seq)
    assert got is None or isinstance(got, int)


@given(seqs)
def test_a_truncated_answer_is_no_answer(seq: int) -> None:
    whole = error_message(seq, 0)
    for cut in range(len(whole)):
        assert neigh.answer(whole[:cut], seq) is None


def test_a_host_the_sweep_did_not_hear_is_left_to_the_kernel() -> None:
    n = neigh.Neighbours()
    assert n.prime("198.18.40.9") is False
    assert n._sock is None and not n.stats  # nothing asked of the kernel
