"""Lab fixtures: emulated camera LANs in network namespaces (see camscan/lab).

`lab_factory(name)` builds a bundled topology (or a TOML path) once per test session and hands
back the running `Lab`; everything is torn down at the end of the session. `lab` is the "mixed"
topology (every persona once). Tests that need a lab are marked `@pytest.mark.lab`; they skip
with the reason when this machine cannot build one (not root, no `ip netns`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from camscan.lab import Lab, lab_problem

LabFactory = Callable[[str | Path], Lab]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    problem = lab_problem()
    if problem is None:
        return
    skip = pytest.mark.skip(reason=f"lab unavailable: {problem}")
    for item in items:
        if "lab" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab_factory() -> Iterator[LabFactory]:
    problem = lab_problem()
    if problem:
        pytest.skip(f"lab unavailable: {problem}")
    running: dict[str, Lab] = {}

    def build(topology: str | Path) -> Lab:
        key = str(topology)
        if key not in running:
            lab = Lab(topology)
            lab.start()
            running[key] = lab
        return running[key]

    try:
        yield build
    finally:
        for lab in running.values():
            lab.close()


@pytest.fixture(scope="session")
def lab(lab_factory: LabFactory) -> Lab:
    return lab_factory("mixed")
