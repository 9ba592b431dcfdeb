"""FKD004 against the real server: whether a proxy container on the server's network gets an
answer from port 7420 is what the audit's effective-server model says it is.

No proxy image can be pulled here (no registry), so the proxy container is the local Faktory
image idling under busybox, asking `GET /health` on 7420 exactly as nginx's `proxy_pass` would;
the compose file the audit reads names an nginx service with that `proxy_pass`. Parsing of the
proxy forms themselves is held by tests/unit/test_audit_proxies.py and the audit corpus (whose
files docker compose v2 accepts)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from docker.models.containers import Container

from tests.support.cli import run_faktctl
from tests.support.e2e_fixtures import FaktoryServer

COMPOSE = """\
services:
  faktory:
    image: contribsys/faktory:1.10.0
    command: /faktory -b 0.0.0.0:7419 -w {binding} -e production
    environment:
      FAKTORY_PASSWORD: /run/secrets/pw
    secrets: [pw]
    volumes: [data:/var/lib/faktory]
  web:
    image: nginx:1.27-alpine
    ports: ["8080:80"]
    volumes: ["./default.conf:/etc/nginx/conf.d/default.conf:ro"]
volumes: {{data: {{}}}}
secrets:
  pw:
    file: ./pw
"""
NGINX = "server { listen 80; location / { proxy_pass http://faktory:7420; } }\n"


def _audit_fkd004(folder: Path, binding: str) -> tuple[str, str]:
    (folder / "compose.yaml").write_text(COMPOSE.format(binding=binding))
    (folder / "default.conf").write_text(NGINX)
    (folder / "pw").write_text("Zq4-Hn7cWx2Lm9Bv5Td8Rk3F\n")
    (folder / "pw").chmod(0o600)
    result = run_faktctl("audit", "--compose", "compose.yaml", "--format", "json", cwd=folder)
    findings = json.loads(result.stdout)["result"]["findings"]
    found = [f for f in findings if f["id"] == "FKD004" and f["service"] == "faktory"]
    assert len(found) == 1, result.output
    return found[0]["status"], found[0]["message"]


@pytest.mark.parametrize("binding", ["0.0.0.0:7420", "127.0.0.1:7420"])
def test_proxy_reach_matches_the_audit(
    binding: str,
    tmp_path: Path,
    faktory_image: str,
    faktory_server: Callable[..., FaktoryServer],
    run_container: Callable[..., Container],
) -> None:
    server = faktory_server(command=["/faktory", "-b", "0.0.0.0:7419", "-w", binding])
    proxy = run_container(
        faktory_image,
        entrypoint=["/bin/busybox", "sleep", "120"],
        command=[],
        network=server.network.name,
    )
    server.container.reload()
    # by address and with nc: the image's static busybox resolves no names and its wget fails
    ip = server.container.attrs["NetworkSettings"]["Networks"][server.network.name]["IPAddress"]
    ask = f"printf 'GET /health HTTP/1.0\\r\\n\\r\\n' | /bin/busybox nc -w 5 {ip} 7420"
    _, raw = proxy.exec_run(["/bin/busybox", "sh", "-c", ask])
    assert isinstance(raw, bytes)
    output = raw.decode(errors="replace")
    answered = output.startswith("HTTP/1.0 200")
    status, message = _audit_fkd004(tmp_path, binding)
    assert answered == (binding.startswith("0.0.0.0")), output
    if answered:
        assert status == "fail", message
        assert "`web`" in message and "8080:80" in message
    else:
        assert status == "pass", message
        assert f"-w {binding}" in message
