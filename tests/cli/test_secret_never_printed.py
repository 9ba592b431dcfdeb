"""The password never appears in anything faktctl prints."""

from __future__ import annotations

from pathlib import Path

from faktctl.cli import app
from tests.support.cli import run_faktctl


def _command_names() -> list[str]:
    return sorted(
        command.name or command.callback.__name__
        for command in app.registered_commands
        if command.callback is not None
    )


def test_no_offline_command_prints_the_password(tmp_path: Path) -> None:
    outputs = [run_faktctl("init", "--yes", cwd=tmp_path)]
    password = (tmp_path / "secrets" / "faktory_password").read_text().strip()
    outputs += [
        run_faktctl("render", cwd=tmp_path),
        run_faktctl("render", cwd=tmp_path),
        run_faktctl("render", "--check", cwd=tmp_path),
        run_faktctl("schema", cwd=tmp_path),
        run_faktctl("--help", cwd=tmp_path),
        run_faktctl("--version", cwd=tmp_path),
        *(run_faktctl(name, "--help", cwd=tmp_path) for name in _command_names()),
    ]
    (tmp_path / ".env").write_text("FAKTORY_URL=tcp://:old@faktory:7419\n")
    outputs.append(run_faktctl("render", "--check", cwd=tmp_path))
    (tmp_path / "faktory.yaml").write_text("project: [broken\n")
    outputs.append(run_faktctl("render", cwd=tmp_path))

    assert len(password) >= 32
    for result in outputs:
        assert password not in result.output
        assert "Traceback" not in result.output


def test_every_command_explains_itself() -> None:
    """Every command says what it does, and every option and argument says what it is for;
    `--help` shows both."""
    from tests.support.cli import undocumented

    for name in _command_names():
        result = run_faktctl(name, "--help", cwd=Path.cwd())
        assert result.code == 0, name
        assert undocumented(name.split(), result.stdout) == [], name
