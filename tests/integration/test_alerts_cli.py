"""``tradai-sim alerts`` against the running cloud: what its topics published, filtered, as
text or JSON, followed live; one clear error line when no stack runs."""

from __future__ import annotations

import json
import os
import selectors
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

from tests.integration.cloud import RunningCloud
from tradai_sim.stack.state import StackRecord

pytestmark = pytest.mark.integration


def sim(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tradai_sim.cli", *args], capture_output=True,
                          text=True, timeout=60)


@pytest.fixture()
def state_dir(cloud: RunningCloud, tmp_path: Path) -> Path:
    """A state dir naming the session's cloud, as ``tradai-sim up`` would have written it."""
    assert cloud.proc is not None
    StackRecord(cloud.proc.pid, int(urlparse(cloud.endpoint).port or 0), cloud.endpoint,
                cloud.time_scale, time.time()).write(tmp_path)
    return tmp_path


@pytest.fixture()
def topic(cloud: RunningCloud) -> Iterator[tuple[str, str]]:
    sns = cloud.client("sns")
    name = f"alerts-cli-test-{uuid.uuid4().hex[:8]}"
    arn = sns.create_topic(Name=name)["TopicArn"]
    try:
        yield name, arn
    finally:
        sns.delete_topic(TopicArn=arn)


def test_alerts_lists_messages_of_a_topic_oldest_first(
        cloud: RunningCloud, state_dir: Path, topic: tuple[str, str]) -> None:
    name, arn = topic
    sns = cloud.client("sns")
    sns.publish(TopicArn=arn, Subject="first subject", Message="first message")
    sns.publish(TopicArn=arn, Message='{"AlarmName": "x"}')
    other = sns.create_topic(Name=f"{name}-other")["TopicArn"]
    sns.publish(TopicArn=other, Subject="elsewhere", Message="not this topic")
    sns.delete_topic(TopicArn=other)

    listed = sim("alerts", "--state-dir", str(state_dir), "--topic", name, "--json")
    assert listed.returncode == 0, listed.stderr
    items = [json.loads(line) for line in listed.stdout.splitlines()]
    assert [(i["subject"], i["message"]) for i in items] == [
        ("first subject", "first message"), (None, '{"AlarmName": "x"}')]
    assert items[0]["simulated_iso"].endswith("Z") and items[0]["seq"] < items[1]["seq"]

    text = sim("alerts", "--state-dir", str(state_dir), "--topic", name)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].endswith(f"  {name}  first subject") and lines[1] == "  first message"
    assert lines[2].endswith(f"  {name}  (no subject)")
    recent = sim("alerts", "--state-dir", str(state_dir), "--topic", name, "--since", "10m",
                 "--json")
    assert len(recent.stdout.splitlines()) == 2
    future = sim("alerts", "--state-dir", str(state_dir), "--topic", name, "--since",
                 "2999-01-01T00:00:00Z")
    assert (future.returncode, future.stdout) == (0, "")


def _read_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """The next line the follower prints, waiting for it (not sleeping a guess)."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise AssertionError(f"no line within {timeout} s")
    return proc.stdout.readline()


def test_alerts_follow_prints_new_messages_as_they_are_published(
        cloud: RunningCloud, state_dir: Path, topic: tuple[str, str]) -> None:
    name, arn = topic
    sns = cloud.client("sns")
    sns.publish(TopicArn=arn, Message="before")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tradai_sim.cli", "alerts", "--state-dir", str(state_dir),
         "--topic", name, "--json", "--follow"], stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert json.loads(_read_line(proc, 30))["message"] == "before"
        sns.publish(TopicArn=arn, Subject="live", Message="after")
        item: dict[str, Any] = json.loads(_read_line(proc, 30))
        assert (item["subject"], item["message"]) == ("live", "after")
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            _, err = proc.communicate()
            raise AssertionError(f"the follower ignored Ctrl-C: {err[-2000:]}") from None
    assert proc.returncode == 0


def test_alerts_without_a_running_stack_is_one_error_line(tmp_path: Path) -> None:
    result = sim("alerts", "--state-dir", str(tmp_path))
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        f"error: no stack is running in {tmp_path}; start one with `tradai-sim up --detach`"]
    bad = sim("alerts", "--state-dir", str(tmp_path), "--since", "yesterday")
    assert bad.returncode == 2 and "neither an ISO 8601 time nor a duration" in bad.stderr
