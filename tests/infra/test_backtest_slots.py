"""The backtest-slots table (tradai.workflows.slots) in the Pulumi program: created from the
spec, and reachable by exactly the functions that take and free slots, with the item actions
each one needs and nothing wider (no Scan, no index, nobody else)."""

from __future__ import annotations

from typing import Any

from tests.infra.conftest import Deployed

TAKE = {"dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
FREE = {"dynamodb:Query", "dynamodb:DeleteItem"}
# What each function does with the pool: the consumer acquires (and reclaims), the final
# status write and the orphan scanner free.
EXPECTED = {"backtest-consumer": TAKE, "update-status": FREE, "orphan-scanner": FREE}


def _list(v: str | list[str]) -> list[str]:
    return [v] if isinstance(v, str) else list(v)


def _actions_on(doc: dict[str, Any], arn: str) -> set[str]:
    """Actions a policy allows on the table or anything under it (indexes)."""
    return {a for s in doc["Statement"] for a in _list(s["Action"])
            if any(r == arn or r.startswith(arn + "/")
                   or (r == "*" and a.startswith("dynamodb:")) for r in _list(s["Resource"]))}


def test_the_slot_table_is_created_from_the_spec(deployed: Deployed) -> None:
    table = deployed.one("aws:dynamodb/table:Table", deployed.name("backtest-slots")).inputs
    assert table["hashKey"] == "pool" and table["rangeKey"] == "slot"


def test_only_the_slot_users_reach_the_table_with_the_actions_they_need(
        deployed: Deployed) -> None:
    arn = deployed.one("aws:dynamodb/table:Table", deployed.name("backtest-slots")).arn
    reach: dict[str, set[str]] = {}
    for resource, doc in deployed.policies():
        actions = _actions_on(doc, arn)
        if actions:
            reach[resource.name] = actions
    expected = {deployed.name(f"{fn}-role-policy"): acts for fn, acts in EXPECTED.items()}
    assert reach == expected, reach


def test_the_consumer_no_longer_lists_executions(deployed: Deployed) -> None:
    actions = {a for _, doc in deployed.policies() for s in doc["Statement"]
               for a in _list(s["Action"])}
    assert "states:ListExecutions" not in actions
