"""Run the Pulumi program once per session under recording mocks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.infra.mocks import STACK, RecordingMocks, Resource, run_program
from tradai.topology import Topology, default_topology
from tradai.topology.naming import physical_name


class Deployed:
    """Query helpers over the recorded resources."""

    def __init__(self, mocks: RecordingMocks, topo: Topology) -> None:
        from tradai_infra.validate import unbuilt

        self.resources = mocks.resources
        self.topo = topo
        # What the program leaves out because its handler code does not exist yet.
        self.unbuilt, self.unbuilt_machines = unbuilt(topo)
        self.lambdas = [f for f in topo.lambdas if f.name not in self.unbuilt]
        self.state_machines = [m for m in topo.state_machines
                               if m.name not in self.unbuilt_machines]

    def name(self, logical: str) -> str:
        return physical_name(self.topo.project, STACK, logical)

    def of_type(self, typ: str) -> list[Resource]:
        return [r for r in self.resources if r.typ == typ]

    def one(self, typ: str, name: str) -> Resource:
        found = [r for r in self.of_type(typ) if r.name == name]
        assert len(found) == 1, f"expected one {typ} named {name}, found {len(found)}"
        return found[0]

    def where(self, typ: str, **inputs: Any) -> list[Resource]:
        return [r for r in self.of_type(typ)
                if all(r.inputs.get(k) == v for k, v in inputs.items())]

    def policies(self) -> Iterator[tuple[Resource, dict[str, Any]]]:
        for r in self.of_type("aws:iam/rolePolicy:RolePolicy"):
            yield r, json.loads(r.inputs["policy"])

    def role_policy(self, role: Resource) -> dict[str, Any]:
        found = [doc for r, doc in self.policies() if r.inputs["role"] == role.id]
        assert len(found) == 1, f"role {role.name} has {len(found)} inline policies"
        return found[0]


def pytest_configure(config: pytest.Config) -> None:
    # pulumi_aws warns about its own deprecated modules when they load; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:pulumi_aws")


@pytest.fixture(scope="session")
def topo() -> Topology:
    return default_topology()


@pytest.fixture(scope="session")
def settings() -> Any:
    from tradai_infra.config import StackSettings
    from tradai_infra.image import ImageRef

    return StackSettings(env=STACK, region="eu-central-1", azs=("eu-central-1a", "eu-central-1b"),
                         image=ImageRef(repository=physical_name("tradai", STACK, "platform"),
                                        reference=":1.0.0"))


@pytest.fixture(scope="session")
def deployed(topo: Topology, settings: Any) -> Deployed:
    from tradai_infra.program import deploy

    return Deployed(run_program(lambda: deploy(settings, topo)), topo)
