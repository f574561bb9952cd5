"""IPv6 targets (issue 28): parsed like IPv4 ones, held as prefixes (never expanded), the same
safety rules, and refused when no attached link carries them. No packet is sent here."""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from camscan.cli.main import app
from camscan.config import ConfigError, parse_config
from camscan.model import Segment
from camscan.netif import Interface6
from camscan.policy.rules import assign_segment
from camscan.targets import TargetError, TargetSet, place_ipv6

DOC = ipaddress.IPv6Network("2001:db8::/32")


def test_prefixes_and_addresses_kept_whole_beside_ipv4() -> None:
    ts = TargetSet.parse(["2001:db8:1::/64", "198.18.0.0/30", "2001:db8:2::20"], resolver=None)
    assert [str(n) for n in ts.v6] == ["2001:db8:1::/64", "2001:db8:2::20/128"]
    assert ts.size() == 4  # IPv6 is never counted or swept
    assert [str(h) for h in ts.hosts()] == ["198.18.0.0", "198.18.0.1", "198.18.0.2", "198.18.0.3"]
    assert "2001:db8:1::abcd" in ts and "2001:db8:2::20" in ts and "2001:db8:2::21" not in ts
    assert str(ts) == "198.18.0.0/30, 2001:db8:1::/64, 2001:db8:2::20/128"


def test_exclusions_stay_beside_the_prefix() -> None:
    ts = TargetSet.parse(
        ["2001:db8:1::/64", "2001:db8:2::/64"],
        exclude=["2001:db8:1::5", "2001:db8:2::/48"],
        resolver=None,
    )
    assert [str(n) for n in ts.v6] == ["2001:db8:1::/64"]
    assert [str(n) for n in ts.excluded6] == ["2001:db8:1::5/128"]
    assert "2001:db8:1::6" in ts and "2001:db8:1::5" not in ts
    with pytest.raises(TargetError, match="nothing left"):
        TargetSet.parse(["2001:db8:2::/64"], exclude=["2001:db8::/32"], resolver=None)


def test_link_local_in_scope_only_on_a_targeted_link() -> None:
    ts = TargetSet.parse(["2001:db8:1::/64"], resolver=None)
    assert "fe80::1%eth0" not in ts
    assert "fe80::1%eth0" in ts.with_links(["eth0"])
    assert "fe80::1%eth1" not in ts.with_links(["eth0"])


@pytest.mark.parametrize(
    "text", ["2001:db8::/32", "fd12:3456::/48", "fe80::/64", "2001:db8:ffff::1"]
)
def test_lab_safe_prefixes_need_no_flag(text: str) -> None:
    assert TargetSet.parse([text], resolver=None).v6


@pytest.mark.parametrize("text", ["2001:4860::/32", "2a00:1450::1", "2600::/16"])
def test_global_unicast_is_public(text: str) -> None:
    with pytest.raises(TargetError, match="--allow-public"):
        TargetSet.parse([text], resolver=None)
    assert TargetSet.parse([text], resolver=None, allow_public=True).v6


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("ff02::1", "not a unicast"),
        ("::1", "not a unicast"),
        ("::", "not a unicast"),
        ("::/0", "not a unicast"),
        ("fe00::/7", "non-unicast"),
        ("::ffff:198.18.0.1", "IPv4-mapped"),
        ("fe80::1%eth0", "without a scope"),
        ("2001:db8::/129", "not an IPv6"),
        ("2001:db8::g", "not an IPv6"),
    ],
)
def test_refusals_are_one_line(text: str, why: str) -> None:
    with pytest.raises(TargetError, match=why) as e:
        TargetSet.parse([text], resolver=None, allow_public=True)
    assert "\n" not in str(e.value)


@given(st.ip_addresses(v=6), st.integers(0, 128))
def test_any_ipv6_text_parses_or_is_refused_in_one_line(
    addr: ipaddress.IPv6Address, plen: int
) -> None:
    text = f"{addr}/{plen}"
    try:
        ts = TargetSet.parse([text], resolver=None, allow_public=True)
    except TargetError as e:
        problem = str(e)
        assert "\n" not in problem, problem
        return
    net = ipaddress.IPv6Network(text, strict=False)
    assert ts.v6 == [net] and ts.size() == 0
    assert not net.is_multicast and not net.is_loopback
    assert (str(net.network_address) in ts) != bool(net.network_address.scope_id)


# close together, so prefixes, addresses and exclusions overlap often
_NEAR = st.integers(0, 0xFFF).map(lambda i: DOC.network_address + i)


