"""Hostile or broken input files: every one ends in one line and exit 2, quickly, and nothing
secret leaks. Each case failed on the code before faktctl.safeyaml and the secret-file rules.
The same files given to the real faktctl: tests/cli/test_hostile_inputs_cli.py."""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
import yaml

from faktctl import safeyaml
from faktctl.errors import SpecError, UsageError
from faktctl.secretfiles import MAX_SECRET_BYTES, read_secret
from faktctl.spec.load import parse_spec
from tests.support.hostile import GOOD_PASSWORD, alias_bomb, project_folder

# --- YAML ---------------------------------------------------------------------------------------


def test_a_folder_given_as_a_yaml_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").mkdir()
    with pytest.raises(safeyaml.YamlLimitError, match=r"compose\.yaml: is a folder, not a"):
        safeyaml.read_text(tmp_path / "compose.yaml", "compose.yaml", what="compose file")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("a: &x [*x]\n", "refers to a node that contains it"),
        ("a: &x {b: *x}\n", "refers to a node that contains it"),
        ("[" * 300 + "]" * 300, "nested too deeply"),
        ("a:\n" + "".join("  " * n + f"k{n}:\n" for n in range(1, 260)), "nested too deeply"),
        (alias_bomb(5), "expands to more than"),
    ],
)
@pytest.mark.parametrize("loader", [yaml.SafeLoader, yaml.CSafeLoader], ids=["py", "c"])
def test_the_capped_loader_refuses(text: str, message: str, loader: type[yaml.SafeLoader]) -> None:
    with pytest.raises(safeyaml.YamlLimitError, match=message) as caught:
        safeyaml.load(text, "in.yaml", loader, max_nodes=10_000)
    assert caught.value.one_line().startswith("in.yaml")


def test_the_capped_loader_keeps_anchors_and_merges() -> None:
    node, data = safeyaml.load("a: &x {k: 1}\nb: *x\nc:\n  <<: *x\n  j: 2\n", "ok.yaml")
    assert node is not None
    assert data == {"a": {"k": 1}, "b": {"k": 1}, "c": {"k": 1, "j": 2}}
    assert safeyaml.load("", "empty.yaml") == (None, None)


def test_load_all_shares_one_budget_between_documents() -> None:
    one = "a: [" + ",".join(["1"] * 50) + "]\n"
    documents = safeyaml.load_all(f"{one}---\n{one}", "m.yaml", max_nodes=200)
    assert len(documents) == 2
    with pytest.raises(safeyaml.YamlLimitError):
        safeyaml.load_all(f"{one}---\n{one}---\n{one}---\n{one}", "m.yaml", max_nodes=200)


def test_read_text_caps_and_names_the_file(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"#" * 2000)
    with pytest.raises(safeyaml.YamlLimitError, match=r"big\.yaml: larger than 1000 bytes"):
        safeyaml.read_text(big, "big.yaml", limit=1000)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"a: \xe9\n")
    with pytest.raises(safeyaml.YamlLimitError, match="not UTF-8"):
        safeyaml.read_text(latin, "latin.yaml")


# --- secret files -------------------------------------------------------------------------------


def test_a_password_symlink_inside_the_project_is_followed(tmp_path: Path) -> None:
    project = project_folder(tmp_path)
    real = project / "secrets" / "real"
    real.write_text(GOOD_PASSWORD + "\n")
    password = project / "secrets" / "faktory_password"
    password.unlink()
    password.symlink_to("real")
    value = read_secret(password, "password", "server.password_file", inside=project)
    assert value.get_secret_value() == GOOD_PASSWORD


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: os.mkfifo(p), "is a FIFO"),
        (lambda p: p.mkdir(), "is a folder"),
        (lambda p: p.write_text("one\ntwo\n"), "more than one line"),
        (lambda p: p.write_bytes(b"pass\x00word\n"), "unprintable"),
        (lambda p: p.write_bytes(b"\xff\xfe\n"), "not UTF-8"),
        (lambda p: p.write_text("x" * (MAX_SECRET_BYTES + 1)), "bytes; a password file"),
        (lambda p: p.write_text(" \n"), "is empty"),
        (lambda p: p.write_text("/etc/passwd\n"), "starts with `/`"),
        (lambda p: p.symlink_to("/dev/zero"), "outside the project folder"),
    ],
    ids=["fifo", "folder", "two-lines", "nul", "binary", "huge", "empty", "slash", "dev-zero"],
)
def test_secret_files_follow_one_set_of_rules(tmp_path: Path, make: object, message: str) -> None:
    path = tmp_path / "secret"
    make(path)  # type: ignore[operator]
    started = time.monotonic()
    with pytest.raises(UsageError, match=message) as caught:
        read_secret(path, "password", "server.password_file", inside=tmp_path)
    assert time.monotonic() - started < 5  # a FIFO is never opened for a blocking read
    assert str(path) in caught.value.one_line()


def test_without_a_project_folder_every_link_is_refused(tmp_path: Path) -> None:
    (tmp_path / "real").write_text(GOOD_PASSWORD)
    (tmp_path / "link").symlink_to("real")
    with pytest.raises(UsageError, match="is a symbolic link"):
        read_secret(tmp_path / "link", "repository password", "backup.password_file")


def test_a_trailing_newline_and_surrounding_spaces_are_trimmed(tmp_path: Path) -> None:
    path = tmp_path / "secret"
    path.write_text(f"  {GOOD_PASSWORD} \r\n")
    value = read_secret(path, "password", "server.password_file", inside=tmp_path)
    assert value.get_secret_value() == GOOD_PASSWORD


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('project: demo\n"\\U100010000": 1\n', "chr() arg not in range"),  # past U+10FFFF
        ("project: demo\nwhen: 2026-13-45\n", "month must be in 1..12"),
    ],
)
def test_yaml_the_parser_itself_chokes_on_is_invalid_yaml_in_one_line(
    tmp_path: Path, text: str, reason: str
) -> None:
    """PyYAML raises ValueError/OverflowError, not a YAMLError, on these; every reader must
    still answer with its one-line invalid-YAML error (found by the property tests)."""
    with pytest.raises(SpecError) as spec_error:
        parse_spec(text, tmp_path / "faktory.yaml")
    assert spec_error.value.one_line().startswith("faktory.yaml:1:1: invalid YAML: ")
    assert reason in spec_error.value.one_line()
    with pytest.raises(yaml.YAMLError, match=re.escape(reason)):
        safeyaml.load_all(text, "manifests.yaml")
