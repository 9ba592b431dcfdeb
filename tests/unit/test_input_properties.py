"""Property tests: the spec loader, the compose reader and the capped YAML path (which the
Kubernetes-manifest reader shares) take any document, generated or mutated, and either
accept it or fail with faktctl's own one-line error (exit 2): never a traceback, never an
unbounded run, in time or in memory."""

from __future__ import annotations

import contextlib
import os
import time
import tracemalloc
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from faktctl import safeyaml
from faktctl.audit.sources.compose.gather import gather_compose
from faktctl.audit.sources.kubernetes.objects import parse_objects
from faktctl.errors import ExitCode, FaktctlError
from faktctl.spec.load import parse_spec

NOW = datetime(2026, 1, 31, 12, 0, tzinfo=UTC)
# Per property (6 properties). The quick loop (`pytest tests/unit`) tries 100 documents each:
# enough for an alias bomb beyond the readers' budget in practically every run, and the cases
# these properties found are pinned with @example. The full suite runs them again, deeper
# (tests/cli/test_input_properties_deep.py); FAKTCTL_PROPERTY_EXAMPLES=20000 digs deeper still.
# Each example is one in-process parse of milliseconds.
EXAMPLES = int(os.environ.get("FAKTCTL_PROPERTY_EXAMPLES", "100"))
PER_EXAMPLE_S = 5.0
# Peak Python allocation while one document is read (tracemalloc). Today's readers peak at
# about 9 MiB on the largest alias expansion they accept (a 3-wide, 9-deep bomb of mappings in
# a spec), 1 MiB for compose files, under 1 MiB for ordinary documents. With the expansion cap
# taken out (safeyaml.check_expansion a no-op), a 10-wide, 7-deep bomb peaks at ~476 MiB in
# 91 s for a spec and ~91 MiB in 71 s for a compose file; 12 wide and 9 deep never finishes.
PER_EXAMPLE_BYTES = 64 * 1024 * 1024

SPEC_KEYS = [
    "version", "project", "server", "workers", "backup", "audit", "image", "environment",
    "ports", "protocol", "dashboard", "dashboard_exposure", "storage", "volume", "host_path",
    "password_file", "dashboard_password_file", "stop_grace_period", "resources", "memory",
    "cpus", "log_level", "env", "name", "replicas", "command", "build", "context", "dockerfile",
    "restart", "destination", "keep", "max_age", "ignore", "id", "reason", "expires", "x-a",
]  # fmt: skip
COMPOSE_KEYS = [
    "services", "faktory", "worker", "image", "command", "entrypoint", "environment",
    "env_file", "volumes", "ports", "secrets", "configs", "healthcheck", "test", "restart",
    "stop_grace_period", "deploy", "replicas", "networks", "network_mode", "user", "tmpfs",
    "x-faktctl-ignore", "x-faktctl-exposure", "labels", "depends_on", "mem_limit", "file",
    "name", "target", "source", "type", "read_only", "external", "FAKTORY_PASSWORD",
    "FAKTORY_URL", "FAKTORY_ENV", "build", "context",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**40), max_value=2**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(
        [
            "contribsys/faktory:1.9.4",
            "127.0.0.1:7419",
            "0.0.0.0:7420",
            "7419:7419",
            "production",
            "development",
            "60s",
            "2g",
            "/var/lib/faktory",
            "secrets/faktory_password",
            "${FAKTORY_PASSWORD}",
            "${A:?x}",
            "$$",
            "tcp://:pw@faktory:7419",
            "/faktory -b :7419 -e production",
        ]
    ),
    st.text(max_size=20),
)


def documents(keys: list[str]) -> st.SearchStrategy[Any]:
    key = st.one_of(st.sampled_from(keys), st.text(max_size=8))
    return st.recursive(
        SCALARS,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(key, inner, max_size=5),
        ),
        max_leaves=25,
    )


def top_level(keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), documents(keys), min_size=1, max_size=6)


