"""The swarm translation of the desired state, and the plan from observed swarm objects."""

from __future__ import annotations

from pathlib import Path

import pytest

from faktctl.desired import Secrets, build_desired
from faktctl.errors import SpecError
from faktctl.platforms.swarm.plan import (
    SHELL_WRAPPER,
    Observed,
    ObservedService,
    SwarmDesired,
    SwarmPlanError,
    plan,
    translate,
)
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import parse_spec
from tests.support.planning import SWARM_ENTRIES, SWARM_SPEC


def _swarm(text: str = SWARM_SPEC, password: str = "pw-one") -> SwarmDesired:
    loaded = parse_spec(text, Path("/srv/shop/faktory.yaml"))
    desired = build_desired(loaded, Secrets(SecretStr(password)))
    return translate(desired, SecretStr(password), None, SWARM_ENTRIES)


def test_server_is_one_pinned_stop_first_replica_with_its_password_as_a_secret() -> None:
    server = _swarm().server
    assert server.name == "shop_faktory" and server.replicas == 1
    assert server.constraints == ("node.labels.faktory.server==true",)
    assert server.update.order == "stop-first"
    assert ("FAKTORY_PASSWORD", "/run/secrets/faktory_password") in server.env
    assert [m.target for m in server.secrets] == ["/run/secrets/faktory_password"]
    assert server.args is not None and "-e" in server.args and "production" in server.args
    assert server.published_port is None and server.aliases == ("faktory",)
    assert server.mounts[0].source == "shop_data" and server.healthcheck is not None


def test_workers_never_carry_the_url_in_their_environment() -> None:
    swarm = _swarm()
    for worker in swarm.workers:
        assert all(name != "FAKTORY_URL" for name, _ in worker.env)
        assert "pw-one" not in repr(worker)
        assert [m.target for m in worker.secrets] == ["/run/secrets/faktory_url"]
        assert worker.update.order == "start-first"
        assert worker.update.failure_action == "rollback"
        assert worker.update.parallelism == 2
        assert worker.spread == ("node.labels.zone",)


def test_shell_delivery_keeps_the_images_entrypoint_and_command() -> None:
    emails = _swarm().workers[0]
    assert emails.entrypoint == SHELL_WRAPPER
    assert emails.args == ("/usr/bin/emails", "--serve")


def test_file_delivery_leaves_the_command_alone() -> None:
    reports = _swarm().workers[1]
    assert reports.entrypoint is None and reports.args == ("report", "--fast")
    assert ("FAKTORY_URL_FILE", "/run/secrets/faktory_url") in reports.env


def test_shell_delivery_needs_the_image_inspected() -> None:
    loaded = parse_spec(SWARM_SPEC, Path("/srv/shop/faktory.yaml"))
    desired = build_desired(loaded, Secrets(SecretStr("pw")))
    with pytest.raises(SwarmPlanError, match="emails:1 was not inspected"):
        translate(desired, SecretStr("pw"), None, {})


def test_secrets_are_named_by_content_so_a_new_password_is_a_new_secret() -> None:
    one, two = _swarm(password="pw-one"), _swarm(password="pw-two")
    assert {s.key for s in one.secrets} == {"password", "url"}
    assert not {s.name for s in one.secrets} & {s.name for s in two.secrets}
    assert one.server.config_hash() != two.server.config_hash()
    assert _swarm(password="pw-one").secrets == one.secrets


def _observed(swarm: SwarmDesired, **changes: str) -> Observed:
    return Observed(
        network=True,
        secrets=tuple(s.name for s in swarm.secrets),
        services=tuple(
            ObservedService(
                f"id-{s.service}", s.name, 7, changes.get(s.service, s.config_hash()), s.service
            )
            for s in swarm.services
        ),
    )


def test_plan_is_a_noop_when_everything_matches() -> None:
    swarm = _swarm()
    assert plan(swarm, _observed(swarm)).up_to_date


def test_plan_creates_everything_on_an_empty_swarm_server_first() -> None:
    swarm = _swarm()
    the_plan = plan(swarm, Observed(network=False, secrets=(), services=()))
    kinds = [a.kind for a in the_plan.actions]
    assert kinds[:3] == ["create-network", "create-secret", "create-secret"]
    assert next(a.target for a in the_plan.of("create-service")) == "shop_faktory"


def test_plan_rotates_secrets_and_removes_leftovers() -> None:
    old, new = _swarm(password="pw-one"), _swarm(password="pw-two")
    observed = _observed(old)
    observed = Observed(
        network=True,
        secrets=observed.secrets,
        services=(*observed.services, ObservedService("id-x", "shop_gone", 3, "h", "gone")),
    )
    the_plan = plan(new, observed)
    assert len(the_plan.of("create-secret")) == 2
    assert {a.target for a in the_plan.of("remove-secret")} == {s.name for s in old.secrets}
    assert len(the_plan.of("update-service")) == 3
    assert [a.target for a in the_plan.of("remove-service")] == ["shop_gone"]


