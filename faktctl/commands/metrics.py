"""faktctl metrics: the deployment as Prometheus series (faktctl.monitoring).

Once on stdout; `--textfile PATH` written atomically for node_exporter's textfile collector;
`--listen HOST:PORT` serving `/metrics` (loopback unless `--allow-remote`); `--install` writes
the systemd units that run one of these for good.
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from faktctl import ui
from faktctl.errors import ExitCode, FaktctlError, OperationFailed, UsageError
from faktctl.fsutil import atomic_write
from faktctl.project import open_project

if TYPE_CHECKING:
    from faktctl.adapters.docker.engine import Engine
    from faktctl.monitoring.collect import Session
    from faktctl.monitoring.serve import SharedRead

DEFAULT_LISTEN = "127.0.0.1:9386"


def parse_listen(text: str, allow_remote: bool) -> tuple[str, int]:
    from faktctl.adapters.metrics_http import is_loopback

    host, sep, port_text = text.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--listen `{text}` is not HOST:PORT", f"e.g. --listen {DEFAULT_LISTEN}")
    if not is_loopback(host) and not allow_remote:
        raise UsageError(
            f"--listen {text} is not a loopback address: the metrics would be open to the network",
            "add --allow-remote to serve them there anyway (put a firewall or a proxy in front)",
        )
    return host, int(port_text)


class _Engine:
    """The engine, connected on first use and again after it failed."""

    def __init__(self) -> None:
        self._engine: Engine | None = None

    def get(self) -> Engine | None:
        if self._engine is None:
            from faktctl.adapters.docker.connect import connect

            try:
                self._engine = connect()
            except FaktctlError:
                return None
        return self._engine

    def reset(self) -> None:
        if self._engine is not None:
            self._engine.close()
            self._engine = None


def _shared(session: Session, engine: _Engine, project: str, timeout: float) -> SharedRead:
    from faktctl.monitoring.reading import Reading
    from faktctl.monitoring.serve import SharedRead

    def read() -> Reading:
        reading = session.read(engine.get())
        if reading.reason == "engine":
            engine.reset()
        return reading

    return SharedRead(read, project, timeout)


def run(
    file: Path | None,
    *,
    textfile: Path | None,
    listen: str | None,
    allow_remote: bool,
    timeout: float,
    openmetrics: bool,
    install: bool,
    out: Path | None,
) -> int:
    from faktctl.monitoring.collect import Session, Target

    if textfile is not None and listen is not None:
        raise UsageError("use --textfile or --listen, not both")
    if timeout <= 0:
        raise UsageError("--timeout must be more than 0 seconds")
    address = parse_listen(listen, allow_remote) if listen is not None else None
    if out is not None and not install:
        raise UsageError("--out goes with --install")
    project = open_project(file)
    if install:
        return _install(project.loaded.path.absolute(), project.desired.project, textfile,
                        listen, allow_remote, timeout, out)  # fmt: skip
    target = Target.of(project)
    engine = _Engine()
    session = Session(target, timeout)
    shared = _shared(session, engine, target.project, timeout)
    try:
        if address is not None:
            return _serve(shared, *address)
        accept = "application/openmetrics-text" if openmetrics else None
        _, text = shared.exposition(accept)
    finally:
        session.close()
        engine.reset()
    if textfile is None:
        ui.data(text.rstrip("\n"))
        return ExitCode.OK
    try:
        atomic_write(textfile, text, mode=0o644)
    except OSError as err:
        raise OperationFailed(f"cannot write {textfile}: {err.strerror or err}") from None
    return ExitCode.OK


def _serve(shared: SharedRead, host: str, port: int) -> int:
    from faktctl.adapters.metrics_http import bind

    try:
        server = bind(host, port, shared.exposition)
    except OSError as err:
        raise OperationFailed(f"cannot listen on {host}:{port}: {err.strerror or err}") from None

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    shown = f"[{host}]" if ":" in host else host
    ui.info(f"serving http://{shown}:{server.server_address[1]}/metrics (Ctrl-C stops)")
    try:
        server.serve_forever(poll_interval=0.5)
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return ExitCode.OK


def _install(
    spec_path: Path,
    project: str,
    textfile: Path | None,
    listen: str | None,
    allow_remote: bool,
    timeout: float,
    out: Path | None,
) -> int:
    from faktctl.adapters import systemd
    from faktctl.backups.schedule import SYSTEM_UNIT_DIR
    from faktctl.monitoring import units

    if textfile is None and listen is None:
        raise UsageError("--install needs --listen HOST:PORT or --textfile PATH")
    argv = [sys.executable, "-m", "faktctl", "metrics", "-f", str(spec_path)]
    argv += ["--timeout", f"{timeout:g}"]
    if textfile is not None:
        argv += ["--textfile", str(textfile.absolute())]
    else:
        assert listen is not None
        argv += ["--listen", listen, *(["--allow-remote"] if allow_remote else [])]
    job = units.MetricsJob(project, spec_path, tuple(argv), textfile is not None)
    if out is None:
        if os.geteuid() != 0:
            raise UsageError(
                "--install needs root (it writes /etc/systemd/system)",
                "or write the units elsewhere with --out DIR",
            )
        if not systemd.running():
            raise UsageError("--install needs a host running systemd", "use --out DIR")
    folder = (out or SYSTEM_UNIT_DIR).absolute()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in units.unit_files(job).items():
            atomic_write(folder / name, text, mode=0o644)
    except OSError as err:
        raise OperationFailed(
            f"cannot write the units to {folder}: {err.strerror or err}"
        ) from None
    names = ", ".join(units.unit_files(job))
    if out is None:
        for command in units.enable_commands(job)[:2]:
            systemd.run(command.split())
        ui.info(f"installed and started {names} in {folder}")
        return ExitCode.OK
    ui.info(f"wrote {names} to {folder}; as root, copy them to {SYSTEM_UNIT_DIR}/ and run:")
    for command in units.enable_commands(job):
        ui.info(f"  {command}")
    for name in units.unit_files(job):
        ui.data(str(folder / name))
    return ExitCode.OK
