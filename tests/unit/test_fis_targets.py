"""Target selection as FIS does it: ARNs or tags, filters on describe-output paths, then the
selection mode, with a seeded random choice (reproducible for a given seed)."""

from __future__ import annotations

import random
from typing import Any

from tradai_sim.cloud.fis.targets import Resource, path_values, select


def instance(i: int, az: str = "eu-central-1a", state: str = "running",
             **tags: str) -> Resource:
    detail = {"InstanceId": f"i-{i}", "State": {"Name": state},
              "Placement": {"AvailabilityZone": az},
              "SecurityGroups": [{"GroupName": "a"}, {"GroupName": "b"}]}
    return Resource(f"arn:aws:ec2:eu-central-1:1:instance/i-{i}", "aws:ec2:instance", f"i-{i}",
                    tags, detail)


def target(**fields: Any) -> dict[str, Any]:
    return {"resourceType": "aws:ec2:instance", "selectionMode": "ALL", **fields}


FLEET = [instance(1, Role="nat"), instance(2, az="eu-central-1b", Role="nat"),
         instance(3, state="stopped", Role="nat"), instance(4, Role="web"),
         instance(5, Role="nat", Team="x")]


def ids(found: list[Resource]) -> list[str]:
    return [r.id for r in found]


def test_resource_tags_select_resources_carrying_every_tag() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/targets.html (resourceTags)"""
    rng = random.Random(0)
    assert ids(select(FLEET, target(resourceTags={"Role": "nat"}), rng)) == [
        "i-1", "i-2", "i-3", "i-5"]
    assert ids(select(FLEET, target(resourceTags={"Role": "nat", "Team": "x"}), rng)) == ["i-5"]


def test_resource_arns_select_exactly_those_resources() -> None:
    arns = [FLEET[3].arn, "arn:aws:ec2:eu-central-1:1:instance/i-gone"]
    assert ids(select(FLEET, target(resourceArns=arns), random.Random(0))) == ["i-4"]


def test_filters_match_describe_output_paths() -> None:
    """https://docs.aws.amazon.com/fis/latest/userguide/targets.html (resource filters, e.g.
    State.Name and Placement.AvailabilityZone for instances)"""
    running_in_a = target(resourceTags={"Role": "nat"}, filters=[
        {"path": "State.Name", "values": ["running"]},
        {"path": "Placement.AvailabilityZone", "values": ["eu-central-1a"]}])
    assert ids(select(FLEET, running_in_a, random.Random(0))) == ["i-1", "i-5"]


def test_filter_paths_fan_out_over_lists_and_ecs_reads_camel_case() -> None:
    assert path_values(FLEET[0].detail, "SecurityGroups.GroupName") == ["a", "b"]
    assert path_values({"availabilityZone": "eu-central-1b"}, "AvailabilityZone",
                       camel=True) == ["eu-central-1b"]
    assert path_values(FLEET[0].detail, "Nothing.Here") == []


def test_count_selects_n_at_random_reproducibly_for_a_seed() -> None:
    """https://docs.aws.amazon.com/fis/latest/APIReference/API_CreateExperimentTemplateTargetInput.html
    (COUNT(n): "chosen from the identified targets at random")"""
    pool = [instance(i) for i in range(20)]
    picks = {tuple(ids(select(pool, target(selectionMode="COUNT(3)"), random.Random(seed))))
             for seed in range(10)}
    assert all(len(p) == 3 for p in picks) and len(picks) > 1  # random ...
    count3 = target(selectionMode="COUNT(3)")
    again = ids(select(list(reversed(pool)), count3, random.Random(4)))
    assert again == ids(select(pool, count3, random.Random(4)))  # ... and seeded


def test_percent_selects_that_share_and_at_least_one() -> None:
    pool = [instance(i) for i in range(8)]
    assert len(select(pool, target(selectionMode="PERCENT(25)"), random.Random(1))) == 2
    assert len(select(pool[:2], target(selectionMode="PERCENT(10)"), random.Random(1))) == 1
    assert len(select(pool, target(selectionMode="COUNT(50)"), random.Random(1))) == 8


def test_nothing_matching_resolves_to_nothing() -> None:
    assert select(FLEET, target(resourceTags={"Role": "db"}), random.Random(0)) == []
