"""The declarative deployment description shared by the local cloud and the Pulumi program."""

from tradai.topology.load import SpecError, default_topology, load_topology
from tradai.topology.model import Topology

__all__ = ["SpecError", "Topology", "default_topology", "load_topology"]