def test_a_changed_worker_is_updated_and_the_server_kept() -> None:
    swarm = _swarm()
    the_plan = plan(swarm, _observed(swarm, emails="old-hash"))
    assert [a.target for a in the_plan.changes] == ["shop_emails"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("", "needs a swarm section"),
        ("swarm: {server_node: {hostname: a, label: b=c}}\n", "exactly one of hostname or label"),
        ("swarm: {server_node: {hostname: a}, publish: 7419}\n", "unknown key"),
        ("swarm: {server_node: {hostname: a}, workers: {nope: {}}}\n", "not a worker"),
        (
            "server: {ports: {protocol: none}}\nswarm: {server_node: {hostname: a}}\n",
            "server.ports",
        ),
    ],
)
def test_swarm_spec_errors(extra: str, message: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("project: p\nplatform: swarm\n" + extra, Path("/x/faktory.yaml"))
    assert message in "\n".join(caught.value.problems)


def test_swarm_section_on_the_engine_platform_is_an_error() -> None:
    with pytest.raises(SpecError) as caught:
        parse_spec("project: p\nswarm: {server_node: {hostname: a}}\n", Path("/x/faktory.yaml"))
    assert "applies only to `platform: swarm`" in caught.value.problems[0]


def test_stack_file_carries_the_same_services_labels_and_external_secrets() -> None:
    import yaml

    from faktctl.platforms.swarm.stack import render_stack

    swarm = _swarm()
    text = render_stack(swarm, "faktory.yaml")
    assert "pw-one" not in text
    document = yaml.safe_load(text)
    server = document["services"]["faktory"]
    assert server["deploy"]["labels"]["io.faktctl.config-hash"] == swarm.server.config_hash()
    assert server["deploy"]["update_config"]["order"] == "stop-first"
    assert server["deploy"]["replicas"] == 1
    assert server["deploy"]["restart_policy"]["condition"] == "any"
    assert "ports" not in server
    assert document["networks"]["default"] == {
        "name": "shop_default",
        "driver": "overlay",
        "attachable": True,
        "labels": {"io.faktctl.managed": "true", "io.faktctl.project": "shop"},
    }
    assert all(v == {"external": True} for v in document["secrets"].values())
    assert set(document["secrets"]) == {s.name for s in swarm.secrets}
    emails = document["services"]["emails"]
    assert emails["entrypoint"][0] == "/bin/sh" and emails["command"][0] == "/usr/bin/emails"
    assert emails["deploy"]["placement"]["preferences"] == [{"spread": "node.labels.zone"}]


TLS_SPEC = SWARM_SPEC.replace(
    "  image: contribsys/faktory:1.10.0\n",
    "  image: contribsys/faktory:1.10.0\n  tls: {mode: generate}\n",
)
TLS_FILES = {
    "/srv/shop/secrets/tls/server.cert.pem": SecretStr("CERT one"),
    "/srv/shop/secrets/tls/server.key.pem": SecretStr("KEY one"),
    "/srv/shop/secrets/tls/ca.cert.pem": SecretStr("CA one"),
}


def _tls_swarm(files: dict[str, SecretStr] = TLS_FILES) -> SwarmDesired:
    loaded = parse_spec(TLS_SPEC, Path("/srv/shop/faktory.yaml"))
    desired = build_desired(loaded, Secrets(SecretStr("pw")))
    return translate(desired, SecretStr("pw"), None, SWARM_ENTRIES, files)


def test_tls_files_are_secrets_at_the_paths_the_desired_state_mounts_them() -> None:
    swarm = _tls_swarm()
    server = swarm.server
    secrets = {m.target: m for m in server.secrets}
    assert set(secrets) == {
        "/run/secrets/faktory_password",
        "/etc/faktory/public.cert.pem",
        "/etc/faktory/private.key.pem",
    }
    assert secrets["/etc/faktory/private.key.pem"].mode == 0o400
    assert secrets["/etc/faktory/public.cert.pem"].mode == 0o444
    assert not any(m.target.endswith(".pem") for m in server.mounts)  # no bind of host files
    by_name = {s.name: s for s in swarm.secrets}
    assert by_name[secrets["/etc/faktory/private.key.pem"].secret].key == "tls_key"
    assert {s.key for s in swarm.secrets} == {"password", "url", "tls_cert", "tls_key", "tls_ca"}
    for worker in swarm.workers:
        ca = {m.target: m for m in worker.secrets}["/etc/faktctl/ca.cert.pem"]
        assert ca.mode == 0o444 and by_name[ca.secret].key == "tls_ca"
        assert ("SSL_CERT_FILE", "/etc/faktctl/ca.cert.pem") in worker.env
        assert not worker.mounts


def test_a_renewed_certificate_is_a_new_secret_that_updates_the_server_only() -> None:
    before = _tls_swarm()
    renewed = dict(TLS_FILES)
    renewed["/srv/shop/secrets/tls/server.cert.pem"] = SecretStr("CERT two")
    renewed["/srv/shop/secrets/tls/server.key.pem"] = SecretStr("KEY two")
    after = _tls_swarm(renewed)
    assert after.server.config_hash() != before.server.config_hash()
    assert [w.config_hash() for w in after.workers] == [w.config_hash() for w in before.workers]
    observed = Observed(
        network=True,
        secrets=tuple(sorted(s.name for s in before.secrets)),
        services=tuple(
            ObservedService(f"id-{s.name}", s.name, 1, s.config_hash(), s.service)
            for s in before.services
        ),
    )
    the_plan = plan(after, observed)
    assert [a.reason for a in the_plan.of("create-secret")] == [
        "server's TLS certificate",
        "server's TLS key",
    ]
    assert [a.target for a in the_plan.of("update-service")] == ["shop_faktory"]
    assert len(the_plan.of("remove-secret")) == 2


def test_tls_files_not_read_stop_the_translation() -> None:
    with pytest.raises(SwarmPlanError, match=r"server\.cert\.pem was not read"):
        _tls_swarm({})
