"""Reading where a reverse proxy forwards (faktctl.audit.sources.compose.proxyconf), and the
per-version
default command the audit assumes when a compose service gives none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from faktctl.audit.effective import IMAGE_CMD, image_default, resolve
from faktctl.audit.sources.compose import proxyconf
from faktctl.audit.sources.compose.proxies import kind_of
from faktctl.audit.sources.secretfacts import MAX_READ, read_config

NAMES = {"faktory", "jobs"}


def hits(found: proxyconf.Forwards) -> list[tuple[str, int]]:
    return [(t.host, t.port) for t in found.to(NAMES)]


def test_nginx_upstream_block_and_direct_proxy_pass() -> None:
    text = """
    upstream ui { server faktory:7420 weight=2; server backup.internal:7420 backup; }
    server { location / { proxy_pass http://ui; } }
    server { location /x { proxy_pass http://jobs:7420/; } }
    # proxy_pass http://faktory:7420;  (a comment is not a route)
    """
    found = proxyconf.nginx_forwards(text)
    assert hits(found) == [("faktory", 7420), ("jobs", 7420)]
    assert "upstream ui" in found.to(NAMES)[0].directive


def test_nginx_set_variable_is_resolved_and_unknown_variable_is_unresolved() -> None:
    assert hits(proxyconf.nginx_forwards("set $up faktory:7420; proxy_pass http://$up;")) == [
        ("faktory", 7420)
    ]
    found = proxyconf.nginx_forwards("proxy_pass http://${FAKTORY_HOST}:7420;")
    assert found.targets == [] and found.unresolved == ["proxy_pass http://${FAKTORY_HOST}:7420"]


def test_nginx_without_port_is_port_80_not_the_dashboard() -> None:
    found = proxyconf.nginx_forwards("location / { proxy_pass http://faktory; }")
    assert [(t.host, t.port) for t in found.targets] == [("faktory", 80)]
    assert hits(found) == []


def test_caddy_reverse_proxy_with_matcher_block_and_to() -> None:
    text = """
    jobs.example.com {
        reverse_proxy /faktory/* faktory:7420
        reverse_proxy {
            to http://jobs:7420 other:80
        }
    }
    """
    assert hits(proxyconf.caddy_forwards(text)) == [("faktory", 7420), ("jobs", 7420)]
    placeholder = proxyconf.caddy_forwards("reverse_proxy {$UPSTREAM}")
    assert placeholder.unresolved == ["reverse_proxy {$UPSTREAM}"]


def test_generic_configuration_finds_host_port_pairs() -> None:
    haproxy = "backend ui\n    server s1 faktory:7420 check\n"
    traefik_file = "http:\n  services:\n    ui:\n      loadBalancer:\n        servers:\n"
    traefik_file += '          - url: "http://jobs:7420"\n'
    assert hits(proxyconf.generic_forwards(haproxy)) == [("faktory", 7420)]
    assert hits(proxyconf.generic_forwards(traefik_file)) == [("jobs", 7420)]
    assert proxyconf.mentions("address: faktory\nport_value: 7420\n", NAMES)


def test_traefik_labels() -> None:
    labels = proxyconf.traefik_labels(
        {
            "traefik.enable": "true",
            "traefik.http.routers.ui.rule": "Host(`jobs.example.com`)",
            "traefik.http.services.ui.loadbalancer.server.port": "7420",
        }
    )
    assert labels.enabled is True and labels.ports == (7420,) and labels.routed
    assert proxyconf.traefik_labels({}).enabled is None
    assert proxyconf.traefik_labels({"traefik.enable": "False"}).enabled is False


def test_caddy_docker_proxy_labels() -> None:
    on = proxyconf.caddy_label_forwards({"caddy.reverse_proxy": "{{upstreams 7420}}"}, ["faktory"])
    assert hits(on) == [("faktory", 7420)]
    default = proxyconf.caddy_label_forwards(
        {"caddy_0.reverse_proxy": "{{upstreams}}"}, ["faktory"]
    )
    assert [(t.host, t.port) for t in default.targets] == [("faktory", 80)]


@pytest.mark.parametrize(
    ("image", "kind"),
    [
        ("nginx:1.27-alpine", "nginx"),
        ("openresty/openresty:alpine", "nginx"),
        ("jwilder/nginx-proxy", "nginx-proxy"),
        ("nginxproxy/nginx-proxy:1.6", "nginx-proxy"),
        ("traefik:v3.1", "traefik"),
        ("caddy:2", "caddy"),
        ("lucaslorentz/caddy-docker-proxy:2.9", "caddy-docker-proxy"),
        ("jc21/nginx-proxy-manager:2", "nginx-proxy-manager"),
        ("haproxy:2.9", "haproxy"),
        ("redis:7", None),
        ("contribsys/faktory:1.10.0", None),
    ],
)
def test_proxy_kind_from_image(image: str, kind: str | None) -> None:
    assert kind_of(image) == kind


def test_configuration_reader_refuses_what_is_not_a_small_regular_file(tmp_path: Path) -> None:
    small = tmp_path / "nginx.conf"
    small.write_text("proxy_pass http://faktory:7420;")
    assert read_config(small) == ("proxy_pass http://faktory:7420;", None)
    big = tmp_path / "big.conf"
    big.write_bytes(b"#" * (MAX_READ + 1))
    assert read_config(big)[1] == "it is larger than 64 KiB"
    fifo = tmp_path / "fifo.conf"
    os.mkfifo(fifo)
    assert read_config(fifo) == (None, "it is not a regular file")  # and it did not block
    assert read_config(tmp_path / "missing.conf") == (None, "it does not exist")
    assert read_config(tmp_path) == (None, "it is a folder")


def test_default_command_by_version() -> None:
    old = image_default("contribsys/faktory:1.3.0")
    assert old.argv == (*IMAGE_CMD, "-e", "development") and old.assumed is None
    assert image_default("contribsys/faktory:1.4.2").argv == IMAGE_CMD
    assert image_default("contribsys/faktory:1.10.0").argv == IMAGE_CMD
    ancient = image_default("contribsys/faktory:0.8.0")
    assert ancient.argv is None and "before 0.9.0" in ancient.note
    latest = image_default("contribsys/faktory:latest")
    assert (
        latest.argv == IMAGE_CMD and latest.assumed and "assumed a current image" in latest.assumed
    )
    digest = image_default("contribsys/faktory@sha256:" + "a" * 64)
    assert digest.assumed and "a digest" in digest.assumed
    assert image_default("someone/faktory-tls:2").argv is None


def test_old_servers_ignore_faktory_env() -> None:
    env: dict[str, str | None] = {"FAKTORY_ENV": "production"}
    assert resolve(IMAGE_CMD, env, []).environment == "production"
    old = resolve(IMAGE_CMD, env, [], reads_env=False)
    assert old.environment == "development" and old.env_var_ignored


def test_credentials_in_a_proxy_address_never_reach_a_message() -> None:
    found = proxyconf.nginx_forwards("proxy_pass http://admin:hunter2@faktory:7420;")
    assert hits(found) == [("faktory", 7420)]
    assert "hunter2" not in found.targets[0].directive
    line = 'url: "http://admin:hunter2@jobs:7420"'
    generic = proxyconf.generic_forwards(line)
    assert hits(generic) == [("jobs", 7420)]
    assert all("hunter2" not in t.directive for t in generic.targets)
