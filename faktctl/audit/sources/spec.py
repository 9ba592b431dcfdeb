"""faktctl audit (spec input): facts from the desired state a spec produces, plus the files it
points to (password files, .env, backups) and the rendered files' drift.

The spec is loaded by faktctl.spec (never re-parsed here); the server and workers are read from
the desired state, so the audit sees exactly what `render` and `up` would deploy.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Literal

from faktctl.audit.model import (
    AuditFacts,
    BackupFacts,
    CertFacts,
    EnvVar,
    HealthcheckFact,
    Location,
    MountFact,
    PortFact,
    RenderedFile,
    RenderFacts,
    SecretFileFact,
    ServerFacts,
    Suppression,
    WorkerFacts,
)
from faktctl.audit.sources.backups import gather_backup, gather_policy
from faktctl.audit.sources.secretfacts import display, inspect_secret_files, read_small
from faktctl.desired import (
    DASHBOARD_PORT,
    DATA_DIR,
    PASSWORD_SECRET,
    PASSWORD_TARGET,
    Desired,
    Mount,
    SecretEnv,
    Secrets,
    ServiceRequest,
    build_desired,
    web_conf_path,
)
from faktctl.errors import UsageError
from faktctl.platforms.compose import ENV_FILENAME
from faktctl.project import load
from faktctl.secretfiles import password_path, read_server_password
from faktctl.secretvalue import SecretStr, matches
from faktctl.spec.load import LoadedSpec
from faktctl.spec.model import RESTIC_PREFIX

FileState = Literal["match", "differs", "missing"]


def _judged(secret: SecretStr) -> str:
    """The value for the audit model, whose rules judge it (its strength, the same password in
    the URL and on the server) as they judge one read from a compose file or a container: a
    plain `str`, held only in fields without a repr (`EnvVar.value`, `MountFact.content`)."""
    return secret.get_secret_value()


class SpecFacts:
    """Builds the facts of one loaded spec."""

    def __init__(self, loaded: LoadedSpec) -> None:
        self.loaded = loaded
        self.display = display(loaded.path)
        self.password: SecretStr | None
        self.password_error: str | None
        try:
            self.password = read_server_password(loaded)
            self.password_error = None
        except UsageError as err:
            self.password, self.password_error = None, err.one_line()
        # a password file that is simply not on this host (a fresh clone): FKS011's business
        self.password_missing = self.password is None and not password_path(loaded).exists()
        secrets = Secrets(self.password or SecretStr(""))
        self.desired: Desired = build_desired(loaded, secrets)

    def loc(self, *path: str | int) -> Location:
        return Location(self.display, self.loaded.line_of(*path))

    # the server -----------------------------------------------------------------------------

    def _env(self, svc: ServiceRequest) -> dict[str, EnvVar]:
        env: dict[str, EnvVar] = {}
        for name, value in svc.env:
            if isinstance(value, SecretEnv):
                env[name] = EnvVar(name, _judged(value.value), "dotenv", ".env")
                continue
            if name == "FAKTORY_ENV":
                where = self.loc("server", "environment")
            elif name == "FAKTORY_PASSWORD":
                where = self.loc("server", "password_file")
            else:
                where = self.loc("server", "env", name)
            env[name] = EnvVar(name, value, "literal", "", where)
        return env

    def _bind(self, mount: Mount) -> MountFact:
        host = Path(mount.source)
        data = mount.target == DATA_DIR
        tls = mount.target.endswith(".pem")  # a key's content never enters the facts
        where = self.loc(
            "server", "tls" if tls else "storage" if data else "dashboard_password_file"
        )
        return MountFact(
            "bind",
            mount.target,
            display(host),
            mount.read_only,
            content=None if data or tls else read_small(host),
            is_dir=host.is_dir() if host.exists() else None,
            host_path=str(host),
            location=where,
        )

    def _mounts(self, svc: ServiceRequest) -> list[MountFact]:
        storage = self.loc("server", "storage")
        mounts = [
            MountFact("volume", m.target, m.source, location=storage)
            if m.kind == "volume"
            else self._bind(m)
            for m in svc.mounts
        ]
        secret = self.desired.secrets[0]
        # The spec declares the secret: `up` and the compose file always mount it (`up` stops
        # while the file is missing), so the container has it. Whether the file is on this host
        # is host state (FKS011), not a fact of the configuration.
        missing = not Path(secret.host_path).is_file()
        mounts.append(
            MountFact(
                "secret",
                PASSWORD_TARGET,
                PASSWORD_SECRET,
                True,
                _judged(self.password) if self.password else None,
                False,
                host_path=secret.host_path,
                location=self.loc("server", "password_file"),
                host_only=missing,
            )
        )
        return mounts

    def _ports(self, svc: ServiceRequest) -> list[PortFact]:
        facts = []
        for publish in svc.ports:
            key = "dashboard" if publish.container_port == DASHBOARD_PORT else "protocol"
            ip = f"[{publish.host_ip}]" if ":" in publish.host_ip else publish.host_ip
            raw = f"{ip}:{publish.host_port}:{publish.container_port}"
            facts.append(
                PortFact(
                    publish.container_port,
                    publish.host_ip,
                    str(publish.host_port),
                    "tcp",
                    raw,
                    self.loc("server", "ports", key),
                )
            )
        return facts

    def server(self) -> ServerFacts:
        svc = self.desired.server
        spec = self.loaded.spec.server
        return ServerFacts(
            service=svc.name,
            image=svc.image,
            argv=svc.command,
            argv_note="rendered by faktctl",
            env=self._env(svc),
            mounts=tuple(self._mounts(svc)),
            ports=tuple(self._ports(svc)),
            restart=svc.restart,
            healthcheck=HealthcheckFact(svc.healthcheck.test) if svc.healthcheck else None,
            stop_grace_s=float(svc.stop_grace_s) if svc.stop_grace_s is not None else None,
            memory_bytes=svc.memory_bytes,
            replicas=svc.replicas,
            exposure_intent=spec.dashboard_exposure,
            location=self.loc("server"),
            locations={
                "image": self.loc("server", "image"),
                "command": self.loc("server", "environment"),
                "environment": self.loc("server", "environment"),
                "ports": self.loc("server", "ports"),
                "volumes": self.loc("server", "storage"),
                "stop_grace_period": self.loc("server", "stop_grace_period"),
                "memory": self.loc("server", "resources", "memory"),
                "tls": self.loc("server", "tls"),
            },
            tls_cert=self._tls_cert(),
        )

    def _tls_cert(self) -> CertFacts | None:
        setup = self.desired.tls
        if setup is None:
            return None
        from faktctl.audit.sources.tlsfacts import from_files

        cert = Path(setup.cert)
        return from_files(
            display(cert),
            cert,
            Path(setup.key),
            Path(setup.ca) if setup.ca else None,
            setup.names,
            self.loc("server", "tls"),
            inside=self.loaded.base_dir,
        )

    def workers(self) -> tuple[WorkerFacts, ...]:
        env_path = str(self.loaded.base_dir / ENV_FILENAME)
        found = []
        for index, svc in enumerate(self.desired.workers):
            url = next((v for n, v in svc.env if n == "FAKTORY_URL"), None)
            var = None
            if isinstance(url, SecretEnv):
                var = EnvVar("FAKTORY_URL", _judged(url.value), "dotenv", ".env", None, env_path)
            found.append(
                WorkerFacts(
                    svc.name,
                    var,
                    None,
                    self.loc("workers", index),
                    image=svc.image,
                    build_base=_build_base(svc),
                    argv=svc.command,
                    stop_grace_s=float(svc.stop_grace_s) if svc.stop_grace_s is not None else None,
                    grace_location=self.loc("workers", index, "stop_grace_period"),
                )
            )
        return tuple(found)

    # everything else ------------------------------------------------------------------------

    def suppressions(self) -> tuple[Suppression, ...]:
        return tuple(
            Suppression(item.id, item.reason, item.expires, None, self.loc("audit", "ignore", i))
            for i, item in enumerate(self.loaded.spec.audit.ignore)
        )

    def backup(self) -> BackupFacts:
        policy = self.loaded.spec.backup
        if policy is None:
            return BackupFacts(False)
        if policy.destinations is not None or policy.destination.startswith(RESTIC_PREFIX):
            return gather_policy(self.loaded, self.loc("backup"))
        return gather_backup(
            policy.destination,
            self.loaded.base_dir,
            policy.max_age,
            self.loc("backup"),
            self.loaded.spec.project,
        )

    def secret_files(self) -> tuple[SecretFileFact, ...]:
        spec = self.loaded.spec.server
        files: list[tuple[Path, str, Location | None]] = [
            (
                self.loaded.resolve(spec.password_file),
                "server password file",
                self.loc("server", "password_file"),
            )
        ]
        if spec.dashboard_password_file is not None:
            where = self.loc("server", "dashboard_password_file")
            files.append(
                (self.loaded.resolve(spec.dashboard_password_file), "dashboard password", where)
            )
            conf = web_conf_path(self.loaded)
            if conf.exists():
                files.append((conf, "generated dashboard config", where))
        env_file = self.loaded.base_dir / ENV_FILENAME
        if env_file.exists():
            files.append(
                (env_file, "FAKTORY_URL for the workers", Location(display(env_file), None))
            )
        return inspect_secret_files(files, absent_too=True)

    def render(self) -> RenderFacts:
        from faktctl.platforms.compose import rendered_files

        if self.password is None and not self.password_missing:
            return RenderFacts(error=self.password_error or "the password cannot be read")
        states = []
        rendered = rendered_files(self.desired, self.loaded.base_dir, self.loaded.path.name)
        if self.password is None:  # compose.yaml never holds it; .env is host state
            rendered = {p: t for p, t in rendered.items() if p.name != ENV_FILENAME}
        for path, (wanted, _) in rendered.items():
            try:
                current: str | None = path.read_text(encoding="utf-8")
            except (FileNotFoundError, UnicodeDecodeError):
                current = None
            state: FileState = "missing"
            if current is not None:
                state = "match" if matches(current, wanted) else "differs"
            states.append(RenderedFile(display(path), state))
        return RenderFacts(tuple(states))


def gather_spec(file: Path | None, now: datetime) -> AuditFacts:
    facts = SpecFacts(load(file))
    notes = (facts.password_error,) if facts.password_error and not facts.password_missing else ()
    return AuditFacts(
        kind="spec",
        file=facts.display,
        now=now,
        servers=(facts.server(),),
        workers=facts.workers(),
        suppressions=facts.suppressions(),
        backup=facts.backup(),
        secret_files=facts.secret_files(),
        render=facts.render(),
        notes=notes,
    )


def _build_base(svc: ServiceRequest) -> str | None:
    """The base image a worker's `build:` starts from (its Dockerfile's final stage)."""
    if svc.build is None:
        return None
    from faktctl.audit.sources.compose.identify import read_dockerfile

    return read_dockerfile(Path(svc.build.context), svc.build.dockerfile).base
