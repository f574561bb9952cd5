"""The benchmark workloads, one module each. Adding one: write bench/workloads/<name>.py with a
module-level `WORKLOAD = Workload(...)` and add its name to NAMES (the order they run in)."""

from __future__ import annotations

import importlib

from bench.runner import Workload

NAMES = (
    "startup",  # first, while the machine is quiet
    "arp253",
    "arp_half",
    "ident",
    "ident_half",
    "sparse16",
    "scale",
    "routed",
    "hostile",
    "import_large",  # no lab: offline inputs
    "passive_import",  # no lab: a synthetic capture beside tshark
    "estate",  # no lab: a PostgreSQL store of 4,500 runs
)


def load(names: tuple[str, ...] = NAMES) -> dict[str, Workload]:
    loaded = {}
    for name in names:
        workload = importlib.import_module(f"bench.workloads.{name}").WORKLOAD
        if not isinstance(workload, Workload) or workload.name != name:
            raise TypeError(
                f"bench/workloads/{name}.py must define WORKLOAD = Workload({name!r}, ...)"
            )
        loaded[name] = workload
    return loaded
