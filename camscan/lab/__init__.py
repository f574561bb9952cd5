"""camscan's lab: an emulated camera LAN in Linux network namespaces, for tests, demos and
benchmarks. Every address lives in 198.18.0.0/15; nothing is created in the host namespace.

    from camscan.lab import Lab, load_topology
    with Lab(load_topology("office")) as lab:
        lab.run(["ip", "-br", "addr"])
"""

from camscan.lab.instance import Lab, LabError, lab_problem
from camscan.lab.netns import remove_stale
from camscan.lab.persona import Persona, PersonaError, bundled_persona_names, load_persona
from camscan.lab.topology import LabDevice, LabNetwork, Topology, TopologyError, load_topology
from camscan.labguard import lab_namespace_problem

__all__ = [
    "Lab",
    "LabDevice",
    "LabError",
    "LabNetwork",
    "Persona",
    "PersonaError",
    "Topology",
    "TopologyError",
    "bundled_persona_names",
    "lab_namespace_problem",
    "lab_problem",
    "load_persona",
    "load_topology",
    "remove_stale",
]
