"""Each worker stops the way its library needs (issue 23 §1): the spec's grace period, stop
signal and quiet mode reach the engine, compose, swarm and Kubernetes output."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from faktctl.errors import SpecError
from faktctl.platforms.compose import render
from faktctl.platforms.engine.apply import container_config
from faktctl.platforms.kubernetes import render_kubernetes
from faktctl.platforms.swarm.objects import service_body
from faktctl.platforms.swarm.plan import translate
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import parse_spec
from tests.support.planning import SWARM_ENTRIES, SWARM_SPEC, desired_from

SPEC = """\
project: shop
workers:
  - name: plain
    image: plain:1
  - name: slow
    image: slow:1
    stop_grace_period: 2m
    stop_signal: SIGQUIT
    quiet: signal
"""


def test_defaults_are_above_the_libraries_shutdown_wait() -> None:
    desired = desired_from(SPEC)
    plain = desired.service("plain")
    assert (plain.stop_grace_s, plain.stop_signal, plain.quiet) == (30, None, "server")
    slow = desired.service("slow")
    assert (slow.stop_grace_s, slow.stop_signal, slow.quiet) == (120, "SIGQUIT", "signal")


def test_quiet_mode_is_not_container_configuration() -> None:
    changed = desired_from(SPEC.replace("quiet: signal", "quiet: none"))
    assert changed.service("slow").config_hash() == desired_from(SPEC).service("slow").config_hash()


def test_the_engine_container_gets_grace_and_signal() -> None:
    desired = desired_from(SPEC)
    plain = container_config(desired, desired.service("plain"), 1)
    slow = container_config(desired, desired.service("slow"), 1)
    assert (plain.stop_timeout_s, plain.stop_signal) == (30, None)
    assert (slow.stop_timeout_s, slow.stop_signal) == (120, "SIGQUIT")


def test_compose_renders_grace_and_signal(tmp_path: Path) -> None:
    compose = yaml.safe_load(render(desired_from(SPEC), tmp_path, "faktory.yaml").compose)
    assert compose["services"]["plain"]["stop_grace_period"] == "30s"
    assert "stop_signal" not in compose["services"]["plain"]
    assert compose["services"]["slow"]["stop_grace_period"] == "120s"
    assert compose["services"]["slow"]["stop_signal"] == "SIGQUIT"


def test_swarm_workers_keep_start_first_and_get_grace_and_signal() -> None:
    text = SWARM_SPEC.replace("replicas: 3\n", "replicas: 3\n    stop_signal: SIGINT\n")
    desired = desired_from(text)
    swarm = translate(desired, SecretStr("pw"), None, SWARM_ENTRIES)
    emails = next(s for s in swarm.services if s.service == "emails")
    assert emails.update.order == "start-first"
    secrets = {m.secret: "sid" for m in emails.secrets}
    container = service_body(emails, "shop", secrets, {})["task_template"]["ContainerSpec"]
    assert container["StopGracePeriod"] == 30 * 10**9
    assert container["StopSignal"] == "SIGINT"


def test_kubernetes_worker_pods_get_the_grace_period() -> None:
    files = render_kubernetes(desired_from(SPEC), SecretStr("pw"), "faktory.yaml")
    deployments = {
        doc["metadata"]["name"]: doc
        for text in files.manifests.values()
        for doc in yaml.safe_load_all(text)
        if isinstance(doc, dict) and doc.get("kind") == "Deployment"
    }
    pod = deployments["slow"]["spec"]["template"]["spec"]
    assert pod["terminationGracePeriodSeconds"] == 120
    assert deployments["plain"]["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 30
    assert deployments["plain"]["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


@pytest.mark.parametrize("line", ["stop_signal: TERM", "quiet: tstp", "stop_signal: SIGterm"])
def test_bad_values_are_refused(line: str) -> None:
    key = line.split(":")[0]
    text = "\n".join(line if f" {key}:" in old else old for old in SPEC.splitlines())
    with pytest.raises(SpecError):
        parse_spec(text, Path("/srv/shop/faktory.yaml"))