YAML_NOISE = st.text(alphabet=":-[]{}&*!|>'\"#\n ,?%@`\t\\abc01", min_size=1, max_size=12)


@st.composite
def mutated(draw: st.DrawFn, base: str) -> str:
    """`base` with a few random edits: deleted slices, inserted YAML punctuation, anchors and
    aliases, a duplicated line."""
    text = base
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        edit = draw(st.sampled_from(["delete", "insert", "alias", "duplicate"]))
        if edit == "delete":
            text = text[:at] + text[at + draw(st.integers(min_value=1, max_value=15)) :]
        elif edit == "insert":
            text = text[:at] + draw(YAML_NOISE) + text[at:]
        elif edit == "alias":
            marker = draw(st.sampled_from([" &a ", " *a ", "<<: *a\n", " !!str "]))
            text = text[:at] + marker + text[at:]
        else:
            lines = text.splitlines(keepends=True) or [""]
            index = draw(st.integers(min_value=0, max_value=len(lines) - 1))
            text = "".join(lines[: index + 1] + lines[index:])
    return text


def _init_spec() -> str:
    from faktctl.commands.init import _spec_text

    return _spec_text("demo", [])


COMPOSE_BASE = """\
services:
  faktory:
    image: contribsys/faktory:1.9.4
    command: ["/faktory", "-b", ":7419", "-w", ":7420", "-e", "production"]
    environment:
      FAKTORY_PASSWORD: /run/secrets/faktory_password
    secrets: [faktory_password]
    volumes: ["data:/var/lib/faktory"]
    ports: ["127.0.0.1:7419:7419"]
    stop_grace_period: 60s
    restart: unless-stopped
  worker:
    image: shop/worker:1
    environment:
      FAKTORY_URL: tcp://:${FAKTORY_PASSWORD}@faktory:7419
volumes:
  data: {}
secrets:
  faktory_password:
    file: ./secrets/faktory_password
"""


