"""Counting and moving the queue keys (faktctl.faktory.keys) of a deployed server: the script
run inside the running server's Redis, or on the data volume of a stopped one."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Literal

from faktctl.adapters.docker.engine import ContainerConfig, Engine
from faktctl.desired import DATA_DIR, Mount
from faktctl.faktory.keys import (
    DB_DIR,
    MARK,
    OFFLINE_SHELL,
    OFFLINE_TIMEOUT_S,
    SCRIPT,
    SERVER_SOCKET,
    KeyMoveFailed,
    KeyReport,
    Mode,
    parse_report,
    script_arguments,
)
from faktctl.faktory.versions import DataFormat
from faktctl.journal import pause_for_tests
from faktctl.labels import JOB


def in_server(
    engine: Engine, container_id: str, mode: Mode, source: DataFormat, target: DataFormat
) -> KeyReport:
    """Run the script in a running server's Redis (atomic; clients may stay connected)."""
    args = ["redis-cli", "-s", SERVER_SOCKET, "--raw", "EVAL", SCRIPT, "0"]
    code, output = engine.exec(container_id, args + script_arguments(mode, source, target))
    text = output.decode("utf-8", "replace")
    if code != 0 or "ERR" in text.split("\n", 1)[0]:
        raise KeyMoveFailed(f"redis-cli in the server failed (exit {code}): {text.strip()[:300]}")
    return parse_report(text)


def offline(
    engine: Engine,
    image: str,
    mount: tuple[Literal["volume", "bind"], str],
    mode: Mode,
    source: DataFormat,
    target: DataFormat,
    labels: Mapping[str, str],
) -> KeyReport:
    """Run the script against the data volume of a stopped server, in a throwaway container
    with no network (only the image's redis-server, reachable through a socket in /tmp)."""
    shell = OFFLINE_SHELL.format(db=DB_DIR, mark=MARK)
    config = ContainerConfig(
        name=f"faktctl-keys-{secrets.token_hex(4)}",
        image=image,
        command=("sh", "-c", shell, "sh", SCRIPT, *script_arguments(mode, source, target)),
        env=(),
        labels=labels,
        mounts=(Mount(mount[0], mount[1], DATA_DIR),),
        network="none",
    )
    helper = engine.create_container(config)
    try:
        engine.start(helper, config.name)
        pause_for_tests(f"{labels.get(JOB, '')}:helper-running")
        code = engine.wait(helper, OFFLINE_TIMEOUT_S)
        text = engine.logs(helper).decode("utf-8", "replace")
    finally:
        engine.remove(helper, force=True)
    if code != 0:
        raise KeyMoveFailed(
            f"the throwaway Redis on the data volume failed (exit {code}): "
            + " | ".join(text.strip().splitlines()[-5:])
        )
    return parse_report(text, MARK)
