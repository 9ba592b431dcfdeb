"""Ordinary file-system trouble, user-named output paths, Ctrl-C and dangerous spec values:
one line, the right exit code, nothing half-written. Each case failed on the code before."""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from faktctl import entry
from faktctl.audit.model import RuleMeta
from faktctl.audit.registry import Outcome, Rule
from faktctl.audit.runner import _run
from faktctl.errors import Interrupted
from faktctl.fsutil import all_or_nothing, write_output
from tests.support.ci import impossible_here
from tests.support.cli import run_faktctl, tree


def _init(folder: Path, *more: str) -> None:
    result = run_faktctl("init", "--yes", "--project", "demo", *more, cwd=folder)
    assert result.code == 0, result.output


def _one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("faktctl: error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


# --- OSError at the boundary, init all or nothing ---------------------------------------------


def test_secrets_existing_as_a_file_is_one_line_and_init_writes_nothing(tmp_path: Path) -> None:
    (tmp_path / "secrets").write_text("not a folder\n")
    before = tree(tmp_path)
    result = run_faktctl("init", "--yes", "--project", "demo", cwd=tmp_path)
    assert result.code in (2, 4), result.output
    line = _one_error_line(result.stderr)
    assert "secrets" in line and "create the folder" in line
    assert tree(tmp_path) == before


def test_a_gitignore_folder_leaves_no_password_behind(tmp_path: Path) -> None:
    """The password must never land without the .gitignore entry that hides it from git."""
    (tmp_path / ".gitignore").mkdir()
    result = run_faktctl("init", "--yes", "--project", "demo", cwd=tmp_path)
    assert result.code == 2, result.output
    assert ".gitignore" in _one_error_line(result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".gitignore"]
    (tmp_path / ".gitignore").rmdir()
    _init(tmp_path)  # a re-run is not refused by a half-written first one


def test_compose_yaml_as_a_folder_is_one_line_for_render(tmp_path: Path) -> None:
    _init(tmp_path)
    (tmp_path / "compose.yaml").mkdir()
    result = run_faktctl("render", cwd=tmp_path)
    assert result.code == 2, result.output
    line = _one_error_line(result.stderr)
    assert "compose.yaml" in line and "Is a directory" in line


def test_a_full_disk_is_one_line_with_exit_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """In process: the boundary in entry.main, with the file system failing as a full disk
    does (no full disk can be made here without privileges)."""

    def full(fd: int) -> None:  # a full disk surfaces at fsync at the latest
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", ["faktctl", "init", "--yes", "--project", "demo"])
    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(SystemExit) as ended:
        entry.main()
    assert ended.value.code == 4
    line = _one_error_line(capsys.readouterr().err)
    assert "No space left on device" in line and "cannot write" in line
    assert list(tmp_path.iterdir()) == []


# --- a read-only folder -----------------------------------------------------------------------

# in a private mount namespace: bind the folder onto itself, make that mount read-only, run
_READ_ONLY_MOUNT = (
    'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" "$1" && shift && exec "$@"'
)


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[list[str]]:
    """`folder` read-only for the faktctl runs inside the block; yields the wrapper they run
    through. Root writes through any folder mode, so the folder becomes a read-only bind
    mount in a private mount namespace (`unshare --mount`, plus `--map-root-user` for any
    other user): no one else sees it, and it ends with the run."""
    as_root = [] if os.geteuid() == 0 else ["--map-root-user"]
    wrapper = ["unshare", "--mount", *as_root, "--", "sh", "-c", _READ_ONLY_MOUNT, "sh"]
    wrapper.append(str(folder))
    try:
        probe = subprocess.run(
            [*wrapper, "touch", str(folder / ".probe")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
    except FileNotFoundError:
        impossible_here("`unshare` is not installed")
    if probe.returncode == 0 or "Read-only file system" not in probe.stderr:
        (folder / ".probe").unlink(missing_ok=True)
        impossible_here(f"no read-only bind mount here: {probe.stderr.strip()}")
    yield wrapper


def _paths(folder: Path) -> list[str]:
    return sorted(str(path.relative_to(folder)) for path in folder.rglob("*"))


def _refused_in_read_only(folder: Path, *args: str, cwd: Path) -> str:
    """Run faktctl with `folder` read-only: exit 4 (the environment failed, the input is
    fine), one line, and nothing changed under `cwd` (no file, folder or temp file added, no
    byte changed). Returns the line."""
    before, names = tree(cwd), _paths(cwd)
    with read_only(folder) as wrapper:
        result = run_faktctl(*args, cwd=cwd, wrapper=wrapper)
    assert result.code == 4, result.output
    assert (tree(cwd), _paths(cwd)) == (before, names)
    return _one_error_line(result.stderr)


_ROFS = "Read-only file system"


def test_init_in_a_read_only_folder_is_one_line_and_writes_nothing(tmp_path: Path) -> None:
    line = _refused_in_read_only(tmp_path, "init", "--yes", "--project", "demo", cwd=tmp_path)
    assert f"cannot write {tmp_path}/" in line and _ROFS in line, line
    assert list(tmp_path.iterdir()) == []


def test_init_with_a_read_only_secrets_folder_leaves_nothing_half_written(
    tmp_path: Path,
) -> None:
    """The spec, schema and .gitignore could be written; the password cannot: none lands."""
    (tmp_path / "secrets").mkdir()
    line = _refused_in_read_only(
        tmp_path / "secrets", "init", "--yes", "--project", "demo", cwd=tmp_path
    )
    assert f"{tmp_path}/secrets" in line and _ROFS in line, line
    assert [p.name for p in tmp_path.rglob("*")] == ["secrets"]
    _init(tmp_path)  # and a re-run once the folder is writable is not refused


def test_render_in_a_read_only_folder_is_one_line(project: Path) -> None:
    line = _refused_in_read_only(project, "render", cwd=project)
    assert f"cannot write {project}/compose.yaml" in line and _ROFS in line, line
    assert not (project / "compose.yaml").exists()


def test_audit_output_into_a_read_only_folder_is_one_line(project: Path) -> None:
    line = _refused_in_read_only(project, "audit", "-o", "report.txt", cwd=project)
    assert "cannot write report.txt" in line and _ROFS in line, line
    assert not (project / "report.txt").exists()


def test_an_untranslated_oserror_names_path_and_operation() -> None:
    try:
        Path("/nonexistent-h11/dir").mkdir()
    except OSError as err:
        failure = entry.os_failure(err)
    assert failure.one_line() == (
        "cannot create the folder /nonexistent-h11/dir: No such file or directory"
    )
    assert failure.exit_code == 2


def test_staged_writes_land_together_or_not_at_all(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), all_or_nothing() as staged:
        staged.add(tmp_path / "a.txt", "a")
        staged.add_private(tmp_path / "new" / "secret", "s")
        raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []
    with all_or_nothing() as staged:
        staged.add(tmp_path / "a.txt", "a")
        staged.add_private(tmp_path / "new" / "secret", "s")
    assert (tmp_path / "a.txt").read_text() == "a"
    assert (tmp_path / "new" / "secret").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "new").stat().st_mode & 0o777 == 0o700


# --- audit -o ---------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "p"
    folder.mkdir()
    _init(folder)
    return folder


def test_output_through_a_symlink_writes_the_target_and_keeps_the_link(project: Path) -> None:
    (project / "report.txt").symlink_to("real.txt")
    result = run_faktctl("audit", "-o", "report.txt", cwd=project)
    assert result.code in (0, 1), result.output
    assert (project / "report.txt").is_symlink()
    assert "FKP001" in (project / "real.txt").read_text()


def test_output_into_a_fifo_writes_it_in_place(project: Path) -> None:
    fifo = project / "report.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "faktctl", "audit", "-o", str(fifo)],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "NO_COLOR": "1"},
    )
    with fifo.open("rb") as reader:  # blocks until faktctl opens the FIFO to write
        received = reader.read()
    assert proc.wait(timeout=60) in (0, 1)
    assert b"FKP001" in received
    assert fifo.is_fifo()


def test_output_to_a_full_device_is_an_error_not_a_new_file(project: Path) -> None:
    result = run_faktctl("audit", "-o", "/dev/full", cwd=project)
    assert result.code == 4, result.output
    assert "No space left on device" in _one_error_line(result.stderr)
    assert Path("/dev/full").is_char_device()


def test_output_into_a_missing_folder_is_an_error(project: Path) -> None:
    result = run_faktctl("audit", "-o", "nowhere/report.txt", cwd=project)
    assert result.code == 2, result.output
    assert "does not exist" in _one_error_line(result.stderr)
    assert not (project / "nowhere").exists()


@pytest.mark.parametrize("name", ["-", "/dev/stdout"])
def test_output_to_standard_output(project: Path, name: str) -> None:
    result = run_faktctl("audit", "-o", name, "--format", "json", cwd=project)
    assert result.code in (0, 1), result.output
    assert result.stdout.startswith("{") and '"FKP001"' in result.stdout
    assert not (project / "-").exists()


def test_output_to_a_regular_file_replaces_it_and_keeps_its_mode(project: Path) -> None:
    report = project / "report.txt"
    report.write_text("old\n")
    report.chmod(0o640)
    result = run_faktctl("audit", "-o", "report.txt", cwd=project)
    assert result.code in (0, 1), result.output
    assert "FKP001" in report.read_text() and report.stat().st_mode & 0o777 == 0o640


def test_write_output_refuses_a_folder(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="Is a folder"):
        write_output(tmp_path, "x")


# --- Ctrl-C -----------------------------------------------------------------------------------


def test_an_interrupt_inside_an_audit_check_is_not_a_skip() -> None:
    def interrupted(subject: object) -> Outcome:
        raise Interrupted("interrupted")

    meta = RuleMeta("FKH999", "t", "hygiene", "info", "t", "r")
    rule = Rule(meta=meta, scope="server", inputs=frozenset(), check=interrupted)
    with pytest.raises(Interrupted):
        _run(rule, object())


def test_ctrl_c_ends_any_command_with_130(tmp_path: Path) -> None:
    """SIGINT while faktctl waits on a FIFO nobody writes: exit 130 and one line."""
    fifo = tmp_path / "compose.yaml"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, "-m", "faktctl", "audit", "--compose", str(fifo)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    writer = None
    while writer is None:  # opening the FIFO to write succeeds once faktctl opened it to read
        try:
            writer = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as err:
            assert err.errno == errno.ENXIO
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.05)
    try:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        os.close(writer)
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "faktctl: interrupted"


