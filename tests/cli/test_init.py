"""faktctl init: a safe spec, a private generated password, and no surprises."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import yaml

from tests.support.cli import run_faktctl, tree


def _password(folder: Path) -> str:
    return (folder / "secrets" / "faktory_password").read_text().strip()


def test_init_yes_writes_spec_private_password_and_gitignore(tmp_path: Path) -> None:
    folder = tmp_path / "My Shop"
    folder.mkdir()
    result = run_faktctl("init", "--yes", cwd=folder)

    assert result.code == 0, result.output
    spec_text = (folder / "faktory.yaml").read_text()
    assert spec_text.startswith("# yaml-language-server: $schema=./faktory.schema.json\n")
    spec = yaml.safe_load(spec_text)
    assert spec["project"] == "my-shop"
    assert spec["server"]["environment"] == "production"
    assert spec["server"]["image"] == "contribsys/faktory:1.10.0"
    assert (folder / "faktory.schema.json").is_file()

    password = _password(folder)
    assert len(password) >= 32
    assert re.fullmatch(r"[A-Za-z0-9_-]+", password)
    assert (folder / "secrets").stat().st_mode & 0o777 == 0o700
    assert (folder / "secrets" / "faktory_password").stat().st_mode & 0o777 == 0o600
    ignored = (folder / ".gitignore").read_text().splitlines()
    assert "secrets/" in ignored and ".env" in ignored
    assert password not in result.output


def test_init_keeps_existing_gitignore_lines(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("node_modules/\n.env")
    assert run_faktctl("init", "--yes", cwd=tmp_path).code == 0
    assert (tmp_path / ".gitignore").read_text() == "node_modules/\n.env\nsecrets/\nbackups/\n"


def test_init_refuses_to_overwrite_without_force(tmp_path: Path) -> None:
    assert run_faktctl("init", "--yes", cwd=tmp_path).code == 0
    before = tree(tmp_path)

    again = run_faktctl("init", "--yes", cwd=tmp_path)
    assert again.code == 2
    assert again.stderr.strip() == (
        f"faktctl: error: spec {tmp_path / 'faktory.yaml'} already exists "
        "(pass --force to replace it; that also generates a new password)"
    )
    assert tree(tmp_path) == before


def test_init_refuses_an_existing_password_file_even_without_spec(tmp_path: Path) -> None:
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    (secrets / "faktory_password").write_text("keep-me\n")
    result = run_faktctl("init", "--yes", cwd=tmp_path)
    assert result.code == 2
    assert "password file" in result.stderr and "already exists" in result.stderr
    assert not (tmp_path / "faktory.yaml").exists()
    assert (secrets / "faktory_password").read_text() == "keep-me\n"


def test_init_force_rotates_the_password(tmp_path: Path) -> None:
    assert run_faktctl("init", "--yes", cwd=tmp_path).code == 0
    first = _password(tmp_path)
    assert run_faktctl("init", "--yes", "--force", cwd=tmp_path).code == 0
    assert _password(tmp_path) != first


def test_init_rejects_a_bad_project_name_and_writes_nothing(tmp_path: Path) -> None:
    result = run_faktctl("init", "--yes", "--project", "Bad Name", cwd=tmp_path)
    assert result.code == 2
    assert result.stderr.strip() == (
        "faktctl: error: `Bad Name` is not a valid project name "
        "(use lowercase letters, digits, - and _)"
    )
    assert tree(tmp_path) == {}


def _wait_for_prompt(fd: int, prompt: str, seen: bytearray, timeout: float = 30.0) -> None:
    """Read the prompts' stream until `prompt` appears: an answer is written only once the
    question is on screen, never after a guessed pause."""
    deadline = time.monotonic() + timeout
    while prompt.encode() not in seen:
        remaining = deadline - time.monotonic()
        ready, _, _ = select.select([fd], [], [], max(remaining, 0))
        assert ready, f"no `{prompt}` prompt after {timeout:g}s: {bytes(seen)!r}"
        chunk = os.read(fd, 4096)
        assert chunk, f"init ended before asking `{prompt}`: {bytes(seen)!r}"
        seen += chunk
    seen.clear()


def test_init_asks_on_a_terminal(tmp_path: Path) -> None:
    """On a TTY, init asks for the project name and a first worker."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "faktctl", "init"],
        cwd=tmp_path,
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    os.close(terminal)
    assert proc.stderr is not None
    asked = bytearray()
    try:
        for prompt, answer in (
            ("Project name", "shop\n"),
            ("First worker name", "emails\n"),
            ("Image for worker", "registry.local/emails:1.2\n"),
        ):
            _wait_for_prompt(proc.stderr.fileno(), prompt, asked)
            os.write(controller, answer.encode())
        _, rest = proc.communicate(timeout=30)
        stderr = asked.decode(errors="replace") + rest.decode(errors="replace")
    finally:
        os.close(controller)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    spec = yaml.safe_load((tmp_path / "faktory.yaml").read_text())
    assert spec["project"] == "shop"
    assert spec["workers"] == [
        {
            "name": "emails",
            "image": "registry.local/emails:1.2",
            "replicas": 1,
            "env": {"FAKTORY_QUEUES": "default"},
        }
    ]
