"""Rules across observations of one device: `all_of`, `any_of` and `none_of` over channels.

A signature looks at one value. Some tells are a combination: a Dahua page shape together with
the absence of a Server header (Greenbone's Dahua detection). A rule states that over the
device's observations:

```toml
[[rule]]
id = "dahua.http.rule.page-without-server"
maker = "dahua"
strength = "strong"
same_probe = true      # all conditions on one probe's observations (one HTTP port)
all_of = [{ channel = "http.title", pattern = '^WEB SERVICE$' }, ...]   # each must be seen
any_of = [...]         # at least one, when given
none_of = [{ channel = "http.header.server", pattern = '.' }]           # none may be seen
examples = [{ "http.title" = "WEB SERVICE", "http.body" = "..." }]      # one device each
counter_examples = [{ "http.title" = "WEB SERVICE", "http.header.server" = "nginx" }]
```

Rules live in the signature files beside the signatures, with sources, examples and
counter-examples checked at load. A hit is evidence whose channel and probe are those of the
first `all_of` observation, so a rule does not count again what its own observations said.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from camscan.model import Evidence, Observation, Strength

MAX_SEARCH_CHARS = 65536
MAX_EVIDENCE_RAW = 240
RULE_KEYS = frozenset(
    {
        "id",
        "maker",
        "badge",
        "strength",
        "description",
        "source",
        "same_probe",
        "all_of",
        "any_of",
        "none_of",
        "examples",
        "counter_examples",
        "class",
        "class_strength",
    }
)


class RuleInvalid(Exception):
    pass


@functools.lru_cache(maxsize=4096)
def _fits(channel: str, spec: str) -> bool:
    """fnmatchcase, remembered: every rule asks it of every observation of every device."""
    return fnmatch.fnmatchcase(channel, spec)


@dataclasses.dataclass(frozen=True, slots=True)
class Condition:
    channel: str  # a channel name or a glob over names
    pattern: re.Pattern[str]

    def matches(self, obs: Observation) -> bool:
        return (
            _fits(obs.channel, self.channel)
            and self.pattern.search(obs.raw[:MAX_SEARCH_CHARS]) is not None
        )

    def text(self) -> str:
        return f"{self.channel} ~ {self.pattern.pattern}"


@dataclasses.dataclass(frozen=True, slots=True)
class Rule:
    id: str
    maker: str
    strength: Strength
    badge: str | None
    description: str
    source: str
    same_probe: bool
    all_of: tuple[Condition, ...]
    any_of: tuple[Condition, ...]
    none_of: tuple[Condition, ...]
    examples: tuple[tuple[Observation, ...], ...]
    counter_examples: tuple[tuple[Observation, ...], ...]
    file: Path
    equipment: str | None = None  # the class a hit proves (classes.toml), if any
    equipment_strength: Strength | None = None

    @property
    def conditions(self) -> tuple[Condition, ...]:
        return self.all_of + self.any_of + self.none_of

    def _hits(self, group: Sequence[Observation]) -> list[Observation] | None:
        hits: list[Observation] = []
        for cond in self.all_of:
            obs = next((o for o in group if cond.matches(o)), None)
            if obs is None:
                return None
            hits.append(obs)
        if self.any_of:
            obs = next((o for o in group for c in self.any_of if c.matches(o)), None)
            if obs is None:
                return None
            hits.append(obs)
        if any(c.matches(o) for c in self.none_of for o in group):
            return None
        return hits

    def match(self, observations: Sequence[Observation]) -> list[Observation] | None:
        """The observations that satisfy the rule (all_of first), or None."""
        if not self.same_probe:
            return self._hits(observations)
        probes: dict[str, list[Observation]] = {}
        for obs in observations:
            probes.setdefault(obs.probe, []).append(obs)
        return next((h for g in probes.values() if (h := self._hits(g)) is not None), None)

    def evidence(self, observations: Sequence[Observation]) -> Evidence | None:
        hits = self.match(observations)
        if not hits:
            return None
        first = hits[0]
        seen = "; ".join(f"{o.channel}: {o.raw[:60]}" for o in hits)
        absent = ", ".join(c.channel for c in self.none_of)
        return Evidence(
            signature_id=self.id,
            channel=first.channel,
            raw=seen[:MAX_EVIDENCE_RAW],
            maker=None if self.maker == "generic" else self.maker,
            strength=self.strength,
            badge=self.badge,
            description=self.description + (f" (and no {absent})" if absent else ""),
            probe=first.probe,
            equipment=self.equipment,
            equipment_strength=self.equipment_strength,
        )


RegexFn = Callable[[object, str], re.Pattern[str]]
ClassFn = Callable[[dict[str, Any], Strength], tuple[str | None, Strength | None]]


def _conditions(value: object, key: str, regex: RegexFn) -> tuple[Condition, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise RuleInvalid(f"'{key}' must be a list of {{ channel, pattern }} tables")
    out = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, dict)
            or set(item) != {"channel", "pattern"}
            or not isinstance(item["channel"], str)
        ):
            raise RuleInvalid(f"{key}[{i}] must be a table with exactly 'channel' and 'pattern'")
        out.append(Condition(item["channel"], regex(item["pattern"], f"{key}[{i}].pattern")))
    return tuple(out)


def _devices(value: object, key: str, required: bool) -> tuple[tuple[Observation, ...], ...]:
    if value is None and not required:
        return ()
    if not isinstance(value, list) or (required and not value):
        raise RuleInvalid(
            f"'{key}' must be a {'non-empty ' if required else ''}list of tables "
            "mapping channel names to raw values (one device each)"
        )
    out = []
    for i, item in enumerate(value):
        if (
            not isinstance(item, dict)
            or not item
            or not all(isinstance(k, str) and isinstance(v, str | list) for k, v in item.items())
        ):
            raise RuleInvalid(f"{key}[{i}] must map channel names to raw values")
        obs: list[Observation] = []
        for channel, raw in item.items():
            for text in raw if isinstance(raw, list) else [raw]:
                if not isinstance(text, str):
                    raise RuleInvalid(f"{key}[{i}].{channel} must be text or a list of texts")
                obs.append(Observation(channel, text, "example"))
        out.append(tuple(obs))
    return tuple(out)


def parse_rule(
    path: Path,
    table: dict[str, Any],
    known_makers: set[str],
    regex: RegexFn,
    channel_ok: Callable[[str], bool],
    equipment: ClassFn | None = None,
) -> Rule:
    """One [[rule]] table; raises RuleInvalid with one line naming the problem."""
    unknown = set(table) - RULE_KEYS
    if unknown:
        raise RuleInvalid(f"unknown keys: {', '.join(sorted(unknown))}")
    for key in ("id", "maker", "strength", "description", "source"):
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise RuleInvalid(f"'{key}' must be a non-empty string")
    if table["maker"] not in known_makers:
        raise RuleInvalid(f"unknown maker {table['maker']!r}")
    try:
        strength = Strength(table["strength"])
    except ValueError:
        raise RuleInvalid(f"unknown strength {table['strength']!r}") from None
    same_probe = table.get("same_probe", False)
    if not isinstance(same_probe, bool):
        raise RuleInvalid("'same_probe' must be true or false")
    badge = table.get("badge")
    if badge is not None and not isinstance(badge, str):
        raise RuleInvalid("'badge' must be a string")
    kind, kind_strength = equipment(table, strength) if equipment else (None, None)
    rule = Rule(
        id=table["id"],
        maker=table["maker"],
        strength=strength,
        badge=badge,
        description=table["description"],
        source=table["source"],
        same_probe=same_probe,
        all_of=_conditions(table.get("all_of"), "all_of", regex),
        any_of=_conditions(table.get("any_of"), "any_of", regex),
        none_of=_conditions(table.get("none_of"), "none_of", regex),
        examples=_devices(table.get("examples"), "examples", True),
        counter_examples=_devices(table.get("counter_examples"), "counter_examples", False),
        file=path,
        equipment=kind,
        equipment_strength=kind_strength,
    )
    if not rule.all_of:
        raise RuleInvalid("'all_of' must name at least one condition (what must be seen)")
    for cond in rule.conditions:
        if not channel_ok(cond.channel):
            raise RuleInvalid(f"unknown channel {cond.channel!r} (see camscan/channels.py)")
    return rule


def check_examples(rule: Rule) -> Iterable[str]:
    for n, ex in enumerate(rule.examples):
        if rule.match(ex) is None:
            yield f"example #{n + 1} ({', '.join(o.channel for o in ex)}) does not match"
    for n, ex in enumerate(rule.counter_examples):
        if rule.match(ex) is not None:
            yield f"counter_example #{n + 1} ({', '.join(o.channel for o in ex)}) matches"