@given(st.lists(_NEAR, min_size=1, max_size=8))
def test_members_are_exactly_the_targets_less_exclusions(
    addrs: list[ipaddress.IPv6Address],
) -> None:
    keep, drop = addrs[: len(addrs) // 2 + 1], addrs[len(addrs) // 2 + 1 :]
    try:
        ts = TargetSet.parse(
            [f"{a}/120" for a in keep], exclude=[str(a) for a in drop], resolver=None
        )
    except TargetError:
        return  # every target excluded
    for a in addrs:
        inside = any(a in ipaddress.IPv6Network(f"{k}/120", strict=False) for k in keep)
        assert (str(a) in ts) == (inside and a not in drop)


def _iface(name: str, address: str, plen: int) -> Interface6:
    iface = ipaddress.IPv6Interface(f"{address}/{plen}")
    return Interface6(name, 7, "02:00:00:00:00:01", iface.ip, iface.network)


MINE = [_iface("eth0", "2001:db8:1::1", 64), _iface("eth0", "fe80::1", 64)]


def test_attached_prefix_names_its_link() -> None:
    ts = place_ipv6(TargetSet.parse(["2001:db8:1::/64"], resolver=None), mine=MINE)
    assert ts.links == ("eth0",) and "fe80::99%eth0" in ts
    link_local = place_ipv6(TargetSet.parse(["fe80::/64"], resolver=None), mine=MINE)
    assert link_local.links == ("eth0",)


def _routed(*prefixes: str) -> Callable[[ipaddress.IPv6Network], bool]:
    """A route table: these prefixes are routed, nothing else is."""
    nets = [ipaddress.IPv6Network(p) for p in prefixes]
    return lambda net: any(net.subnet_of(r) for r in nets)


def test_a_prefix_with_no_link_and_no_route_is_refused_with_this_hosts_prefixes() -> None:
    with pytest.raises(TargetError) as e:
        place_ipv6(
            TargetSet.parse(["2001:db8:9::/120"], resolver=None), mine=MINE, routed=_routed()
        )
    msg = str(e.value)
    assert "no attached link" in msg and "eth0 2001:db8:1::/64" in msg
    assert "no route" in msg and "\n" not in msg


def test_a_small_routed_prefix_is_swept_through_its_route() -> None:
    ts = TargetSet.parse(
        ["2001:db8:9::/120", "2001:db8:1::/64", "198.18.0.0/30"],
        exclude=["2001:db8:9::ff"],
        resolver=None,
    )
    placed = place_ipv6(ts, mine=MINE, routed=_routed("2001:db8:9::/48"))
    assert [str(n) for n in placed.v6] == ["2001:db8:1::/64"]  # asked on its link
    assert [str(n) for n in placed.routed6] == ["2001:db8:9::/120"]
    assert placed.links == ("eth0",) and placed.size6() == 255
    hosts = list(placed.hosts6())
    assert (
        len(hosts) == 255
        and str(hosts[0]) == "2001:db8:9::"
        and "2001:db8:9::ff" not in {str(h) for h in hosts}
    )
    assert "2001:db8:9::20" in placed and "2001:db8:9::ff" not in placed
    near, far = placed.split([])
    assert far.routed6 == placed.routed6 and not far.v6 and not near.routed6
    single = place_ipv6(
        TargetSet.parse(["2001:db8:9::20"], resolver=None), mine=MINE, routed=_routed("::/0")
    )
    assert [str(h) for h in single.hosts6()] == ["2001:db8:9::20"]


def test_a_routed_prefix_larger_than_max_hosts_allows_is_refused_with_a_hint() -> None:
    with pytest.raises(TargetError) as e:
        place_ipv6(
            TargetSet.parse(["2001:db8:9::/64"], resolver=None), mine=MINE, routed=_routed("::/0")
        )
    msg = str(e.value)
    assert "18446744073709551616 addresses" in msg and "--max-hosts 65536" in msg
    assert "/112 or smaller" in msg and "-iL" in msg and "[snmp]" in msg and "\n" not in msg


def test_a_large_routed_prefix_is_asked_at_the_routers_neighbours_when_snmp_runs() -> None:
    from camscan import coverage

    ts = TargetSet.parse(["2001:db8:9::/64", "2001:db8:8::/120"], resolver=None)
    placed = place_ipv6(ts, mine=MINE, routed=_routed("::/0"), neighbour_tables=True)
    assert [str(n) for n in placed.listed6] == ["2001:db8:9::/64"]
    assert [str(n) for n in placed.routed6] == ["2001:db8:8::/120"]  # small: still swept
    assert placed.size6() == 256 and "2001:db8:9::abcd" in placed
    _, far = placed.split([])
    assert far.listed6 == placed.listed6
    entries = {e.network: e for e in coverage.plan(placed, [], [], ["l3", "snmp"])}
    listed = entries["2001:db8:9::/64"]
    assert (listed.method, listed.planned, listed.note) == ("l3", 0, coverage.NEIGHBOURS_ONLY)
    [done] = coverage.finish([listed], [], None, [])
    assert not done.covered and done.note == coverage.NEIGHBOURS_ONLY  # never covered whole


def test_routed_ipv6_shares_max_hosts_with_ipv4() -> None:
    """The bound: IPv4 addresses first, then each routed IPv6 prefix in turn, at most
    --max-hosts addresses swept in all (a /24 and a /120 fit in 512, not in 511)."""
    both = ["198.18.0.0/24", "2001:db8:9::/120"]
    ts = TargetSet.parse(both, resolver=None, max_hosts=512)
    assert place_ipv6(ts, mine=MINE, routed=_routed("::/0"), max_hosts=512).size6() == 256
    with pytest.raises(TargetError, match=r"more than the 255 --max-hosts 511 leaves.*/121"):
        place_ipv6(ts, mine=MINE, routed=_routed("::/0"), max_hosts=511)


def test_a_routed_link_local_prefix_is_refused() -> None:
    with pytest.raises(TargetError, match="no attached link"):
        place_ipv6(TargetSet.parse(["fe80::/120"], resolver=None), mine=[], routed=_routed("::/0"))


@given(plen=st.integers(96, 128), max_hosts=st.integers(1, 1 << 20))
def test_a_routed_prefix_is_swept_exactly_when_it_fits_max_hosts(plen: int, max_hosts: int) -> None:
    net = f"2001:db8:9::/{plen}"
    ts = TargetSet.parse([net], resolver=None, max_hosts=max_hosts)
    size = 1 << (128 - plen)
    if size > max_hosts:
        with pytest.raises(TargetError) as e:
            place_ipv6(ts, mine=MINE, routed=_routed("::/0"), max_hosts=max_hosts)
        assert "\n" not in str(e.value)
        widest = int(str(e.value).split("(a /")[1].split()[0])
        assert 1 << (128 - widest) <= max_hosts < 1 << (129 - widest)
    else:
        placed = place_ipv6(ts, mine=MINE, routed=_routed("::/0"), max_hosts=max_hosts)
        assert size <= max_hosts and placed.size6() == size


def test_ipv4_only_targets_untouched() -> None:
    ts = TargetSet.parse(["198.18.0.0/30"], resolver=None)
    assert place_ipv6(ts, mine=[]) is ts


def test_list_targets_prints_ipv6_prefixes_unexpanded() -> None:
    res = CliRunner().invoke(
        app,
        ["scan", "--list-targets", "2001:db8:1::/64", "198.18.0.1", "--exclude", "2001:db8:1::5"],
    )
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines == [
        "198.18.0.1/32",
        "2001:db8:1::/64  # IPv6: asked on its link; if routed, swept within --max-hosts",
        "# except 2001:db8:1::5/128",
    ]


def test_cli_refuses_global_ipv6_without_allow_public() -> None:
    res = CliRunner().invoke(app, ["scan", "--list-targets", "2a00:1450::/32"])
    assert res.exit_code == 2
    assert "--allow-public" in res.stderr and "Traceback" not in res.output


def _segments(toml: str) -> list[Segment]:
    return parse_config(tomllib.loads(toml), "camscan.toml").segments


ZONES6 = """
[[segment]]
name = "cctv6"
zone = "sensitive"
cidrs = ["2001:db8:60::/64"]
[[segment]]
name = "core"
zone = "core"
cidrs = ["198.18.60.0/24", "2001:db8:61::/64"]
"""


def test_zones_by_ipv6_prefix() -> None:
    segs = _segments(ZONES6)
    assert (found := assign_segment("2001:db8:60::20", segs)) and found.name == "cctv6"
    assert (found := assign_segment("2001:db8:61::20", segs)) and found.name == "core"
    assert (found := assign_segment("198.18.60.9", segs)) and found.name == "core"
    assert assign_segment("2001:db8:62::20", segs) is None
    assert assign_segment("fe80::1%eth0", segs) is None  # link-local: by interface, if named


def test_overlapping_ipv6_segments_refused_ipv4_beside_ipv6_is_not() -> None:
    bad = ZONES6.replace('"2001:db8:60::/64"', '"2001:db8:60::/64", "2001:db8:60::/80"')
    with pytest.raises(ConfigError, match="overlap"):
        _segments(bad)
    with pytest.raises(ConfigError, match="IPv6 prefix"):
        _segments(ZONES6.replace("2001:db8:60::/64", "2001:db8:60::1/64"))


def test_ipv6_target_without_an_ipv6_probe_is_not_covered() -> None:
    from camscan import coverage

    ts = place_ipv6(TargetSet.parse(["2001:db8:1::/64"], resolver=None), mine=MINE)
    [entry] = coverage.plan(ts, [], [], ["arp", "banners"])
    assert (entry.network, entry.method, entry.interface) == ("2001:db8:1::/64", "none", "eth0")
    assert entry.note == coverage.NO_IPV6


def test_a_routed_ipv6_prefix_is_planned_for_the_l3_sweep_address_by_address() -> None:
    from camscan import coverage

    ts = TargetSet.parse(["2001:db8:9::/120"], exclude=["2001:db8:9::/126"], resolver=None)
    placed = place_ipv6(ts, mine=MINE, routed=_routed("2001:db8:9::/64"))
    [entry] = coverage.plan(placed, [], [], ["l3", "banners"])
    assert (entry.network, entry.method, entry.interface) == ("2001:db8:9::/120", "l3", None)
    assert entry.planned == 252 and entry.probes == ["l3", "banners"]
