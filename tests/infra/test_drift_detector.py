"""The pulumi-drift-detector Lambda and its domain module."""

from __future__ import annotations

import subprocess
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from tradai.drift.infrastructure import (
    STACK_VAR,
    WORK_DIR_VAR,
    DriftConfigError,
    DriftSettings,
    detect_drift,
    summarize,
)
from tradai.lambdas import pulumi_drift_detector

SETTINGS = DriftSettings(stack="dev", work_dir="/srv/infra")


class FakeAutomation:
    """Stands in for pulumi.automation: records the stack it selects, returns a preview."""

    def __init__(self, change_summary: dict[str, int] | None = None,
                 error: Exception | None = None) -> None:
        self.change_summary = change_summary or {}
        self.error = error
        self.selected: list[tuple[str, str]] = []
        self.refresh: list[bool] = []

    def select_stack(self, stack_name: str, work_dir: str) -> Any:
        if self.error:
            raise self.error
        self.selected.append((stack_name, work_dir))

        def preview(refresh: bool = False) -> Any:
            self.refresh.append(refresh)
            return SimpleNamespace(change_summary=self.change_summary)

        return SimpleNamespace(preview=preview)


def test_cli_absent_is_reported_as_unavailable():
    fake = FakeAutomation({"update": 3})
    result = detect_drift(SETTINGS, which=lambda _: None, automation=fake)
    assert result["status"] == "unavailable"
    assert "pulumi CLI not installed" in result["reason"]
    assert fake.selected == []  # never pretends to have looked


def test_cli_that_cannot_execute_is_unavailable():
    fake = FakeAutomation(error=FileNotFoundError(2, "No such file or directory", "pulumi"))
    result = detect_drift(SETTINGS, which=lambda _: "/usr/bin/pulumi", automation=fake)
    assert result["status"] == "unavailable" and "pulumi CLI not installed" in result["reason"]


def test_real_automation_without_cli_on_this_machine(monkeypatch: pytest.MonkeyPatch):
    # The real pulumi.automation, with PATH emptied: the CLI cannot be found.
    monkeypatch.setenv("PATH", "")
    result = detect_drift(SETTINGS, which=lambda _: "pulumi")
    assert result["status"] == "unavailable"
    assert "pulumi CLI not installed" in result["reason"]


def test_changes_other_than_same_count_as_drift():
    fake = FakeAutomation({"same": 290, "update": 2, "delete": 1})
    result = detect_drift(SETTINGS, which=lambda _: "/usr/bin/pulumi", automation=fake)
    assert result == {"status": "drift", "stack": "dev", "changes": 3,
                      "summary": {"same": 290, "update": 2, "delete": 1}}
    assert fake.selected == [("dev", "/srv/infra")] and fake.refresh == [True]


def test_only_same_is_in_sync():
    assert summarize("prod", {"same": 12})["status"] == "in_sync"
    assert summarize("prod", {})["changes"] == 0


def test_settings_name_the_missing_variable():
    with pytest.raises(DriftConfigError, match=WORK_DIR_VAR):
        DriftSettings.from_env({STACK_VAR: "dev"})


def test_handler_without_cli(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv(STACK_VAR, "dev")
    monkeypatch.setenv(WORK_DIR_VAR, "/srv/infra")
    monkeypatch.setattr("tradai.drift.infrastructure.shutil.which", lambda _: None)
    result = pulumi_drift_detector.handler({}, None)
    assert result["status"] == "unavailable"


def test_handler_misconfigured(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(STACK_VAR, raising=False)
    result = pulumi_drift_detector.handler({}, None)
    assert result["status"] == "misconfigured" and STACK_VAR in result["reason"]


def test_platform_does_not_import_infra_or_sim():
    code = ("import sys, tradai.lambdas.pulumi_drift_detector, tradai.drift.infrastructure; "
            "bad = [m for m in sys.modules if m.split('.')[0] in "
            "('tradai_infra', 'tradai_sim', 'pulumi')]; print(bad); sys.exit(bool(bad))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
