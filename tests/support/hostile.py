"""Hostile inputs shared by the unit and CLI tests of the input readers."""

from __future__ import annotations

from pathlib import Path

GOOD_PASSWORD = "a-strong-password-of-some-length"


def alias_bomb(levels: int = 9, top: str = "") -> str:
    """The classic "billion laughs": each level lists the previous one nine times."""
    lines = [top, 'x-l0: &l0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, levels + 1):
        refs = ",".join([f"*l{level - 1}"] * 9)
        lines.append(f"x-l{level}: &l{level} [{refs}]")
    return "\n".join(lines) + "\n"


def project_folder(tmp_path: Path, spec_tail: str = "") -> Path:
    """A project folder with a spec and a private password file of a good password."""
    (tmp_path / "secrets").mkdir(mode=0o700)
    password = tmp_path / "secrets" / "faktory_password"
    password.write_text(GOOD_PASSWORD + "\n")
    password.chmod(0o600)
    (tmp_path / "faktory.yaml").write_text("project: demo\n" + spec_tail)
    return tmp_path
