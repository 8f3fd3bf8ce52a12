"""The hot-path patches give moto's own answers (tradai_sim.cloud.moto_hot_paths).

Each is built from moto's original here and compared with it, without patching moto for the
other tests.
"""

from __future__ import annotations

import string

import pytest
from moto.core import responses, utils
from moto.dynamodb.exceptions import ItemSizeTooLarge
from moto.dynamodb.models.dynamo_type import DynamoType, Item
from moto.dynamodb.responses import DynamoHandler
from moto.moto_api._internal import mock_random
from moto.moto_api._internal.moto_random import MotoRandom
from moto.sqs.models import Queue
from moto.sqs.responses import SQSResponse

from tradai_sim.cloud import moto_hot_paths
from tradai_sim.cloud.moto_patches import HOT_PATH_PATCHES, unpatched


def test_cached_name_conversion_answers_as_moto() -> None:
    original = unpatched(utils.camelcase_to_underscores)
    cached = moto_hot_paths.cached_camelcase(original)
    names = [*Queue.BASE_ATTRIBUTES, *Queue.FIFO_ATTRIBUTES, *Queue.KMS_ATTRIBUTES,
             "PutItem", "UpdateItem", "SendMessage", "ReceiveMessage", "theNewAttribute", ""]
    for _ in range(2):  # the second round answers from the cache
        assert [cached(n) for n in names] == [original(n) for n in names]


@pytest.mark.parametrize("handler", [DynamoHandler, SQSResponse])
def test_method_names_are_listed_once_and_answer_as_moto(handler: type) -> None:
    original = unpatched(responses.method_names_from_class)
    listed = moto_hot_paths.cached_method_names(original)
    first = listed(handler)
    first.append("mutated by a caller")  # a caller's list is its own
    assert listed(handler) == original(handler)
    assert "put_item" in listed(DynamoHandler) and "send_message" in listed(SQSResponse)


class _OneSumItem(Item):
    __init__ = moto_hot_paths.item_init(Item.__init__)  # type: ignore[assignment]


def _attrs(payload: int) -> dict[str, dict[str, str]]:
    return {"job_id": {"S": "j-1"}, "status": {"S": "QUEUED"}, "blob": {"S": "x" * payload}}


def test_an_item_built_with_one_size_sum_equals_moto_s() -> None:
    attrs = {**_attrs(100), "n": {"N": "3"}, "tags": {"SS": ["a", "b"]},
             "job": {"M": {"pairs": {"L": [{"S": "BTC/USDT"}]}, "dry": {"BOOL": True}}}}
    ours = _OneSumItem(DynamoType({"S": "j-1"}), None, attrs)
    theirs = Item(DynamoType({"S": "j-1"}), None, attrs)
    assert ours == theirs and ours.to_json() == theirs.to_json()
    ours.attrs["more"] = DynamoType({"S": "y"})  # later sets are still size-checked by moto
    assert type(ours.attrs) is type(theirs.attrs)


def test_the_item_size_limit_falls_where_moto_s_does() -> None:
    """moto counts names and values and refuses above 405,000 bytes; find moto's edge, then
    the one-sum build must accept the last size moto accepts and refuse the next."""
    fixed = sum(len(k) + DynamoType(v).size() for k, v in _attrs(0).items())
    edge = 405000 - fixed
    for payload, refused in ((edge, False), (edge + 1, True)):
        for cls in (Item, _OneSumItem):
            if refused:
                with pytest.raises(ItemSizeTooLarge):
                    cls(DynamoType({"S": "j-1"}), None, _attrs(payload))
            else:
                cls(DynamoType({"S": "j-1"}), None, _attrs(payload))


def test_request_ids_and_receipt_handles_keep_moto_s_shape_and_seed() -> None:
    get_random_string = moto_hot_paths.random_string(MotoRandom.get_random_string)
    rng = MotoRandom()
    rng.seed(7)
    first = get_random_string(rng, length=52)
    rng.seed(7)
    assert get_random_string(rng, length=52) == first  # seeded moto stays deterministic
    assert len(first) == 52 and set(first) <= set(string.ascii_letters + string.digits)
    lower = get_random_string(rng, length=30, include_digits=False, lower_case=True)
    assert len(lower) == 30 and set(lower) <= set(string.ascii_lowercase)
    handle = moto_hot_paths.receipt_handle(lambda: "")()
    assert len(handle) == 185 and set(handle) <= set(string.ascii_lowercase)
    mock_random.seed(3)
    again = moto_hot_paths.receipt_handle(lambda: "")()
    mock_random.seed(3)
    assert moto_hot_paths.receipt_handle(lambda: "")() == again


def test_every_hot_path_patch_is_applied_with_the_others() -> None:
    from tradai_sim.cloud.moto_patches import PATCHES

    assert HOT_PATH_PATCHES and all(p in PATCHES for p in HOT_PATH_PATCHES)
