"""Compose-file reading details: interpolation, env files, units, ports, and invalid input."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from faktctl.audit.sources.compose.file import parse_duration, parse_size
from faktctl.audit.sources.compose.gather import gather_compose
from faktctl.audit.sources.compose.interpolate import (
    InterpolationError,
    Interpolator,
    parse_env_file,
)
from faktctl.audit.sources.compose.syntax import split_short_port
from faktctl.errors import UsageError

NOW = datetime(2026, 7, 1, tzinfo=UTC)


@pytest.fixture
def interp() -> Interpolator:
    return Interpolator({"SET": "shell", "EMPTY": ""}, {"SET": "dotenv", "FROM_FILE": "file"})


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("plain", "plain"),
        ("${SET}", "shell"),  # the shell beats .env
        ("$SET-x", "shell-x"),
        ("${FROM_FILE}", "file"),
        ("${MISSING:-dflt}", "dflt"),
        ("${EMPTY:-dflt}", "dflt"),
        ("${EMPTY-dflt}", ""),
        ("${MISSING-dflt}", "dflt"),
        ("${SET:+alt}", "alt"),
        ("${MISSING:+alt}", ""),
        ("${MISSING:-${SET}}", "shell"),
        ("cost $$5 and $${SET}", "cost $5 and ${SET}"),
        ("${MISSING}", None),
        ("${MISSING:?set it}", None),
        ("${EMPTY:?set it}", None),
        ("${EMPTY?set it}", ""),
        ("a $ b", "a $ b"),
    ],
)
def test_interpolation(interp: Interpolator, text: str, value: str | None) -> None:
    assert interp.resolve(text).value == value


def test_interpolation_records_where_values_come_from(interp: Interpolator) -> None:
    uses = interp.resolve("${SET}${FROM_FILE}${MISSING:-x}").uses
    assert [(u.name, u.source) for u in uses] == [
        ("SET", "environment"),
        ("FROM_FILE", "dotenv"),
        ("MISSING", "default"),
    ]


@pytest.mark.parametrize("text", ["${}", "${1X}", "${A", "${A!b}"])
def test_invalid_interpolation(interp: Interpolator, text: str) -> None:
    with pytest.raises(InterpolationError):
        interp.resolve(text)


def test_env_file_format() -> None:
    parsed = parse_env_file(
        "# comment\n\nA=1\nexport B=two words\nC='quoted # kept'\nD=\"x\"\nE=v # note\nF\n9=x\n"
    )
    assert parsed == {
        "A": "1",
        "B": "two words",
        "C": "quoted # kept",
        "D": "x",
        "E": "v",
        "F": None,
    }


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("10s", 10),
        ("1m30s", 90),
        ("2h", 7200),
        ("500ms", 0.5),
        (45, 45),
        ("1.5s", 1.5),
        ("x", None),
    ],
)
def test_durations(value: object, seconds: float | None) -> None:
    assert parse_duration(value) == seconds


@pytest.mark.parametrize(
    ("value", "size"),
    [("512m", 512 * 1024**2), ("2g", 2 * 1024**3), ("1GB", 1024**3), ("1.5g", int(1.5 * 1024**3)),
     (1048576, 1048576), ("lots", None)],
)  # fmt: skip
def test_sizes(value: object, size: int | None) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        ("7420", ("", "", "7420", "tcp")),
        ("7420:7420", ("", "7420", "7420", "tcp")),
        ("0.0.0.0:7420:7420/tcp", ("0.0.0.0", "7420", "7420", "tcp")),
        ("127.0.0.1::7420", ("127.0.0.1", "", "7420", "tcp")),
        ("[::1]:7420:7420", ("::1", "7420", "7420", "tcp")),
        ("[::]:7420:7420", ("::", "7420", "7420", "tcp")),
        ("7419-7420:7419-7420/udp", ("", "7419-7420", "7419-7420", "udp")),
    ],
)
def test_short_port_syntax(text: str, parts: tuple[str, str, str, str]) -> None:
    assert split_short_port(text) == parts


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("services: [oops\n", "invalid YAML"),
        ("- a\n- b\n", "not a compose file"),
        ("version: '3'\n", "no `services:` mapping"),
        ("services:\n  web:\n    image: nginx:1\n", "no Faktory server or worker"),
        ("services:\n  f:\n    image: contribsys/faktory\n    environment:\n      X: ${A\n",
         "invalid interpolation"),
        ("services:\n  f:\n    image: contribsys/faktory\n    x-faktctl-ignore: [{id: FKH001}]\n",
         "needs an `id` and a `reason`"),
        ("services:\n  f:\n    image: contribsys/faktory\n    x-faktctl-exposure: open\n",
         "x-faktctl-exposure must be"),
        ("services:\n  f: 3\n", "is not a mapping"),
    ],
)  # fmt: skip
def test_invalid_compose_files_are_usage_errors(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(content)
    with pytest.raises(UsageError, match=message):
        gather_compose(path, {}, NOW)


def test_locations_point_at_the_lines(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(
        "services:\n"
        "  faktory:\n"
        "    image: contribsys/faktory:1.9.4\n"
        "    ports:\n"
        '      - "127.0.0.1:7419:7419"\n'
        '      - "7420:7420"\n'
    )
    facts = gather_compose(path, {}, NOW)
    server = facts.servers[0]
    assert server.location is not None and server.location.line == 2
    assert [p.location.line for p in server.ports if p.location] == [5, 6]
    assert server.loc("image") is not None and server.loc("image").line == 3  # type: ignore[union-attr]


def test_unset_variables_in_ports_and_volumes_mean_what_compose_does(tmp_path: Path) -> None:
    path = tmp_path / "compose.yaml"
    path.write_text(
        "services:\n"
        "  faktory:\n"
        "    image: contribsys/faktory:1.9.4\n"
        '    ports: ["${BIND_IP}:7420:7420", "${LOCAL:-127.0.0.1}:7419:7419"]\n'
        '    volumes: ["${DATA_VOLUME}:/var/lib/faktory"]\n'
    )
    server = gather_compose(path, {}, NOW).servers[0]
    assert [(p.container_port, p.host_ip) for p in server.ports] == [
        (7420, ""),  # an unset variable is empty for compose: every interface
        (7419, "127.0.0.1"),
    ]
    assert server.ports[0].raw == (
        "${BIND_IP}:7420:7420 -> :7420:7420, assuming ${BIND_IP} unset as here: "
        "compose leaves it empty"
    )
    assert [(m.kind, m.target) for m in server.mounts] == [("anonymous", "/var/lib/faktory")]


def test_an_ingress_mode_port_is_open_on_every_interface(tmp_path: Path) -> None:
    path = tmp_path / "stack.yaml"
    path.write_text(
        "services:\n"
        "  faktory:\n"
        "    image: contribsys/faktory:1.10.0\n"
        "    ports:\n"
        "      - {target: 7419, published: 7419, host_ip: 127.0.0.1, mode: ingress}\n"
        "      - {target: 7420, published: 7420, host_ip: 127.0.0.1, mode: host}\n"
    )
    server = gather_compose(path, {}, NOW).servers[0]
    assert [(p.container_port, p.host_ip) for p in server.ports] == [
        (7419, ""),
        (7420, "127.0.0.1"),
    ]
    assert "every node" in server.ports[0].raw
