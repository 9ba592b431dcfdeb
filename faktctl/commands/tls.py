"""faktctl tls rotate: a new server certificate (or a new CA and certificate), then `up`.

The server reads its certificate once at start, so the new one takes effect when `up`
recreates the server container (its data volume stays; on a swarm the server service moves to
new content-named secrets); workers keep their URL and reconnect
on their own. With --new-ca the workers faktctl runs get the new CA too (they are recreated);
workers on other hosts must be given `secrets/tls/ca.cert.pem` again.
"""

from __future__ import annotations

import time
from pathlib import Path

from faktctl import ui
from faktctl.errors import UsageError


def rotate(file: Path | None, *, new_ca: bool, timeout_s: float) -> int:
    from faktctl.live.tls import prepare
    from faktctl.lock import project_lock
    from faktctl.platforms import platform_of
    from faktctl.project import load, project_of
    from faktctl.secretfiles import read_server_password

    started = time.monotonic()
    loaded = load(file)
    if loaded.spec.server.tls.mode != "generate":
        raise UsageError(
            f"server.tls.mode is {loaded.spec.server.tls.mode}: faktctl rotates only the "
            "certificates it generates",
            "with mode files replace the files, then run `faktctl up`",
        )
    with project_lock(loaded.base_dir, loaded.spec.project, "tls rotate") as stale:
        if stale is not None:
            ui.info(f"note: taking over the lock left by {stale.describe()}, which has ended")
        prepared = prepare(loaded, renew=True, new_ca=new_ca)
        assert prepared is not None
        for line in prepared.done:
            ui.info(f"tls: {line}")
        project = project_of(loaded, read_server_password(loaded))
        platform = platform_of(project)
        engine = platform.connect()
        try:
            return platform.apply(engine, "missing", timeout_s, started)
        finally:
            engine.close()
