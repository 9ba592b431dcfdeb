"""Open a project: find and load the spec, read its password, build the desired state."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from faktctl.desired import Desired, Secrets, build_desired
from faktctl.errors import UsageError
from faktctl.secretfiles import read_dashboard_password, read_server_password, tls_file_digests
from faktctl.secretvalue import SecretStr
from faktctl.spec.load import LoadedSpec, load_spec
from faktctl.spec.locate import find_spec


@dataclass(frozen=True)
class Project:
    loaded: LoadedSpec
    password: SecretStr
    desired: Desired

    @property
    def dir(self) -> Path:
        return self.loaded.base_dir

    @property
    def secrets(self) -> tuple[SecretStr, ...]:
        """Every secret value a command must never print."""
        values = [self.password]
        values += [
            v.value for s in self.desired.services for _, v in s.env if not isinstance(v, str)
        ]
        if self.desired.dashboard_password is not None:
            values.append(self.desired.dashboard_password)
        return tuple(values)


def load(file: Path | None) -> LoadedSpec:
    return load_spec(find_spec(file))


def project_of(loaded: LoadedSpec, password: SecretStr) -> Project:
    """The project of a loaded spec and its password; the dashboard password is read here.

    A dashboard password file that cannot be read leaves it out: the commands that need it
    (`render`, `up`) read it again when they write its conf.d file, and say what is wrong.
    """
    try:
        dashboard = read_dashboard_password(loaded)
    except UsageError:
        dashboard = None
    server_digest, ca_digest = tls_file_digests(loaded)
    secrets = Secrets(password, dashboard, server_digest, ca_digest)
    return Project(loaded, password, build_desired(loaded, secrets))


def open_project(file: Path | None) -> Project:
    loaded = load(file)
    return project_of(loaded, read_server_password(loaded))


def open_project_here(file: Path | None) -> tuple[Project, bool]:
    """The project, and whether its password was read. A password file that is not on this
    host (a fresh clone: it is git-ignored) gives a project with an empty password: what does
    not hold the password (compose.yaml) can still be rendered and compared."""
    from faktctl.secretfiles import password_path

    loaded = load(file)
    try:
        return project_of(loaded, read_server_password(loaded)), True
    except UsageError:
        if password_path(loaded).exists():
            raise
        return project_of(loaded, SecretStr("")), False
