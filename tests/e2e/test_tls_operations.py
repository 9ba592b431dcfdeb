"""With TLS on (issue 26), the operations keep working: the dashboard tunnel passes TLS
through to the server, and backup, restore and upgrade reach it over TLS (real servers, a
1.9.4 deployment upgraded to 1.10.0)."""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from faktctl.adapters import probe
from faktctl.backups.manifest import Backup, read_manifest
from tests.support.producer import Producer, make_job
from tests.support.upkit import Deployment, dashboard_tunnel, make_deployment

__all__ = ["make_deployment"]  # the fixture, imported for pytest

KEPT = "kept"  # nobody fetches it: its size is the data that must survive


def _ca(deployment: Deployment) -> Path:
    return deployment.folder / "secrets" / "tls" / "ca.cert.pem"


def _producer(deployment: Deployment) -> Producer:
    tls = probe.Tls(ca_file=str(_ca(deployment)), server_name="faktory")
    return Producer("127.0.0.1", deployment.protocol_port, deployment.password, tls=tls)


def _kept_and_version(deployment: Deployment) -> tuple[int, str]:
    with _producer(deployment) as conn:
        info = conn.info()
        return int(conn.queue_sizes().get(KEPT, 0)), str(info["server"]["faktory_version"])


def _push(deployment: Deployment, count: int) -> None:
    with _producer(deployment) as conn:
        jobs = [make_job("demo.kept", [n], queue=KEPT) for n in range(count)]
        assert conn.push_many(jobs) == {}


@pytest.fixture
def deployment(
    make_deployment: Callable[..., Deployment], faktory_old_image: str, faktory_image: str
) -> Deployment:
    made = make_deployment()

    def tls_on_1_9(spec: dict[str, Any]) -> None:
        spec["server"]["tls"] = {"mode": "generate"}
        spec["server"]["image"] = faktory_old_image

    made.edit(tls_on_1_9)
    made.up()
    return made


def test_dashboard_backup_restore_and_upgrade_over_tls(deployment: Deployment) -> None:
    ca = _ca(deployment)
    with dashboard_tunnel(deployment, "https", lines=2) as (_, port, said):
        assert "passes TLS through" in said, said
        with httpx.Client(verify=ssl.create_default_context(cafile=str(ca)), timeout=30) as browser:
            # the certificate names `localhost` and 127.0.0.1: a browser on this machine trusts it
            url = f"https://localhost:{port}/"
            assert browser.get(url).status_code == 401
            assert browser.get(url, auth=("admin", deployment.password)).status_code == 200

    _push(deployment, 40)
    taken = deployment.faktctl("backup", "--json")
    assert taken.code == 0, taken.output
    manifest = Path(json.loads(taken.stdout)["result"]["manifest"])
    name = Backup(read_manifest(manifest), manifest).name
    _push(deployment, 25)
    assert _kept_and_version(deployment) == (65, "1.9.4")

    restored = deployment.faktctl("restore", name, "--yes")
    assert restored.code == 0, restored.output
    assert _kept_and_version(deployment) == (40, "1.9.4")

    upgraded = deployment.faktctl("upgrade", "--to", "1.10.0", "--yes")
    assert upgraded.code == 0, upgraded.output
    assert _kept_and_version(deployment) == (40, "1.10.0")

    outputs = "".join(run.output for run in deployment.runs)
    assert deployment.password not in outputs
