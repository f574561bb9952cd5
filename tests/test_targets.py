"""Target parsing and the safety rules: camscan scans only what it is told, private by default."""

from __future__ import annotations

import ipaddress

import pytest
from hypothesis import given
from hypothesis import strategies as st

from camscan.targets import TargetError, TargetSet


def test_private_ranges_accepted_and_collapsed() -> None:
    ts = TargetSet.parse(["198.18.1.0/25", "198.18.1.128/25", "10.1.2.3", "100.64.0.0/24"])
    assert [str(n) for n in ts.networks] == ["10.1.2.3/32", "100.64.0.0/24", "198.18.1.0/24"]
    assert ts.size() == 1 + 256 + 256
    assert "198.18.1.77" in ts and "198.18.2.1" not in ts and "junk" not in ts


@pytest.mark.parametrize("text", ["8.8.8.0/24", "1.1.1.1", "9.9.9.0/24"])
def test_public_targets_refused_without_flag(text: str) -> None:
    with pytest.raises(TargetError, match="--allow-public"):
        TargetSet.parse([text])
    assert TargetSet.parse([text], allow_public=True).size() >= 1


@pytest.mark.parametrize("text", ["224.0.0.0/4", "0.0.0.0/0", "127.0.0.1", "240.0.0.1"])
def test_non_unicast_refused(text: str) -> None:
    with pytest.raises(TargetError):
        TargetSet.parse([text], allow_public=True)


@pytest.mark.parametrize("text", ["198.18.1.300", "cameras", "198.18.1.0/24/1", "1-2"])
def test_garbage_refused_with_message(text: str) -> None:
    with pytest.raises(TargetError) as e:
        TargetSet.parse([text])
    assert text.strip() in str(e.value)


def test_size_cap() -> None:
    with pytest.raises(TargetError, match="max-hosts"):
        TargetSet.parse(["10.0.0.0/8"])


@given(st.lists(st.ip_addresses(v=4).map(str), min_size=1, max_size=20), st.integers(24, 32))
def test_hosts_are_exactly_the_members(addrs: list[str], prefix: int) -> None:
    texts = [f"{a}/{prefix}" for a in addrs]
    try:
        ts = TargetSet.parse(texts, allow_public=True)
    except TargetError:
        return
    hosts = list(ts.hosts())
    assert len(hosts) == ts.size() == len(set(hosts))
    assert all(h in ts for h in hosts[:50])
    for t in texts:
        assert ipaddress.IPv4Network(t, strict=False).network_address in ts
