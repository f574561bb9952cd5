"""camscan/identify/ieee_names.py reads netaddr's bundled IEEE copy itself: it must name every
block as netaddr's own OUI(n).registration().org does, and miss where netaddr misses."""

from __future__ import annotations

from collections import Counter
from importlib import resources

from netaddr import OUI, NotRegisteredError

from camscan.identify.ieee_names import block_org


def _netaddr(oui: int) -> str | None:
    try:
        return str(OUI(oui).registration().org)
    except (NotRegisteredError, ValueError, IndexError, TypeError):
        return None


def _blocks() -> list[int]:
    rows = resources.files("netaddr.eui").joinpath("oui.idx").read_text().splitlines()
    return [int(row.split(",")[0]) for row in rows]


def test_names_agree_with_netaddr_across_the_registry() -> None:
    blocks = _blocks()
    assert len(blocks) > 30000  # the whole registry, not a stub
    twice = [b for b, n in Counter(blocks).items() if n > 1]  # blocks registered more than once
    sample = sorted({*blocks[::37], blocks[0], blocks[-1], *twice[:200]})
    differ = [(b, block_org(b), _netaddr(b)) for b in sample if block_org(b) != _netaddr(b)]
    assert not differ, differ[:5]
    assert block_org(0x4419B6) == "Hangzhou Hikvision Digital Technology Co.,Ltd."


def test_unregistered_and_out_of_range_blocks_have_no_name() -> None:
    registered = set(_blocks())
    free = [n for n in range(0xFFFF00, 0x1000000) if n not in registered][:20]
    assert free
    for oui in [*free, -1, 0x1000000]:
        assert block_org(oui) is None
        assert _netaddr(oui) is None
    # a number whose digits end another block's ("1234" inside "81234") is not that block
    assert all(block_org(int(str(b)[1:])) == _netaddr(int(str(b)[1:])) for b in _blocks()[:300])
