"""faktctl logs [SERVICE] [-f] [--tail N]: container logs on stdout, one prefix per container.

Without -f the lines of all containers are merged in time order. The password (and
FAKTORY_URL) are replaced by <redacted> whenever the password file can be read. The platform
the spec names reads the logs (faktctl.platforms).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from faktctl.errors import FaktctlError

if TYPE_CHECKING:
    from faktctl.secretvalue import SecretStr
    from faktctl.spec.load import LoadedSpec


def _secrets(loaded: LoadedSpec) -> tuple[SecretStr, ...]:
    """Every secret value to redact; none when the password file cannot be read."""
    from faktctl.project import project_of
    from faktctl.secretfiles import read_server_password

    try:
        password = read_server_password(loaded)
    except FaktctlError:
        return ()
    return project_of(loaded, password).secrets


def run(file: Path | None, *, service: str | None, follow: bool, tail: int | None) -> int:
    from faktctl.platforms import platform_of
    from faktctl.project import load

    loaded = load(file)
    return platform_of(loaded).logs(_secrets(loaded), service=service, follow=follow, tail=tail)