_FINALIZER_THEN_FIFO = """
import gc, sys, time
from faktctl.entry import boundary

class Slow:
    def __del__(self):
        print("finalizing", flush=True)
        time.sleep(30)

def command():
    garbage = Slow()
    garbage.itself = garbage
    del garbage
    gc.collect()  # the finalizer runs here, and the Ctrl-C lands in it
    with open(sys.argv[1], "rb") as fifo:  # nobody writes: blocks until a signal
        fifo.read()

boundary(command)
"""


def test_ctrl_c_inside_a_finalizer_still_ends_the_command_with_130(tmp_path: Path) -> None:
    """The cause of the flaky test above: a SIGINT handled while the garbage collector runs a
    finalizer raised inside it, where Python prints the exception and carries on, and the
    command then blocked on its FIFO for good. The boundary signals itself again."""
    script = tmp_path / "finalizer.py"
    script.write_text(_FINALIZER_THEN_FIFO)
    fifo = tmp_path / "input.fifo"
    os.mkfifo(fifo)
    proc = subprocess.Popen(
        [sys.executable, str(script), str(fifo)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "finalizing"
    proc.send_signal(signal.SIGINT)
    started = time.monotonic()
    try:
        _, stderr = proc.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise AssertionError("faktctl hung after Ctrl-C inside a finalizer") from None
    assert proc.returncode == 130, stderr
    assert stderr.strip() == "faktctl: interrupted"
    assert time.monotonic() - started < 5


# --- dangerous spec values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("volume: data", "host_path: /", "`/` is a system folder of the host"),
        ("volume: data", "host_path: /etc/", "system folder"),
        ("volume: data", 'host_path: "."', "holds this spec and its secrets"),
        ("volume: data", 'host_path: ".."', "holds this spec and its secrets"),
        ("memory: 2g", "memory: 1", "below the engine's minimum"),
        ("memory: 2g", "memory: 10m", "too little for the server"),
    ],
)
def test_dangerous_spec_values_are_refused(project: Path, old: str, new: str, message: str) -> None:
    spec = project / "faktory.yaml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))
    result = run_faktctl("render", cwd=project)
    assert result.code == 2 and message in result.stderr, result.output
    assert not (project / "compose.yaml").exists()


