"""Which scope an audit runs in, when the user does not say (`--scope`), and how a report says
what it left to another scope. Pure: the command passes the environment and the gathered facts.

- `live` with --live: the running deployment, every check;
- `repo` when `CI` is set (a CI job audits a checkout), or when every secret file the input names
  is absent and git-ignored (a fresh clone: those files live on the deploy host);
- `host` otherwise: the deploy host, where secret files and local backups are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from faktctl.audit.model import AuditFacts, AuditScope, RuleMeta

FALSE_WORDS = frozenset({"", "0", "false", "no", "off"})


def in_ci(env: Mapping[str, str]) -> bool:
    """`CI` set to anything but an empty or false value (GitHub, GitLab and most CIs set it)."""
    return env.get("CI", "").strip().lower() not in FALSE_WORDS


def fresh_checkout(facts: AuditFacts) -> bool:
    """Every secret file the input names is missing here and git-ignored: a clean clone."""
    files = facts.secret_files
    return bool(files) and all(f.mode is None and f.git == "ignored" for f in files)


def default_scope(facts: AuditFacts, env: Mapping[str, str], live: bool) -> AuditScope:
    if live:
        return "live"
    if in_ci(env) or fresh_checkout(facts):
        return "repo"
    return "host"


def why_scope(facts: AuditFacts, env: Mapping[str, str], chosen: AuditScope | None) -> str:
    """How the scope was decided, for the report's header."""
    if chosen is not None:
        return "--scope"
    if facts.kind == "live":
        return "--live"
    if in_ci(env):
        return "CI is set"
    if fresh_checkout(facts):
        return "the secret files are git-ignored and absent"
    return "default"


NEXT_SCOPE: dict[AuditScope, AuditScope] = {"repo": "host", "host": "live", "live": "live"}
WHERE: dict[AuditScope, str] = {
    "repo": "in the repository",
    "host": "on the deploy host",
    "live": "against the running deployment",
}


def not_evaluated_line(skipped: Sequence[RuleMeta]) -> str | None:
    """One plain line for the checks a wider scope runs, or None when there are none."""
    if not skipped:
        return None
    parts = []
    for scope in ("host", "live"):
        ids = [m.id for m in skipped if m.needs == scope]
        if not ids:
            continue
        command = "faktctl audit --scope host" if scope == "host" else "faktctl audit --live"
        noun = "check" if len(ids) == 1 else "checks"
        parts.append(
            f"{len(ids)} {scope} {noun} ({', '.join(ids)}); run `{command}` {WHERE[scope]}"
        )
    return "not evaluated here: " + "; ".join(parts)
