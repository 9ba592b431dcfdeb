"""The one registry of audit checks.

A check is a small pure function over gathered facts, declared with its metadata: a stable id
(never reused: retired ids stay listed in RETIRED), a category, a severity, a title and a
remediation. Three scopes exist: once per Faktory server, once per worker, once per audit.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from faktctl.audit.effective import Behaviour
from faktctl.audit.model import (
    SCOPES,
    AuditFacts,
    AuditScope,
    Category,
    InputKind,
    Location,
    RuleMeta,
    ServerFacts,
    Severity,
    Status,
    WorkerFacts,
)

Scope = Literal["server", "worker", "audit"]
# the container platforms besides compose and Kubernetes (ECS, Render, Fly.io)
PLATFORMS: frozenset[InputKind] = frozenset({"ecs", "render", "fly"})
ALL_INPUTS: frozenset[InputKind] = frozenset(
    {"spec", "compose", "live", "kubernetes", "ecs", "render", "fly"}
)
STATIC: frozenset[InputKind] = frozenset({"spec", "compose", "kubernetes", "ecs", "render", "fly"})
KUBERNETES: frozenset[InputKind] = frozenset({"kubernetes"})
LIVE: frozenset[InputKind] = frozenset({"live"})
COMPOSE: frozenset[InputKind] = frozenset({"compose"})
ID_PATTERN = re.compile(r"^FK[PMSDBH]\d{3}$")
_CATEGORY_LETTER: dict[Category, str] = {
    "persistence": "P",
    "production-mode": "M",
    "password-secret": "S",
    "dashboard-exposure": "D",
    "backup": "B",
    "hygiene": "H",
}
# Ids of checks that were removed. They must never be given to another check.
RETIRED: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Outcome:
    status: Status
    message: str
    location: Location | None = None
    service: str | None = None  # audit-scope checks say which service they speak about
    remediation: str | None = None


def passed(message: str, location: Location | None = None, service: str | None = None) -> Outcome:
    return Outcome("pass", message, location, service)


def failed(
    message: str,
    location: Location | None = None,
    service: str | None = None,
    remediation: str | None = None,
) -> Outcome:
    return Outcome("fail", message, location, service, remediation)


def skipped(reason: str, location: Location | None = None, service: str | None = None) -> Outcome:
    return Outcome("skip", reason, location, service)


Result = Outcome | Sequence[Outcome]


@dataclass(frozen=True)
class ServerCtx:
    facts: AuditFacts
    server: ServerFacts
    eff: Behaviour


@dataclass(frozen=True)
class WorkerCtx:
    facts: AuditFacts
    worker: WorkerFacts
    servers: tuple[ServerCtx, ...]


@dataclass(frozen=True)
class Rule:
    meta: RuleMeta
    scope: Scope
    inputs: frozenset[InputKind]
    check: Callable[[Any], Result]


REGISTRY: dict[str, Rule] = {}

Ctx = TypeVar("Ctx")


class _RuleDecorator(Generic[Ctx]):
    """`@server_rule(...)`, `@worker_rule(...)` and `@audit_rule(...)`: each registers a check of
    its scope, a function of that scope's context. Ids are checked when the decorator is made."""

    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def __call__(
        self,
        id: str,
        category: Category,
        severity: Severity,
        title: str,
        remediation: str,
        inputs: frozenset[InputKind] = ALL_INPUTS,
        needs: AuditScope | None = None,
    ) -> Callable[[Callable[[Ctx], Result]], Callable[[Ctx], Result]]:
        if not ID_PATTERN.match(id) or id[2] != _CATEGORY_LETTER[category]:
            raise ValueError(f"check id {id} does not match its category {category}")
        if id in REGISTRY or id in RETIRED:
            raise ValueError(f"check id {id} is already taken")

        def decorate(func: Callable[[Ctx], Result]) -> Callable[[Ctx], Result]:
            name = func.__name__.strip("_").replace("_", "-")
            # a check of live input needs the live scope; any other the repository unless
            # it says it reads host state (needs="host")
            scope: AuditScope = needs or ("live" if inputs == LIVE else "repo")
            meta = RuleMeta(id, name, category, severity, title, remediation, scope)
            REGISTRY[id] = Rule(meta, self.scope, inputs, func)
            return func

        return decorate


server_rule: _RuleDecorator[ServerCtx] = _RuleDecorator("server")
worker_rule: _RuleDecorator[WorkerCtx] = _RuleDecorator("worker")
audit_rule: _RuleDecorator[AuditFacts] = _RuleDecorator("audit")


def runs_in(meta: RuleMeta, scope: AuditScope) -> bool:
    """True when an audit of `scope` sees the facts the check needs (repo < host < live)."""
    return SCOPES.index(meta.needs) <= SCOPES.index(scope)


def all_rules() -> list[Rule]:
    """Every registered check, in id order (importing the rules package registers them)."""
    import faktctl.audit.rules  # noqa: F401

    return [REGISTRY[key] for key in sorted(REGISTRY)]
