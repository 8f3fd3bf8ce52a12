"""Identity-based policy evaluation, as AWS evaluates a role's policies within one account.

https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html:
an explicit Deny in any statement that applies wins; else an Allow that applies allows; else
the request is implicitly denied. A statement applies when its Action (or NotAction), its
Resource (or NotResource) and every condition in its Condition block match the request.

Conditions follow
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html:
operators AND together, keys within an operator AND, a key's values OR; a key absent from the
request context makes the condition false, except for the negated operators
(``StringNotEquals``, ``ArnNotLike``, ...) and ``...IfExists``, which are true, and ``Null``,
which tests presence. ``ArnEquals`` and ``ArnLike`` both take ``*`` and ``?`` wildcards.

What this cannot judge is reported, not guessed: a condition key the request context does not
know (the mapping neither supplied it nor declared it absent), or an operator not implemented
here. Such a condition counts as met for an Allow and as not met for a Deny (allow-and-record),
and the caller records it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

# A request's context: key (lower case) -> values; None means "known to be absent from this
# request".
Context = Mapping[str, tuple[str, ...] | None]

EXPLICIT_DENY, ALLOW, IMPLICIT_DENY = "explicit-deny", "allow", "implicit-deny"


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{body}$", re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def wildcard_match(pattern: str, value: str, ignore_case: bool = False) -> bool:
    """IAM's ``*`` (any run of characters) and ``?`` (one character)."""
    if "*" not in pattern and "?" not in pattern:
        return pattern.lower() == value.lower() if ignore_case else pattern == value
    return _wildcard(pattern, ignore_case).match(value) is not None


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)]


def _bool(value: str) -> str:
    return value.strip().lower()


# operator -> (positive test of one request value against one policy value, negated?)
_STRING_OPS: dict[str, tuple[Callable[[str, str], bool], bool]] = {
    "StringEquals": (lambda want, got: want == got, False),
    "StringNotEquals": (lambda want, got: want == got, True),
    "StringEqualsIgnoreCase": (lambda want, got: want.lower() == got.lower(), False),
    "StringNotEqualsIgnoreCase": (lambda want, got: want.lower() == got.lower(), True),
    "StringLike": (lambda want, got: wildcard_match(want, got), False),
    "StringNotLike": (lambda want, got: wildcard_match(want, got), True),
    "ArnEquals": (lambda want, got: wildcard_match(want, got), False),
    "ArnLike": (lambda want, got: wildcard_match(want, got), False),
    "ArnNotEquals": (lambda want, got: wildcard_match(want, got), True),
    "ArnNotLike": (lambda want, got: wildcard_match(want, got), True),
    "Bool": (lambda want, got: _bool(want) == _bool(got), False),
}


@dataclass
class Unjudged:
    """Why part of a decision could not be made as AWS makes it."""

    reasons: set[str] = field(default_factory=set)


def _condition_holds(operator: str, key: str, wanted: list[str], context: Context,
                     unjudged: Unjudged) -> bool | None:
    """True/False, or None when it cannot be judged (recorded in ``unjudged``)."""
    set_op = ""
    if ":" in operator:  # ForAnyValue:StringLike, ForAllValues:StringEquals
        set_op, _, operator = operator.partition(":")
    if_exists = operator.endswith("IfExists")
    base = operator[: -len("IfExists")] if if_exists else operator
    lowered = key.lower()  # condition key names are case-insensitive
    if lowered not in context:
        unjudged.reasons.add(f"condition key {key}")
        return None
    got = context[lowered]
    if base == "Null":
        # "true": the key must be absent; "false": present.
        return (got is None) == (_bool(wanted[0]) == "true") if wanted else None
    spec = _STRING_OPS.get(base)
    if spec is None or set_op not in ("", "ForAnyValue", "ForAllValues"):
        unjudged.reasons.add(f"condition operator {set_op + ':' if set_op else ''}{operator}")
        return None
    test, negated = spec
    if got is None:  # absent from this request
        if set_op == "ForAllValues":
            return True
        return if_exists or negated
    if set_op == "ForAllValues":
        positive = all(any(test(w, g) for w in wanted) for g in got)
        return not positive if negated else positive
    positive = any(test(w, g) for g in got for w in wanted)
    return not positive if negated else positive


@dataclass(frozen=True)
class Statement:
    effect: str  # Allow | Deny
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    conditions: tuple[tuple[str, str, tuple[str, ...]], ...]  # (operator, key, values)

    def matches_action(self, action: str) -> bool:
        if self.not_actions:
            return not any(wildcard_match(a, action, True) for a in self.not_actions)
        return any(wildcard_match(a, action, True) for a in self.actions)

    def matches_resource(self, resource: str) -> bool:
        if self.not_resources:
            return not any(wildcard_match(r, resource) for r in self.not_resources)
        return any(wildcard_match(r, resource) for r in self.resources)

    def conditions_hold(self, context: Context, unjudged: Unjudged) -> bool:
        """All conditions true; one that cannot be judged counts as met for an Allow and as
        unmet for a Deny (never a denial made up)."""
        for operator, key, wanted in self.conditions:
            held = _condition_holds(operator, key, list(wanted), context, unjudged)
            if held is None:
                held = self.effect == "Allow"
            if not held:
                return False
        return True


@dataclass(frozen=True)
class Decision:
    outcome: str  # allow | explicit-deny | implicit-deny
    unjudged: frozenset[str] = frozenset()

    @property
    def allowed(self) -> bool:
        return self.outcome == ALLOW


def parse_policy(document: str | Mapping[str, Any]) -> tuple[Statement, ...]:
    """A policy document (JSON text, as IAM stores it, or a dict) as statements."""
    doc = json.loads(document) if isinstance(document, str) else document
    raw = doc.get("Statement", [])
    out = []
    for st in raw if isinstance(raw, list) else [raw]:
        conditions = tuple(
            (operator, key, tuple(_as_list(values)))
            for operator, by_key in (st.get("Condition") or {}).items()
            for key, values in by_key.items())
        out.append(Statement(
            effect=str(st.get("Effect", "Deny")),
            actions=tuple(_as_list(st.get("Action"))),
            not_actions=tuple(_as_list(st.get("NotAction"))),
            resources=tuple(_as_list(st.get("Resource"))),
            not_resources=tuple(_as_list(st.get("NotResource"))),
            conditions=conditions))
    return tuple(out)


def evaluate(statements: Iterable[Statement], action: str, resource: str,
             context: Context) -> Decision:
    unjudged = Unjudged()
    allowed = False
    for st in statements:
        if not (st.matches_action(action) and st.matches_resource(resource)):
            continue
        if not st.conditions_hold(context, unjudged):
            continue
        if st.effect == "Deny":
            return Decision(EXPLICIT_DENY, frozenset(unjudged.reasons))
        if st.effect == "Allow":
            allowed = True
    return Decision(ALLOW if allowed else IMPLICIT_DENY, frozenset(unjudged.reasons))
