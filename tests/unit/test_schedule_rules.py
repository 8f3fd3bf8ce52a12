"""The scheduler's rule clocks: arming, advancing, following enable/disable and removal."""

from __future__ import annotations

from datetime import UTC, datetime

from tradai_sim.cloud.scheduler.rules import RuleBook

T0 = datetime(2026, 1, 5, 10, 0, 30, tzinfo=UTC).timestamp()  # a Monday


def _rule(name: str, expr: str, state: str = "ENABLED") -> dict[str, str]:
    return {"Name": name, "Arn": f"arn:aws:events:eu-central-1:1:rule/{name}",
            "ScheduleExpression": expr, "State": state}


def test_rate_counts_from_when_the_rule_was_seen() -> None:
    book = RuleBook()
    book.sync([_rule("r", "rate(2 minutes)")], T0)
    assert book.rules["r"].next_fire == T0 + 120
    assert book.due(T0 + 119) == []
    assert [r.name for r in book.due(T0 + 120)] == ["r"]


def test_a_late_tick_fires_once_and_skips_the_missed_ones() -> None:
    book = RuleBook()
    book.sync([_rule("r", "rate(1 minute)")], T0)
    rule = book.rules["r"]
    rule.advance(T0 + 60 * 5 + 1)  # the loop woke five periods late
    assert rule.next_fire == T0 + 60 * 6


def test_cron_fires_at_matching_times() -> None:
    book = RuleBook()
    book.sync([_rule("c", "cron(0 3 * * ? *)"), _rule("w", "cron(0 7 ? * MON-FRI *)")], T0)
    assert book.rules["c"].next_fire == datetime(2026, 1, 6, 3, tzinfo=UTC).timestamp()
    assert book.rules["w"].next_fire == datetime(2026, 1, 6, 7, tzinfo=UTC).timestamp()
    assert book.next_fire() == book.rules["c"].next_fire


def test_disable_enable_and_removal_are_followed() -> None:
    book = RuleBook()
    book.sync([_rule("r", "rate(1 minute)")], T0)
    book.sync([_rule("r", "rate(1 minute)", "DISABLED")], T0 + 10)
    assert book.rules["r"].next_fire is None and book.due(T0 + 1000) == []
    book.sync([_rule("r", "rate(1 minute)")], T0 + 500)
    assert book.rules["r"].next_fire == T0 + 560  # restarts from the re-enable
    book.sync([], T0 + 600)
    assert book.rules == {}


def test_invalid_expression_is_reported_not_raised() -> None:
    book = RuleBook()
    book.sync([_rule("bad", "cron(0 3 * * * *)"), {"Name": "p", "Arn": "a",
                                                   "EventPattern": "{}"}], T0)
    assert set(book.rules) == {"bad"}  # pattern-only rules are not schedules
    assert book.rules["bad"].error and book.rules["bad"].next_fire is None
