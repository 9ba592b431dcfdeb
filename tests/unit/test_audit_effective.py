"""faktctl.audit.effective mirrors the server's start-up logic (FAKTORY.md §1-2)."""

from __future__ import annotations

import pytest

from faktctl.audit.effective import (
    IMAGE_CMD,
    FileView,
    faktory_args,
    parse_flags,
    resolve,
)
from faktctl.audit.model import MountFact

PROD = ("/faktory", "-e", "production", "-b", ":7419", "-w", ":7420")


def secret(target: str, content: str | None) -> MountFact:
    return MountFact("secret", target, "pw", True, content, False)


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (IMAGE_CMD, IMAGE_CMD[1:]),
        (("/sbin/tini", "--", "/faktory", "-e", "staging"), ("-e", "staging")),
        (("/bin/sh", "-c", "echo hi; exec /faktory -e production"), ("-e", "production")),
        (("sh", "-c", "set -e && /usr/bin/faktory -b :7419"), ("-b", ":7419")),
        (("/entrypoint.sh", "start"), None),
        (("faktory",), ()),
    ],
)
def test_finds_the_faktory_arguments(
    argv: tuple[str, ...], expected: tuple[str, ...] | None
) -> None:
    assert faktory_args(argv) == expected


def test_flags_parse_like_go() -> None:
    flags = parse_flags(["-e=staging", "--b", ":1", "-e", "production", "extra", "-d", "/x"])
    assert flags.values == {"e": "production", "b": ":1"}  # stops at the first non-flag
    assert parse_flags(["-x"]).error == "flag provided but not defined: -x"
    assert parse_flags(["-e"]).error == "flag needs an argument: -e"
    assert parse_flags(["--", "-e", "production"]).values == {}


def test_default_command_runs_in_development_with_home_data_dir() -> None:
    eff = resolve(IMAGE_CMD, {}, [])
    assert (eff.environment, eff.env_source) == ("development", "default")
    assert eff.data_dir == "/root/.faktory/db"
    assert eff.config_dir == "/root/.faktory"
    assert eff.web_binding == "0.0.0.0:7420"
    assert eff.password.present is False and eff.password.required is False


def test_explicit_default_data_dir_does_not_escape_development() -> None:
    eff = resolve((*IMAGE_CMD, "-d", "/var/lib/faktory/db"), {}, [])
    assert eff.data_dir == "/root/.faktory/db"
    assert resolve((*IMAGE_CMD, "-d", "/data"), {}, []).data_dir == "/data"


def test_flag_beats_faktory_env_and_empty_env_means_default() -> None:
    eff = resolve(PROD, {"FAKTORY_ENV": "development"}, [])
    assert (eff.environment, eff.env_source, eff.var_env) == ("production", "flag", "development")
    assert eff.data_dir == "/var/lib/faktory/db"
    assert resolve(IMAGE_CMD, {"FAKTORY_ENV": ""}, []).environment == "development"
    staging = resolve(IMAGE_CMD, {"FAKTORY_ENV": "staging"}, [])
    assert (staging.environment, staging.data_dir) == ("staging", "/var/lib/faktory/db")


def test_invalid_and_unknown_environments() -> None:
    invalid = resolve(("/faktory", "-e", "prod"), {}, [])
    assert invalid.env_valid is False and invalid.data_dir is None
    unknown = resolve(IMAGE_CMD, {"FAKTORY_ENV": None}, [])
    assert unknown.environment is None and unknown.env_valid


def test_non_root_user_uses_its_home() -> None:
    assert resolve(IMAGE_CMD, {}, [], user="1000:0").data_dir == "/.faktory/db"
    assert resolve(IMAGE_CMD, {"HOME": "/srv"}, [], user="app").data_dir == "/srv/.faktory/db"
    assert resolve(IMAGE_CMD, {}, [], user="root").data_dir == "/root/.faktory/db"


