"""Unit tests' DynamoDB tables, created with the keys and indexes the topology spec declares
(as the local bootstrap and the Pulumi program create them), so a query on a declared index
works in a test exactly when it works in the stack."""

from __future__ import annotations

from typing import Any

from tradai.topology.load import load_topology


def create_spec_table(ddb: Any, spec_name: str, table_name: str) -> None:
    spec = next(t for t in load_topology().tables if t.name == spec_name)
    keys = [{"AttributeName": spec.hash_key, "KeyType": "HASH"}]
    if spec.range_key:
        keys.append({"AttributeName": spec.range_key, "KeyType": "RANGE"})
    attrs = {spec.hash_key, spec.range_key}
    indexes = []
    for index in spec.indexes:
        schema = [{"AttributeName": index.hash_key, "KeyType": "HASH"}]
        if index.range_key:
            schema.append({"AttributeName": index.range_key, "KeyType": "RANGE"})
        attrs |= {index.hash_key, index.range_key}
        indexes.append({"IndexName": index.name, "KeySchema": schema,
                        "Projection": {"ProjectionType": "ALL"}})
    kwargs: dict[str, Any] = {
        "TableName": table_name, "BillingMode": "PAY_PER_REQUEST", "KeySchema": keys,
        "AttributeDefinitions": [{"AttributeName": a, "AttributeType": "S"}
                                 for a in sorted(a for a in attrs if a)]}
    if indexes:
        kwargs["GlobalSecondaryIndexes"] = indexes
    ddb.create_table(**kwargs)
