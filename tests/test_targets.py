"""Target parsing and the safety rules: camscan scans only what it is told, private by default."""

from __future__ import annotations

import io
import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
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


@pytest.mark.parametrize(
    "text",
    ["198.18.1.300", "198.18.1.0/24/1", "1-2", "198.18.1.9-3", "198.18.1.1-256", "bad_name!"],
)
def test_garbage_refused_with_message(text: str) -> None:
    with pytest.raises(TargetError) as e:
        TargetSet.parse([text], resolver=None)
    assert text.strip() in str(e.value)
    assert "\n" not in str(e.value)


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


# ---------------------------------------------------------------- nmap-style syntax (no packets)
# Host names come from this lab hosts data; nothing here asks a DNS server.
LAB_HOSTS = {"nvr.cctv.lab": ["198.18.41.10"], "cams.cctv.lab": ["198.18.41.20", "198.18.41.21"]}


def lab_resolver(name: str) -> list[str]:
    try:
        return LAB_HOSTS[name.lower()]
    except KeyError:
        raise OSError(f"{name}: unknown host") from None


def members(ts: TargetSet) -> list[str]:
    return [str(h) for h in ts.hosts()]


def test_last_octet_range() -> None:
    ts = TargetSet.parse(["198.18.0.1-50"])
    assert ts.size() == 50
    assert members(ts)[0] == "198.18.0.1" and members(ts)[-1] == "198.18.0.50"


def test_full_range_crosses_octets() -> None:
    ts = TargetSet.parse(["198.18.0.1-198.18.1.20"])
    assert ts.size() == 255 + 21
    assert "198.18.0.255" in ts and "198.18.1.20" in ts and "198.18.1.21" not in ts


def test_host_names_resolve_once_and_are_recorded() -> None:
    calls: list[str] = []

    def counting(name: str) -> list[str]:
        calls.append(name)
        return lab_resolver(name)

    ts = TargetSet.parse(["nvr.cctv.lab", "cams.cctv.lab", "nvr.cctv.lab"], resolver=counting)
    assert calls == ["nvr.cctv.lab", "cams.cctv.lab"]
    assert ts.names == {
        "nvr.cctv.lab": ["198.18.41.10"],
        "cams.cctv.lab": LAB_HOSTS["cams.cctv.lab"],
    }
    assert members(ts) == ["198.18.41.10", "198.18.41.20", "198.18.41.21"]


def test_unknown_host_name_is_one_line() -> None:
    with pytest.raises(TargetError, match="does not resolve"):
        TargetSet.parse(["dvr.cctv.lab"], resolver=lab_resolver)


def test_system_resolver_reads_the_hosts_file_and_loopback_is_refused() -> None:
    # 'localhost' comes from /etc/hosts (nsswitch "files" first): no packet is sent
    from camscan.targets import system_resolver

    assert "127.0.0.1" in system_resolver("localhost")
    with pytest.raises(TargetError, match="cannot be scanned"):
        TargetSet.parse(["localhost"])


def test_exclusions_apply_before_the_safety_rules() -> None:
    ts = TargetSet.parse(
        ["198.18.0.0/24"], exclude=["198.18.0.0/25", "198.18.0.200-255", "198.18.0.130"]
    )
    assert ts.size() == 128 - 56 - 1
    assert "198.18.0.130" not in ts and "198.18.0.131" in ts
    assert ts.excluded == ["198.18.0.0/25", "198.18.0.200-255", "198.18.0.130"]
    # --max-hosts counts what is left after the exclusions
    TargetSet.parse(["198.18.0.0/23"], exclude=["198.18.1.0/24"], max_hosts=256)
    with pytest.raises(TargetError, match="max-hosts"):
        TargetSet.parse(["198.18.0.0/23"], exclude=["198.18.1.0/25"], max_hosts=256)
    # an exclusion names addresses: host names are never resolved for it
    with pytest.raises(TargetError):
        TargetSet.parse(["198.18.0.0/24"], exclude=["nvr.cctv.lab"])


def test_everything_excluded_is_refused() -> None:
    with pytest.raises(TargetError, match="nothing left"):
        TargetSet.parse(["198.18.0.1-9"], exclude=["198.18.0.0/28"])


def test_public_refusal_applies_to_the_expanded_set() -> None:
    # a range that starts private and runs into public space
    with pytest.raises(TargetError, match="--allow-public"):
        TargetSet.parse(["10.255.255.250-11.0.0.3"])
    with pytest.raises(TargetError, match="--allow-public"):
        TargetSet.parse(["public.cctv.lab"], resolver=lambda _: ["192.0.2.1", "8.8.4.4"])
    with pytest.raises(TargetError, match="max-hosts"):
        TargetSet.parse(["10.0.0.0-10.1.0.0"], max_hosts=65536)


def test_target_lists_from_a_file_and_stdin(tmp_path: Path) -> None:
    from camscan.targets import read_target_file

    listing = tmp_path / "targets.txt"
    listing.write_text(
        "# CCTV VLAN\n198.18.41.0/28  198.18.42.1-5\n\n198.18.43.7, 198.18.43.9 # nvr\n"
    )
    assert read_target_file(str(listing)) == [
        "198.18.41.0/28",
        "198.18.42.1-5",
        "198.18.43.7",
        "198.18.43.9",
    ]
    assert read_target_file("-", io.StringIO("198.18.44.0/30\n")) == ["198.18.44.0/30"]
    with pytest.raises(TargetError, match="cannot read"):
        read_target_file(str(tmp_path / "missing.txt"))