def test_a_folder_name_that_would_lose_characters_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "Ünïcödé 店"
    folder.mkdir()
    result = run_faktctl("init", "--yes", cwd=folder)
    assert result.code == 2, result.output
    assert "cannot hold" in _one_error_line(result.stderr)
    assert list(folder.iterdir()) == []
    _init(folder)  # with --project it works


def test_an_over_long_project_name_is_reported_without_a_file(tmp_path: Path) -> None:
    result = run_faktctl("init", "--yes", "--project", "a" * 300, cwd=tmp_path)
    assert result.code == 2, result.output
    line = _one_error_line(result.stderr)
    assert "300 characters" in line and "faktory.yaml" not in line
    assert list(tmp_path.iterdir()) == []


# --- one project lock for backup, restore, up and down ----------------------------------------


def test_backup_refuses_while_a_restore_holds_the_project_lock(
    project: Path,
) -> None:
    from faktctl.lock import project_lock

    with project_lock(project, "demo", "restore"):
        result = run_faktctl("backup", cwd=project)
    assert result.code == 4, result.output
    line = _one_error_line(result.stderr)
    assert "locked by `faktctl restore`" in line
    assert list(project.glob("backups/*")) == []


def test_pruning_never_selects_a_protected_backup() -> None:
    from types import SimpleNamespace

    from faktctl.backups.take import select_pruned

    created = SimpleNamespace(created_at=datetime(2026, 1, 31, tzinfo=UTC))
    backups: list[Any] = [
        SimpleNamespace(name=f"b{n}", tag="pre-restore", manifest=created) for n in range(5)
    ]
    assert [b.name for b in select_pruned(backups, 2, "pre-restore")] == ["b2", "b3", "b4"]
    kept = select_pruned(backups, 2, "pre-restore", protect=frozenset({"b4"}))
    assert [b.name for b in kept] == ["b2", "b3"]


# --- plain strings that hold a password ---------------------------------------------------------


def test_audit_facts_holding_a_password_never_show_it_in_a_repr() -> None:
    from faktctl.audit.model import EnvVar, MountFact, ServerFacts

    secret = "a-password-in-plain-text-0123"
    env = EnvVar("FAKTORY_PASSWORD", secret, "engine", "the container's environment")
    mount = MountFact("secret", "/run/secrets/p", "p", content=secret, entries={"a.toml": secret})
    server = ServerFacts(
        service="faktory",
        image="contribsys/faktory:1.9.4",
        argv=("/faktory",),
        env={"FAKTORY_PASSWORD": env},
        mounts=(mount,),
        container_files={"/run/secrets/p": secret},
    )
    for fact in (env, mount, server):
        assert secret not in repr(fact)
