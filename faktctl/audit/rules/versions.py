"""Checks of what differs between Faktory versions (faktctl.faktory.versions): jobs a server
cannot see because they sit under another version's queue keys."""

from __future__ import annotations

from faktctl.audit.registry import LIVE, Result, ServerCtx, failed, passed, server_rule, skipped
from faktctl.audit.rules._support import live_data, server_version
from faktctl.faktory.versions import format_of


@server_rule(
    "FKP012",
    "persistence",
    "error",
    "No queued job hides under another Faktory version's queue keys",
    "Run `faktctl upgrade --repair`: after a safety backup it moves those queues to the keys "
    "the running server reads, in one atomic step, without stopping it.",
    inputs=LIVE,
)
def hidden_queues(ctx: ServerCtx) -> Result:
    """Live: the running server's Redis for queues stored under another Faktory version's keys
    (1.9.x's `name` against 1.10's `q:name`), naming each hidden queue and its size. `faktctl
    upgrade --repair` moves them.

    After a tag changed by hand across 1.10, those jobs exist but no worker can see them."""
    data = live_data(ctx)
    if data is None or data.queue_keys is None:
        return skipped("the server's Redis could not be asked for its queue keys")
    version, where_from = server_version(ctx)
    if version is None:
        return skipped(f"the version is not known ({where_from})")
    data_format = format_of(version)
    prefixed = bool(data_format.queue_prefix)
    hidden = [(name, bare if prefixed else pre) for name, bare, pre in data.queue_keys]
    hidden = [(name, size) for name, size in hidden if size]
    key = f"{data_format.queue_prefix}<name>"
    if not hidden:
        return passed(f"every queued job is under `{key}`, the keys {where_from} reads")
    total = sum(size for _, size in hidden)
    listing = ", ".join(f"{name} ({size})" for name, size in hidden)
    return failed(
        f"{total} job(s) are invisible to the server ({where_from}), which reads `{key}`: "
        f"{listing} sit under the other version's keys (a tag changed without "
        "`faktctl upgrade`)"
    )