def test_split_by_attached_networks() -> None:
    ts = TargetSet.parse(["198.18.40.0/24", "198.18.41.5-6"])
    near, far = ts.split([ipaddress.IPv4Network("198.18.40.0/25")])
    assert near.size() == 128 and far.size() == 128 + 2
    assert "198.18.40.1" in near and "198.18.40.200" in far and "198.18.41.6" in far


@given(
    st.ip_addresses(v=4).map(int),
    st.integers(0, 600),
    st.lists(st.ip_addresses(v=4).map(str), max_size=5),
)
def test_ranges_match_an_address_by_address_model(first: int, span: int, excl: list[str]) -> None:
    last = min(first + span, 2**32 - 1)
    a, b = ipaddress.IPv4Address(first), ipaddress.IPv4Address(last)
    try:
        ts = TargetSet.parse([f"{a}-{b}"], allow_public=True, exclude=excl)
    except TargetError:
        return
    expected = {str(ipaddress.IPv4Address(i)) for i in range(first, last + 1)} - set(excl)
    assert set(members(ts)) == expected


# --- nmap's octet syntax (issue 26): ranges, lists and globs in any octet ----------------------

# One octet as items a user might type: a number, a range (either end may be left open, as
# nmap allows), or `*`; the expected addresses are computed octet by octet, independently.
_item = st.one_of(
    st.integers(0, 255).map(lambda n: (str(n), {n})),
    st.tuples(st.integers(0, 255), st.integers(0, 255)).map(
        lambda t: (f"{min(t)}-{max(t)}", set(range(min(t), max(t) + 1)))
    ),
    st.integers(0, 255).map(lambda n: (f"{n}-", set(range(n, 256)))),
    st.integers(0, 255).map(lambda n: (f"-{n}", set(range(n + 1)))),
)
_octet = st.one_of(
    st.just(("*", set(range(256)))),
    st.lists(_item, min_size=1, max_size=4).map(
        lambda items: (",".join(t for t, _ in items), set().union(*(v for _, v in items)))
    ),
)


@settings(deadline=None)  # a /8's worth of ranges takes a while on a loaded machine
@given(st.lists(_octet, min_size=4, max_size=4))
def test_octet_syntax_matches_an_octet_by_octet_model(octets: list[tuple[str, set[int]]]) -> None:
    from camscan.targets import parse_target, split_targets

    sizes = [len(v) for _, v in octets]
    text = ".".join(t for t, _ in octets)
    assert split_targets(text) == [text]  # its commas belong to the octets
    if sizes[0] * sizes[1] * sizes[2] * sizes[3] > 1 << 24 or sizes[0] * sizes[1] * sizes[2] > 1024:
        return  # refused as too large, or too slow to model address by address
    got, names = parse_target(text)
    assert names is None
    assert got.size == sizes[0] * sizes[1] * sizes[2] * sizes[3]
    # compare as ranges over the last octet, which the model can afford
    expected = sorted(
        (a << 24 | b << 16 | c << 8 | d)
        for a in octets[0][1]
        for b in octets[1][1]
        for c in octets[2][1]
        for d in (min(octets[3][1]), max(octets[3][1]))
    )
    assert all(netaddr_contains(got, n) for n in expected)
    outside = [d for d in range(256) if d not in octets[3][1]]
    if outside:
        probe = next(iter(octets[0][1])) << 24 | next(iter(octets[1][1])) << 16
        probe |= next(iter(octets[2][1])) << 8 | outside[0]
        assert not netaddr_contains(got, probe)


def netaddr_contains(ipset: object, n: int) -> bool:
    import netaddr

    assert isinstance(ipset, netaddr.IPSet)
    return netaddr.IPAddress(n) in ipset


@pytest.mark.parametrize(
    ("text", "members"),
    [
        ("198.18.0-1.1", ["198.18.0.1", "198.18.1.1"]),
        ("198.18.9.1,3,5", ["198.18.9.1", "198.18.9.3", "198.18.9.5"]),
        ("198.18.9.*", [f"198.18.9.{n}" for n in range(256)]),
        ("198.18.9.250-", [f"198.18.9.{n}" for n in range(250, 256)]),
        ("198.18.1-2,4.7", ["198.18.1.7", "198.18.2.7", "198.18.4.7"]),
        ("198.18.0.1,198.18.0.9", ["198.18.0.1", "198.18.0.9"]),  # two targets
    ],
)
def test_nmap_octet_ranges_lists_and_globs(text: str, members: list[str]) -> None:
    ts = TargetSet.parse([text])
    assert [str(a) for a in ts.hosts()] == members


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("198.18.9.1,300", "300 is not an octet"),
        ("198.18.9.5-3", "ends before it starts"),
        ("10.*.*.*", "more than --max-hosts"),
        ("*.*.*.*", "more than a /8"),
    ],
)
def test_octet_syntax_refusals_are_one_line(text: str, message: str) -> None:
    with pytest.raises(TargetError, match=message):
        TargetSet.parse([text])


def test_octet_lists_in_files_and_exclusions(tmp_path: Path) -> None:
    from camscan.targets import read_target_file

    listing = tmp_path / "targets.txt"
    listing.write_text("198.18.9.1,3,5 198.18.10.*\n198.18.0.1,198.18.0.2 # two\n")
    assert read_target_file(str(listing)) == [
        "198.18.9.1,3,5",
        "198.18.10.*",
        "198.18.0.1",
        "198.18.0.2",
    ]
    ts = TargetSet.parse(["198.18.9.*"], exclude=["198.18.9.0-99,101-255"])
    assert [str(a) for a in ts.hosts()] == ["198.18.9.100"]
