"""The Prometheus tools the monitoring tests check faktctl's output against, built from the
Go module proxy by ``provision.go_binary`` (cached, file-locked, shared across worktrees).

- ``promtool``: ``check metrics`` (the exposition), ``check rules`` and ``test rules``;
- ``prometheus_server``: a real server that scrapes ``faktctl metrics --listen`` and evaluates
  the rules. Built without the web UI's embedded assets (the ``builtinassets`` tag needs the
  UI's JavaScript build): the HTTP API (``/api/v1/...``) is all the tests read. The
  ``remove_all_sd`` tag leaves the cloud service discoveries out (static targets only);
- ``node_exporter``: reads the ``--textfile`` output through its textfile collector.
"""

from __future__ import annotations

from pathlib import Path

from tests.support.provision import go_binary

PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
PROMETHEUS_VERSION = "v0.316.0"
NODE_EXPORTER_MODULE = "github.com/prometheus/node_exporter"
NODE_EXPORTER_VERSION = "v1.12.1"


def promtool() -> Path:
    return go_binary(
        "promtool",
        PROMETHEUS_MODULE,
        PROMETHEUS_VERSION,
        f"{PROMETHEUS_MODULE}/cmd/promtool",
        tags=("remove_all_sd",),
    )


def prometheus_server() -> Path:
    return go_binary(
        "prometheus",
        PROMETHEUS_MODULE,
        PROMETHEUS_VERSION,
        f"{PROMETHEUS_MODULE}/cmd/prometheus",
        tags=("remove_all_sd",),
    )


def node_exporter() -> Path:
    return go_binary("node_exporter", NODE_EXPORTER_MODULE, NODE_EXPORTER_VERSION)


if __name__ == "__main__":  # python -m tests.support.prometheus: warm the cache
    for build in (promtool, node_exporter, prometheus_server):
        print(build())
