"""The backend's registry cache: answers kept for a few seconds, one lookup per key at a time
(requests that miss together share its answer), failures never kept."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tradai.registry.models import RegistryUnavailable
from tradai.services.backend_api.registry import CachedRegistry


class SlowRegistry:
    """Answers after the gate opens, counting the lookups that reached it."""

    def __init__(self) -> None:
        self.calls = 0
        self.gate = threading.Event()
        self.fail = False

    def get_model_version(self, name: str, ref: str | int) -> Any:
        self.calls += 1
        assert self.gate.wait(10)
        if self.fail:
            raise RegistryUnavailable("MLflow answered 503")
        return {"name": name, "ref": ref, "call": self.calls}


def test_requests_that_miss_together_share_one_lookup() -> None:
    inner = SlowRegistry()
    cache = CachedRegistry(inner, ttl_seconds=60)  # type: ignore[arg-type]
    with ThreadPoolExecutor(10) as pool:
        futures = [pool.submit(cache.get_model_version, "S", "champion") for _ in range(10)]
        deadline = time.monotonic() + 10
        while inner.calls == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the first lookup has reached the registry
        inner.gate.set()
        answers = [f.result(timeout=10) for f in futures]
    assert inner.calls == 1
    assert all(a == answers[0] for a in answers)
    assert cache.get_model_version("S", 2)["ref"] == 2 and inner.calls == 2  # another key


def test_a_failure_is_not_kept_and_an_answer_expires() -> None:
    inner = SlowRegistry()
    inner.gate.set()
    cache = CachedRegistry(inner, ttl_seconds=0.2)  # type: ignore[arg-type]
    inner.fail = True
    with pytest.raises(RegistryUnavailable):
        cache.get_model_version("S", "champion")
    inner.fail = False
    first = cache.get_model_version("S", "champion")
    assert cache.get_model_version("S", "champion") == first and inner.calls == 2
    time.sleep(0.25)  # the TTL itself is the claim: past it the registry is asked again
    assert cache.get_model_version("S", "champion")["call"] == 3


def test_with_caching_off_every_request_asks() -> None:
    inner = SlowRegistry()
    inner.gate.set()
    cache = CachedRegistry(inner, ttl_seconds=0)  # type: ignore[arg-type]
    cache.get_model_version("S", 1)
    cache.get_model_version("S", 1)
    assert inner.calls == 2


class ListedRegistry:
    """A strategy with versions 1 and 2 (alias champion -> 1), counting lookups by kind."""

    def __init__(self) -> None:
        from tests.unit.test_backend_fixtures import version
        self.versions = [version("S", 1, ["champion"]), version("S", 2)]
        self.calls: list[str] = []

    def get_strategy(self, name: str) -> Any:
        from tradai.registry.models import StrategyDetail
        self.calls.append("strategy")
        return StrategyDetail(name=name, latest_version=2, aliases={"champion": 1},
                              versions=self.versions)

    def get_model_version(self, name: str, ref: str | int) -> Any:
        self.calls.append(f"version {ref}")
        return next(v for v in self.versions if str(ref) in (str(v.version), *v.aliases))


@pytest.mark.parametrize(("ref", "number"), [(2, 2), ("2", 2), ("latest", 2),
                                             ("champion", 1)])
def test_a_version_listed_by_a_fresh_strategy_answer_is_not_looked_up(
        ref: str | int, number: int) -> None:
    inner = ListedRegistry()
    cache = CachedRegistry(inner, ttl_seconds=60)  # type: ignore[arg-type]
    latest = cache.get_strategy("S").latest_version  # what a submission naming none does
    assert latest == 2
    got = cache.get_model_version("S", ref)
    assert got.version == number and got == inner.versions[number - 1]
    assert inner.calls == ["strategy"]


def test_a_version_not_listed_or_not_fresh_is_looked_up() -> None:
    inner = ListedRegistry()
    cache = CachedRegistry(inner, ttl_seconds=60)  # type: ignore[arg-type]
    cache.get_strategy("S")
    with pytest.raises(StopIteration):  # the fake's "no such version": the registry is asked
        cache.get_model_version("S", 3)
    cache.invalidate("S")  # an alias moved: the listed answer is gone
    assert cache.get_model_version("S", "champion").version == 1
    assert inner.calls == ["strategy", "version 3", "version champion"]