@contextlib.contextmanager
def bounded() -> Iterator[None]:
    """Fail the example when reading it took PER_EXAMPLE_S or more, or when Python
    allocations peaked at PER_EXAMPLE_BYTES or more while it ran."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        yield
        seconds = time.monotonic() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert seconds < PER_EXAMPLE_S, f"{seconds:.1f} s"
    assert peak < PER_EXAMPLE_BYTES, f"peak {peak / 2**20:.0f} MiB"


def _check_spec(text: str) -> None:
    with bounded():
        try:
            parse_spec(text, Path("/nonexistent/faktory.yaml"))
        except FaktctlError as err:
            _assert_usage_error(err)


def _check_compose(folder: Path, text: str) -> None:
    path = folder / "compose.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    with bounded():
        try:
            gather_compose(path, {}, NOW)
        except FaktctlError as err:
            _assert_usage_error(err)


def _check_manifests(text: str) -> None:
    with bounded():
        try:
            parse_objects("manifests.yaml", text)
        except FaktctlError as err:
            _assert_usage_error(err)


def _assert_usage_error(err: FaktctlError) -> None:
    assert err.exit_code == ExitCode.USAGE, err.one_line()
    for line in err.one_line().splitlines():
        assert line.strip() and "Traceback" not in line


PROPERTY = settings(
    max_examples=EXAMPLES,
    deadline=None,  # a loaded machine is slow; the per-example bound is asserted instead
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    database=None,
)


@PROPERTY
@given(top_level(SPEC_KEYS))
@example({"server": {"\x1e\r": None}})  # found by this test: a key that broke the line
def test_generated_specs_load_or_fail_with_one_located_line(document: dict[str, Any]) -> None:
    _check_spec(yaml.safe_dump(document, sort_keys=False))


@PROPERTY
@given(st.data())
def test_mutated_specs_load_or_fail_with_one_located_line(data: st.DataObject) -> None:
    _check_spec(data.draw(mutated(_init_spec())))


@pytest.fixture(scope="module")
def compose_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose")


@PROPERTY
@given(document=top_level(COMPOSE_KEYS))
# found by this test: `build:` with no value, beside a server (a traceback, not a line)
@example(document={"services": {"faktory": {"image": "contribsys/faktory"}, "p": {"build": None}}})
def test_generated_compose_files_audit_or_fail_with_one_line(
    compose_folder: Path, document: dict[str, Any]
) -> None:
    _check_compose(compose_folder, yaml.safe_dump(document, sort_keys=False))


@PROPERTY
@given(data=st.data())
def test_mutated_compose_files_audit_or_fail_with_one_line(
    compose_folder: Path, data: st.DataObject
) -> None:
    _check_compose(compose_folder, data.draw(mutated(COMPOSE_BASE)))


@PROPERTY
@given(data=st.data())
def test_multi_document_streams_load_or_fail_with_one_line(data: st.DataObject) -> None:
    """The stream path Kubernetes manifests take (safeyaml.load_all)."""
    parts = data.draw(st.lists(documents(COMPOSE_KEYS), min_size=1, max_size=4))
    text = "---\n".join(yaml.safe_dump(part) for part in parts)
    text = data.draw(st.one_of(st.just(text), mutated(text)))
    with bounded():
        try:
            safeyaml.load_all(text, "manifests.yaml", max_nodes=5_000)
        except safeyaml.YamlLimitError as err:
            _assert_usage_error(err)
        except yaml.YAMLError:
            pass  # a syntax error: each reader places it as file:line:col (tested per reader)


# --- alias bombs: "billion laughs" of every width and depth, where the readers walk ------------


@st.composite
def alias_bomb(draw: st.DrawFn) -> tuple[str, str]:
    """(an `x-laughs:` block defining anchors a0..aN, each level a list of `width` aliases of
    the level below, and the alias of the top level). 12 wide and 9 deep stands for 5e9
    values; a reader that expands aliases without a limit never finishes that."""
    width = draw(st.integers(min_value=2, max_value=12))
    depth = draw(st.integers(min_value=1, max_value=9))
    leaf = draw(st.sampled_from(["lol", "''", "{k: v}", "[x, y]", "7", "${A}"]))
    lines = [f"  - &a0 {leaf}"]
    for level in range(1, depth + 1):
        lines.append(f"  - &a{level} [{', '.join([f'*a{level - 1}'] * width)}]")
    return "x-laughs:\n" + "\n".join(lines) + "\n", f"*a{depth}"


SPEC_WITH_BOMB = """\
{defs}version: 1
project: demo
server:
  image: contribsys/faktory:1.9.4
  env: {{BOMB: {top}}}
workers:
  - name: w
    image: shop/w:1
    command: {top}
"""
COMPOSE_WITH_BOMB = """\
{defs}services:
  faktory:
    image: contribsys/faktory:1.9.4
    environment: {top}
  worker:
    image: shop/w:1
    command: {top}
"""
MANIFEST_WITH_BOMB = """\
apiVersion: v1
kind: Pod
metadata: {{name: faktory}}
{defs}spec:
  containers:
    - name: faktory
      image: contribsys/faktory:1.9.4
      args: {top}
      env: {top}
