"""Progress lines on stderr: verbatim text in logs and pipes, rich only on a terminal."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.paths import REPO

SHOW = (
    "import sys\n"
    "from faktctl import ui\n"
    "ui.info('plan: create worker [bold]x[/] :thumbs_up:')\n"
    "print('rich' in sys.modules, ui.stderr_is_terminal())\n"
)


def _python(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def _run(extra_env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("FORCE_COLOR", "TTY_COMPATIBLE")}
    return _python(SHOW, {**env, **extra_env})


def test_piped_stderr_gets_the_exact_text_without_loading_rich() -> None:
    done = _run({})
    assert done.stderr == "plan: create worker [bold]x[/] :thumbs_up:\n"
    assert done.stdout.split() == ["False", "False"]


def test_force_color_hands_stderr_to_rich() -> None:
    done = _run({"FORCE_COLOR": "1"})
    assert done.stdout.split() == ["True", "True"]
    assert "plan: create worker" in done.stderr


def test_tty_compatible_zero_keeps_plain_output() -> None:
    done = _run({"TTY_COMPATIBLE": "0"})
    assert done.stdout.split()[1] == "False"
    assert done.stderr == "plan: create worker [bold]x[/] :thumbs_up:\n"


def test_pydantic_plugins_are_off_unless_the_operator_chooses() -> None:
    check = "import os, faktctl; print(os.environ['PYDANTIC_DISABLE_PLUGINS'])"
    base = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    for env, expected in ((base, "__all__"), ({**base, "PYDANTIC_DISABLE_PLUGINS": "x"}, "x")):
        assert _python(check, env).stdout.strip() == expected
