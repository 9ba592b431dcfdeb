"""`logs` on one engine: container logs on stdout, one prefix per container.

Without -f the lines of all containers are merged in time order; the logs of many containers
are read a few at a time.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.errors import FaktctlError, UsageError
from faktctl.secretvalue import SecretStr, redact

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.platforms.engine.observe import ObservedContainer
    from faktctl.spec.load import LoadedSpec

_END = object()


def split_timestamp(line: str) -> tuple[str, str]:
    """'2026-11-28T00:09:34.603000000Z text' -> (timestamp, text)."""
    stamp, sep, text = line.partition(" ")
    if sep and stamp[:4].isdigit() and stamp.endswith("Z"):
        return stamp, text
    return "", line


def merge_by_time(streams: Iterable[tuple[str, str]]) -> list[str]:
    """(prefix, text with engine timestamps) pairs -> lines in time order, prefixed."""
    entries = []
    for prefix, text in streams:
        for order, line in enumerate(text.splitlines()):
            stamp, body = split_timestamp(line)
            entries.append((stamp, prefix, order, body))
    entries.sort(key=lambda entry: (entry[0], entry[1], entry[2]))
    return [f"{prefix} | {body}" for _, prefix, _, body in entries]


def show_logs(
    loaded: LoadedSpec,
    secrets: tuple[SecretStr, ...],
    *,
    service: str | None,
    follow: bool,
    tail: int | None,
) -> int:
    from faktctl.adapters.docker.connect import connect
    from faktctl.live.containers import find
    from faktctl.platforms.engine.observe import in_parallel, parse_container

    known = ["faktory", *(w.name for w in loaded.spec.workers)]
    engine = connect()
    try:
        containers = sorted(
            (
                parsed
                for raw in find(engine, loaded.spec.project).containers
                for parsed in [parse_container(raw)]
                if service is None or parsed.service == service
            ),
            key=lambda c: (c.service != "faktory", c.service, c.replica or 0),
        )
        if not containers:
            if service is not None and service not in known:
                raise UsageError(
                    f"no service `{service}` in {loaded.path.name}",
                    f"services: {', '.join(known)}",
                )
            ui.info(f"no containers for {service or 'project ' + loaded.spec.project}")
            return 0
        width = max(len(c.name) for c in containers)
        if follow:
            _follow(engine, containers, tail, width, secrets)
        else:
            texts = in_parallel(partial(_log_text, engine, tail), [c.id for c in containers])
            streams = [
                (c.name.ljust(width), text) for c, text in zip(containers, texts, strict=True)
            ]
            for line in merge_by_time(streams):
                ui.data(redact(line, secrets))
    finally:
        engine.close()
    return 0


def _log_text(engine: Engine, tail: int | None, container_id: str) -> str:
    return engine.logs(container_id, tail, timestamps=True).decode("utf-8", "replace")


def _follow(
    engine: Engine,
    containers: list[ObservedContainer],
    tail: int | None,
    width: int,
    secrets: tuple[SecretStr, ...],
) -> None:
    lines: queue.Queue[object] = queue.Queue()

    def pump(container: ObservedContainer) -> None:
        pending = b""
        prefix = container.name.ljust(width)
        try:
            for chunk in engine.follow_logs(container.id, tail):
                pending += chunk
                *complete, pending = pending.split(b"\n")
                for raw in complete:
                    lines.put(f"{prefix} | {raw.decode('utf-8', 'replace')}")
            if pending:
                lines.put(f"{prefix} | {pending.decode('utf-8', 'replace')}")
        except FaktctlError as err:
            lines.put(f"{prefix} | (log stream ended: {err.one_line()})")
        finally:
            lines.put(_END)

    for container in containers:
        threading.Thread(target=pump, args=(container,), daemon=True).start()
    running = len(containers)
    while running:
        try:
            item = lines.get(timeout=0.5)  # a bounded wait keeps Ctrl-C responsive
        except queue.Empty:
            continue
        if item is _END:
            running -= 1
        else:
            ui.data(redact(str(item), secrets))
