"""Reading back a result file in the layout camscan.contract.dump_contract writes, one line at
a time, so a large result is never held as text and as parsed JSON at once (65,000 devices:
300 MB of text became 1 GB of dicts beside it).

The layout: "{", then one top-level key per line; a non-empty list as "[", one record per line
and "]". Anything else (a hand-edited or pretty-printed file) raises NotInLayout, and the
caller reads the file whole instead: the answer, and every error message, come from that one
reader, this is only a faster way to the same result.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

_DECODER = json.JSONDecoder()


class NotInLayout(Exception):
    """The text is not laid out as dump_contract writes it (it may still be valid JSON)."""


def _value(line: str, start: int) -> tuple[Any, bool]:
    """The JSON value at `start` and whether a comma follows it; nothing else may."""
    try:
        value, end = _DECODER.raw_decode(line, start)
    except (ValueError, RecursionError):
        raise NotInLayout from None
    rest = line[end:]
    if rest not in ("", ","):
        raise NotInLayout
    return value, rest == ","


def read_layout(lines: Iterable[str], record: Callable[[str, int, Any], Any]) -> dict[str, Any]:
    """The top-level object; each record of a list is handed to `record(key, index, value)` as
    it is read and what that returns is kept (the parsed record can then be freed)."""
    it = (line[:-1] if line.endswith("\n") else line for line in lines)
    if next(it, None) != "{":
        raise NotInLayout
    doc: dict[str, Any] = {}
    more = True
    while more:
        line = next(it, None)
        if line is None or not line.startswith('  "'):
            raise NotInLayout
        try:
            key, end = _DECODER.raw_decode(line, 2)
        except ValueError:
            raise NotInLayout from None
        if not isinstance(key, str) or line[end : end + 2] != ": ":
            raise NotInLayout
        start = end + 2
        if line[start:] != "[":
            doc[key], more = _value(line, start)
            continue
        items: list[Any] = []
        following = True
        while following:
            entry = next(it, None)
            if entry is None or not entry.startswith("    "):
                raise NotInLayout
            value, following = _value(entry, 4)
            items.append(record(key, len(items), value))
        close = next(it, None)
        if close not in ("  ]", "  ],"):
            raise NotInLayout
        doc[key], more = items, close == "  ],"
    if next(it, None) != "}" or next(it, None) is not None:
        raise NotInLayout
    return doc