def test_password_from_a_file_secret() -> None:
    mounts = [secret("/run/secrets/pw", "s3cret-value\n")]
    eff = resolve(PROD, {"FAKTORY_PASSWORD": "/run/secrets/pw"}, mounts)
    assert eff.password.value == "s3cret-value"
    assert eff.password.file_path == "/run/secrets/pw" and eff.password.file_provided


def test_missing_password_file_stops_the_server() -> None:
    eff = resolve(PROD, {"FAKTORY_PASSWORD": "/run/secrets/pw"}, [])
    assert eff.password.file_provided is False and eff.password.present is False
    assert "no such file" in (eff.password.start_error or "")


def test_empty_password_variable_wins_over_confd() -> None:
    confd = MountFact(
        "bind",
        "/etc/faktory/conf.d",
        "./conf.d",
        is_dir=True,
        entries={"a.toml": '[faktory]\npassword = "from-confd-1234567"'},
    )
    with_confd = resolve(PROD, {}, [confd])
    assert (with_confd.password.source, with_confd.password.value) == (
        "conf.d",
        "from-confd-1234567",
    )
    emptied = resolve(PROD, {"FAKTORY_PASSWORD": ""}, [confd])
    assert emptied.password.env_empty and emptied.password.present is False
    assert emptied.password.start_error is not None  # production requires one


def test_confd_is_ignored_in_development() -> None:
    confd = MountFact(
        "bind",
        "/etc/faktory/conf.d",
        "./conf.d",
        is_dir=True,
        entries={"a.toml": '[faktory]\npassword = "from-confd-1234567"'},
    )
    assert resolve(IMAGE_CMD, {}, [confd]).password.present is False


def test_etc_password_only_in_staging_and_production() -> None:
    mounts = [secret("/etc/faktory/password", "file-password-123456")]
    assert resolve(PROD, {}, mounts).password.source == "/etc/faktory/password"
    assert resolve(IMAGE_CMD, {}, mounts).password.present is False


SKIP_VALUES = [("1", True), ("true", True), ("yes", True), ("TRUE", False), ("on", False)]


@pytest.mark.parametrize(("value", "counts"), [*SKIP_VALUES, ("0", False)])
def test_skip_password_values(value: str, counts: bool) -> None:
    eff = resolve(PROD, {"FAKTORY_SKIP_PASSWORD": value}, [])
    assert eff.password.skip is counts
    assert (eff.password.start_error is None) is counts


def test_bad_toml_stops_the_server() -> None:
    confd = MountFact("config", "/etc/faktory/conf.d/x.toml", "x", True, "[faktory\n", False)
    eff = resolve(PROD, {"FAKTORY_PASSWORD": "whatever-long-1234"}, [confd])
    assert "does not parse" in (eff.password.confd_error or "")


def test_web_password_counts_for_the_dashboard() -> None:
    web = MountFact("config", "/etc/faktory/conf.d/web.toml", "w", True, '[web]\npassword="w"')
    eff = resolve(PROD, {"FAKTORY_SKIP_PASSWORD": "1"}, [web])
    assert eff.password.present is False and eff.ui_password is True


def test_container_files_override_mounts() -> None:
    view = FileView(
        [MountFact("bind", "/etc/faktory", "/host", is_dir=True)],
        files={"/etc/faktory/conf.d/a.toml": '[faktory]\npassword="read-live-123456"'},
        dirs={"/etc/faktory/conf.d": ("a.toml", "notes.txt")},
    )
    assert view.toml_files("/etc/faktory/conf.d") == [
        ("/etc/faktory/conf.d/a.toml", '[faktory]\npassword="read-live-123456"')
    ]
    eff = resolve(PROD, {}, [], files=view)
    assert eff.password.value == "read-live-123456"


def test_unknown_folder_content_makes_the_password_unknown() -> None:
    folder = MountFact("bind", "/etc/faktory", "/somewhere/else", is_dir=True)
    assert resolve(PROD, {}, [folder]).password.value is None
