"""Backups: a policy exists, the newest backup is recent, and its checksum verifies."""

from __future__ import annotations

from datetime import timedelta

from faktctl.audit.model import AuditFacts
from faktctl.audit.registry import Result, audit_rule, failed, passed, skipped


def _age(value: timedelta) -> str:
    seconds = max(int(value.total_seconds()), 0)
    for unit, size, above in (("d", 86400, 2 * 86400), ("h", 3600, 3600), ("m", 60, 60)):
        if seconds >= above:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@audit_rule(
    "FKB001",
    "backup",
    "error",
    "A backup policy exists",
    "Add a `backup:` section to the spec (destination, keep, max_age); in a compose file "
    "declare `x-faktctl-backup: {destination: ./backups, max_age: 24h}`.",
)
def backup_policy(facts: AuditFacts) -> Result:
    """The `backup:` section of the spec, or `x-faktctl-backup` in a compose file: where backups go
    and how old the newest may be. Kubernetes manifests and a bare live audit carry no policy, so
    there the check skips and asks for the spec.

    Faktory keeps every job in one Redis file; without a policy nobody can tell whether a copy of it
    exists, and the freshness and checksum checks have nothing to measure against."""
    backup = facts.backup
    if backup is None:
        return skipped("backup policies live in the spec: pass -f FILE to check them")
    if not backup.policy:
        return failed("no backup policy: nothing says where backups go or how old they may be")
    age = _age(backup.max_age) if backup.max_age else "no limit"
    return passed(
        f"backups go to {backup.destination}; the newest must be younger than {age}",
        backup.location,
    )


@audit_rule(
    "FKB002",
    "backup",
    "error",
    "The newest backup is younger than the policy's max age",
    "Run `faktctl backup` (schedule it, e.g. hourly from cron or a systemd timer).",
    needs="host",
)
def backup_fresh(facts: AuditFacts) -> Result:
    """The manifests in every backup destination (folders and restic repositories): the newest
    finished backup's age against `backup.max_age`. With several destinations the one in the worst
    state is reported.

    A backup that is days old loses every job pushed since; a schedule that silently stopped is only
    noticed here."""
    backup = facts.backup
    if backup is None or not backup.policy:
        return skipped("there is no backup policy (FKB001)")
    if not backup.readable:
        return skipped(f"backups not evaluated: {backup.unreadable_reason}", backup.location)
    newest = backup.newest
    if newest is None:
        invalid = (
            f" ({len(backup.invalid_manifests)} unreadable manifests)"
            if backup.invalid_manifests
            else ""
        )
        return failed(f"no backup manifest in {backup.destination}{invalid}", backup.location)
    age = facts.now - newest.created_at
    limit = backup.max_age
    if limit is not None and age > limit:
        return failed(
            f"the newest backup ({newest.name}) is {_age(age)} old, older than {_age(limit)}",
            backup.location,
        )
    return passed(f"the newest backup ({newest.name}) is {_age(age)} old", backup.location)


@audit_rule(
    "FKB003",
    "backup",
    "error",
    "The newest backup's checksum verifies",
    "Take a new backup; a snapshot that does not match its manifest cannot be trusted.",
    needs="host",
)
def backup_checksum(facts: AuditFacts) -> Result:
    """The newest backup's `faktory.rdb` (or the restic snapshot, read back) against the sha256
    recorded in its manifest.

    A truncated or damaged snapshot fails only when it is restored, which is the worst moment to
    find out."""
    backup = facts.backup
    if backup is None or not backup.policy or not backup.readable:
        return skipped("backups were not evaluated (FKB002)")
    newest = backup.newest
    if newest is None:
        return skipped("there is no backup to verify (FKB002)")
    if newest.checksum_ok is None:
        return skipped(f"{newest.file}: {newest.checksum_note}", backup.location)
    if not newest.checksum_ok:
        return failed(
            f"{newest.name}: {newest.checksum_note}",
            backup.location,
        )
    return passed(f"{newest.file} matches the sha256 in its manifest", backup.location)