"""


@PROPERTY
@given(bomb=alias_bomb(), reader=st.sampled_from(["spec", "compose", "manifests"]))
@example(bomb=("x-laughs:\n  - &a0 lol\n", "*a0"), reader="spec")
def test_alias_bombs_are_refused_or_read_within_time_and_memory(
    compose_folder: Path, bomb: tuple[str, str], reader: str
) -> None:
    defs, top = bomb
    if reader == "spec":
        _check_spec(SPEC_WITH_BOMB.format(defs=defs, top=top))
    elif reader == "compose":
        _check_compose(compose_folder, COMPOSE_WITH_BOMB.format(defs=defs, top=top))
    else:
        _check_manifests(MANIFEST_WITH_BOMB.format(defs=defs, top=top))


@pytest.mark.parametrize(
    "text",
    [
        'project: demo\nserver:\n  "\\x1e\\r": 1\n',  # an unknown key: record separator, CR
        "project: demo\nworkers: [\x1e]\n",  # a character YAML refuses, with a multi-line reason
    ],
)
def test_errors_about_odd_characters_stay_on_one_line(text: str) -> None:
    with pytest.raises(FaktctlError) as caught:
        parse_spec(text, Path("/nonexistent/faktory.yaml"))
    assert len(caught.value.one_line().splitlines()) == 1, caught.value.one_line()


# --- the Kubernetes reader on odd types, where a mapping or a number belongs (issue 24) -------

K8S_SERVER: dict[str, Any] = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "faktory"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "faktory"}},
        "template": {
            "metadata": {"labels": {"app": "faktory"}},
            "spec": {
                "containers": [
                    {
                        "name": "faktory",
                        "image": "contribsys/faktory:1.10.0",
                        "command": ["/faktory"],
                        "ports": [{"containerPort": 7419, "hostPort": 7419}],
                        "volumeMounts": [{"name": "v", "mountPath": "/var/lib/faktory"}],
                    }
                ],
                "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "d"}}],
            },
        },
    },
}
K8S_SERVICE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "faktory"},
    "spec": {"selector": {"app": "faktory"}, "ports": [{"port": 7419, "targetPort": 7419}]},
}
_POD = ("spec", "template", "spec")
_CONTAINER = (*_POD, "containers", 0)
# (document, path): every place the reader looks inside
K8S_PLACES = [
    (1, ("spec",)),
    (1, ("spec", "ports")),
    (1, ("spec", "ports", 0, "targetPort")),
    (1, ("spec", "selector")),
    (1, ("spec", "type")),
    (0, ("spec",)),
    (0, ("spec", "template")),
    (0, _POD),
    (0, (*_POD, "containers")),
    (0, (*_POD, "volumes", 0, "persistentVolumeClaim")),
    (0, (*_POD, "volumes", 0, "secret")),
    (0, (*_POD, "volumes", 0, "configMap")),
    (0, (*_POD, "volumes", 0, "emptyDir")),
    (0, (*_POD, "volumes", 0, "hostPath")),
    (0, (*_CONTAINER, "ports")),
    (0, (*_CONTAINER, "ports", 0, "containerPort")),
    (0, (*_CONTAINER, "ports", 0, "hostPort")),
    (0, (*_CONTAINER, "env")),
    (0, (*_CONTAINER, "resources")),
    (0, (*_CONTAINER, "volumeMounts")),
    (0, (*_CONTAINER, "livenessProbe")),
    (0, ("metadata",)),
    (0, ("metadata", "annotations")),
]
ODD_VALUES = st.one_of(
    st.sampled_from(["x", "", [], {}, None, True, -1, 0, 1.5, "7419", ["x"], {"a": 1}]),
    SCALARS,
)


@PROPERTY
@given(place=st.sampled_from(K8S_PLACES), value=ODD_VALUES, data=st.data())
@example(place=(1, ("spec",)), value="x", data=None)
@example(place=K8S_PLACES[9], value="x", data=None)
@example(place=K8S_PLACES[15], value=[], data=None)
def test_the_kubernetes_reader_takes_odd_types_without_a_traceback(
    compose_folder: Path, place: tuple[int, tuple[str | int, ...]], value: Any, data: Any
) -> None:
    import copy

    from faktctl.audit.runner import audit
    from faktctl.audit.sources.kubernetes.gather import gather_kubernetes

    docs = [copy.deepcopy(K8S_SERVER), copy.deepcopy(K8S_SERVICE)]
    index, path = place
    node: Any = docs[index]
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    manifest = compose_folder / "manifests.yaml"
    manifest.write_text("---\n".join(yaml.safe_dump(d) for d in docs))
    with bounded():
        try:
            audit(gather_kubernetes(str(manifest), NOW))
        except FaktctlError as err:
            _assert_usage_error(err)
