"""The classes of misses found on public files nobody tuned the audit to (issue 22 §3) and the
leftovers of issue 24 in the same readers: each mechanism, by what a user sees."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from faktctl.audit.effective import faktory_args, parse_flags, resolve
from faktctl.audit.runner import audit
from faktctl.audit.sources import hcljson
from faktctl.audit.sources.compose.gather import gather_compose
from faktctl.audit.sources.kubernetes.gather import gather_kubernetes
from faktctl.faktory.versions import server_flags

NOW = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "argv",
    [
        ("sh", "-c", "while true; do killall -HUP faktory; sleep 1; done"),
        ("sh", "-c", "kill -HUP $(pidof faktory)"),
        ("pkill", "-HUP", "faktory"),
        ("sh", "-c", "echo starting faktory"),
    ],
)
def test_a_command_that_only_names_faktory_does_not_run_it(argv: tuple[str, ...]) -> None:
    assert faktory_args(argv) is None


@pytest.mark.parametrize(
    "argv",
    [
        ("/faktory", "-e", "production"),
        ("tini", "--", "/faktory", "-e", "production"),
        ("sh", "-c", "exec /faktory -e production"),
        ("sh", "-c", "chown -R 1000 /var/lib/faktory && exec gosu app /faktory -e production"),
        ("env", "A=b", "faktory", "-e", "production"),
    ],
)
def test_a_command_that_runs_faktory_is_found_behind_wrappers(argv: tuple[str, ...]) -> None:
    assert faktory_args(argv) == ("-e", "production")


def test_flags_are_checked_against_the_servers_real_flag_set() -> None:
    strings, booleans = server_flags((1, 9, 4))
    assert strings == {"b", "w", "e", "l", "d", "c"} and booleans == {"v", "h", "help"}
    assert server_flags((1, 10, 0)) == (strings, booleans)
    assert parse_flags(["-no-tls", "-e", "production"]).error == (
        "flag provided but not defined: -no-tls"
    )


def test_a_command_starting_with_a_flag_never_starts() -> None:
    eff = resolve(("-b", ":7419", "-e", "production"), {}, [])
    assert eff.cannot_start is not None and "no ENTRYPOINT" in eff.cannot_start
    assert eff.environment is None  # no "production check" for a server that never runs
    refused = resolve(("/faktory", "-no-tls", "-e", "production"), {}, [])
    assert refused.cannot_start is not None and "exits 2" in refused.cannot_start
    assert resolve(("/faktory", "-e", "production"), {}, []).cannot_start is None


@pytest.mark.parametrize(
    ("version", "status"), [("0.5.0", "skip"), ("0.9.0", "fail"), ("1.9.4", "fail")]
)
def test_an_image_older_than_the_known_command_facts_is_not_judged(
    tmp_path: Path, version: str, status: str
) -> None:
    """0.5.x and 0.6.x images had ENTRYPOINT ["/faktory"] and a -no-tls flag: a command of
    flags only did run there (cdrx/faktory_worker_python's compose file of 2017)."""
    path = _compose(
        tmp_path,
        f"services:\n  faktory:\n    image: contribsys/faktory:{version}\n"
        "    command: -b 0.0.0.0:7419 -no-tls\n",
    )
    report = audit(gather_compose(path, {}, NOW))
    (fkm003,) = [f for f in report.findings if f.id == "FKM003"]
    assert fkm003.status == status, fkm003.message
    if status == "skip":
        assert "older than 0.9.0 is not judged" in fkm003.message


def _compose(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "compose.yaml"
    path.write_text(text)
    return path


def test_the_compose_1x_layout_is_read_and_named(tmp_path: Path) -> None:
    path = _compose(
        tmp_path,
        "faktory:\n  image: contribsys/faktory:1.10.0\n  command: /faktory -e production\n"
        "x-note: {a: b}\n",
    )
    facts = gather_compose(path, {}, NOW)
    assert [s.service for s in facts.servers] == ["faktory"]
    assert any("docker-compose 1.x layout" in note for note in facts.notes)


def test_a_port_whose_container_side_is_unset_is_said(tmp_path: Path) -> None:
    path = _compose(
        tmp_path,
        "services:\n  faktory:\n    image: contribsys/faktory:1.10.0\n"
        '    ports: ["127.0.0.1:7420:${INNER}"]\n',
    )
    notes = gather_compose(path, {}, NOW).notes
    assert any("${INNER}" in note and "container side is empty" in note for note in notes)


def test_an_empty_enterprise_config_is_no_enterprise_feature(tmp_path: Path) -> None:
    body = (
        "services:\n  faktory:\n    image: contribsys/faktory:1.10.0\n"
        "    configs: [{source: cron, target: /etc/faktory/conf.d/cron.toml}]\n"
        "configs:\n  cron:\n    content: {text}\n"
    )
    for text, status in (('""', "pass"), ('"[[cron]]\\nschedule = \\"* * * * *\\""', "fail")):
        path = _compose(tmp_path, body.replace("{text}", text))
        report = audit(gather_compose(path, {}, NOW))
        assert next(f for f in report.findings if f.id == "FKH007").status == status


def test_a_short_syntax_config_is_read_as_proxy_configuration(tmp_path: Path) -> None:
    (tmp_path / "nginx.conf").write_text(
        "events {}\nhttp { server { listen 80; location / { proxy_pass http://faktory:7420; } } }\n"
    )
    path = _compose(
        tmp_path,
        "services:\n  faktory:\n    image: contribsys/faktory:1.10.0\n"
        "    command: /faktory -e production -w :7420\n"
        "  proxy:\n    image: nginx:1.27\n    ports: ['80:80']\n"
        "    configs: [nginx_conf]\n    command: [nginx, -c, /nginx_conf, -g, 'daemon off;']\n"
        "configs:\n  nginx_conf:\n    file: ./nginx.conf\n",
    )
    facts = gather_compose(path, {}, NOW)
    assert [(r.proxy, r.state) for r in facts.proxies] == [("proxy", "forwards")]


KUBE_V1BETA1 = """\
apiVersion: apps/v1
kind: Deployment
metadata: {name: faktory}
spec:
  strategy: {type: RollingUpdate}
  selector: {matchLabels: {app: faktory}}
  template:
    metadata: {labels: {app: faktory}}
    spec:
      containers:
        - name: faktory
          image: contribsys/faktory:1.10.0
          command: ["/faktory", "-e", "production", "-w", ":7420"]
          env: [{name: FAKTORY_PASSWORD, valueFrom: {secretKeyRef: {name: pw, key: pw}}}]
          ports: [{name: ui, containerPort: 7420}]
---
apiVersion: v1
kind: Service
metadata: {name: ui}
spec:
  selector: {app: faktory}
  ports: [{name: http, port: 80, targetPort: ui}]
---
apiVersion: extensions/v1beta1
kind: Ingress
metadata: {name: ui}
spec:
  backend: {serviceName: ui, servicePort: 80}
"""


def test_v1beta1_ingress_backends_reach_the_dashboard_and_messages_fit(tmp_path: Path) -> None:
    path = tmp_path / "k8s.yaml"
    path.write_text(KUBE_V1BETA1)
    report = audit(gather_kubernetes(str(path), NOW))
    found = {f.id: f for f in report.findings}
    assert found["FKD020"].status == "fail" and "Ingress ui" in found["FKD020"].message
    assert "docker inspect" not in found["FKS005"].message
    assert "kubectl exec" in found["FKS005"].message
    # an emptyDir-less rolling Deployment: no shared data volume to speak of
    assert "each keeps its own data" in found["FKP020"].message
    assert "nothing is reachable beyond loopback" not in found["FKD003"].message


def test_kustomize_build_of_our_render_is_no_committed_password(tmp_path: Path) -> None:
    """What `kustomize build` makes of faktctl's render: the Secret carries the generator
    annotation (generatorOptions), so FKS004 passes on faktctl's own output."""
    from faktctl.labels import GENERATED_FROM

    built = KUBE_V1BETA1.split("---")[0].replace(
        "valueFrom: {secretKeyRef: {name: pw, key: pw}}",
        "valueFrom: {secretKeyRef: {name: pw-5f2k8c9d7b, key: pw}}",
    ) + (
        "---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: pw-5f2k8c9d7b\n"
        f"  annotations: {{{GENERATED_FROM}: files}}\ntype: Opaque\n"
        "data: {pw: c2VjcmV0LXBhc3N3b3JkLTAxMjM0NTY3ODk=}\n"
    )
    path = tmp_path / "built.yaml"
    path.write_text(built)
    report = audit(gather_kubernetes(str(path), NOW))
    assert next(f for f in report.findings if f.id == "FKS004").status == "pass"
    committed = built.replace(f"  annotations: {{{GENERATED_FROM}: files}}\n", "")
    path.write_text(committed)
    report = audit(gather_kubernetes(str(path), NOW))
    assert next(f for f in report.findings if f.id == "FKS004").status == "fail"


def test_terraform_jsonencode_becomes_json_on_the_same_lines() -> None:
    text = 'jsonencode([\n  {\n    name = "faktory"\n    port = var.port\n  },\n])'
    converted, unknown = hcljson.to_json(text[len("jsonencode(") : -1])
    assert converted.count("\n") == text.count("\n")
    assert unknown == ["var.port"]
    import json

    assert json.loads(converted) == [{"name": "faktory", "port": None}]


def test_interpolations_with_quotes_stay_inside_their_string() -> None:
    import json

    converted, _ = hcljson.to_json('[{ image = "x:${lookup(var.m, "tag")}", n = 1 }]')
    assert json.loads(converted) == [{"image": 'x:${lookup(var.m, "tag")}', "n": 1}]
    heredoc = hcljson.json_with_interpolations('{"a": "${lookup(v, "k")}", "b": ${var.x}}')
    assert json.loads(heredoc) == {"a": '${lookup(v, "k")}', "b": None}


ODD_FILES = {
    "task.json": '{"containerDefinitions": [1, "x", {"name": 5,'
    ' "image": "contribsys/faktory:1.10.0", "portMappings": "x",'
    ' "environment": [1, {"name": null}], "mountPoints": {"a": 1},'
    ' "command": "no", "memory": "lots", "healthCheck": [], "stopTimeout": "x"}],'
    ' "volumes": "x", "networkMode": 3, "memory": []}',
    "render.yaml": "services:\n- type: web\n  name: faktory\n  runtime: image\n  image: 5\n"
    "  envVars: x\n  disk: [1]\n  numInstances: many\n  scaling: 3\n  plan: [1]\n"
    "- type: pserv\n  name: f2\n  runtime: image\n  image: {url: contribsys/faktory:1.10.0}\n"
    "  envVars: [1, {key: null}, {fromGroup: 3}]\n  disk: {mountPath: 5}\n",
    "fly.toml": 'app = "a"\nkill_timeout = "soon"\n[build]\nimage = "contribsys/faktory:1.10.0"\n'
    '[env]\nA = 1\n[processes]\napp = ""\n[[services]]\ninternal_port = "x"\nports = 3\n'
    '[[vm]]\nmemory = "lots"\n[[mounts]]\nsource = 1\ndestination = 2\n[checks]\nx = 1\n',
}


@pytest.mark.parametrize("name", sorted(ODD_FILES))
def test_odd_types_in_platform_files_never_crash(name: str, tmp_path: Path) -> None:
    from faktctl.commands.audit import gather
    from faktctl.errors import FaktctlError

    (tmp_path / name).write_text(ODD_FILES[name])
    try:
        report = audit(gather(None, tmp_path / name, False, {}))
    except FaktctlError as err:
        assert "\n" not in str(err).strip()
        return
    assert all(not f.message.startswith("the check could not run") for f in report.findings)
