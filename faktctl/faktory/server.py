"""How faktctl starts a Faktory server: the one definition of its start-up settings.

`faktctl up`, `render` (through faktctl.desired), `backup verify`'s throwaway server, `restore`
and the audit's model of a spec all take the command line, the environment, the password
path and the data folder from here, so none of them can drift from the others.
"""

from __future__ import annotations

SERVER_SERVICE = "faktory"  # the server's service name on every platform
DATA_DIR = "/var/lib/faktory"  # production keeps everything here (FAKTORY.md)
DB_DIR = f"{DATA_DIR}/db"  # the Redis socket, faktory.rdb and redis.log
PASSWORD_SECRET = "faktory_password"
PASSWORD_TARGET = f"/run/secrets/{PASSWORD_SECRET}"  # FAKTORY_PASSWORD names this file
PROTOCOL_PORT = 7419
DASHBOARD_PORT = 7420
HEALTH_URL = f"http://127.0.0.1:{DASHBOARD_PORT}/health"
DEFAULT_LOG_LEVEL = "info"
CONFIG_DIR = "/etc/faktory"  # production's config folder (development ignores it)
# Faktory 1.9+ turns TLS on for both ports when both files are in the config folder
TLS_CERT_TARGET = f"{CONFIG_DIR}/public.cert.pem"
TLS_KEY_TARGET = f"{CONFIG_DIR}/private.key.pem"
WORKER_CA_TARGET = "/etc/faktctl/ca.cert.pem"  # the CA a worker trusts (SSL_CERT_FILE)


def command(environment: str, log_level: str = DEFAULT_LOG_LEVEL) -> tuple[str, ...]:
    """The server's argv: both ports on every interface of the container (publishing decides
    who reaches them), the environment and the log level always explicit."""
    return (
        "/faktory",
        "-e",
        environment,
        "-b",
        f"0.0.0.0:{PROTOCOL_PORT}",
        "-w",
        f"0.0.0.0:{DASHBOARD_PORT}",
        "-l",
        log_level,
    )


def environment(env_name: str) -> tuple[tuple[str, str], ...]:
    """The variables every server gets: its environment, and the password as a file path
    (the value itself never sits in the container's configuration)."""
    return (("FAKTORY_ENV", env_name), ("FAKTORY_PASSWORD", PASSWORD_TARGET))


def health_check(*, tls: bool) -> tuple[str, ...]:
    """The container's health check: BusyBox wget on the unauthenticated /health. With TLS on,
    a connection to the job port instead: BusyBox's built-in TLS (Debian's busybox-static)
    fails the handshake with Faktory's Go TLS server (alert 40, measured on 1.9.4 and 1.10.0
    with RSA and ECDSA certificates), so an https check would mark a sound server unhealthy.
    faktctl's readiness gate still asks HELLO and /health over verified TLS."""
    if not tls:
        return ("CMD", "wget", "-q", "-O", "/dev/null", HEALTH_URL)
    return ("CMD", "nc", "-w", "3", "127.0.0.1", str(PROTOCOL_PORT))
