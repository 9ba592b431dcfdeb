"""The typer app: command declarations (the error boundary is faktctl.entry's).

Commands import their implementation lazily so `faktctl --help` stays fast.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from faktctl import __version__, options
from faktctl.errors import UsageError

app = typer.Typer(
    name="faktctl",
    help="Deploy the Faktory job server safely: write a spec, render compose files, "
    "launch through Docker, back up, and audit against the go-live checklist.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)

SpecOption = Annotated[
    Path | None,
    typer.Option(
        *options.FILE,
        help="Spec file to use (default: ./faktory.yaml).",
        dir_okay=False,
        show_default=False,
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"faktctl {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
    debug: Annotated[
        bool, typer.Option("--debug", help="Show a traceback when a command fails.")
    ] = False,
) -> None:
    """faktctl: from "we want Faktory" to a production deployment that passes its go-live
    checklist."""


@app.command()
def init(
    file: SpecOption = None,
    project: Annotated[
        str | None, typer.Option(help="Project name (default: the folder's name).")
    ] = None,
    yes: Annotated[
        bool, typer.Option("--yes", "-y", help="Take safe defaults without asking.")
    ] = False,
    force: Annotated[
        bool, typer.Option("--force", help="Overwrite an existing spec and password file.")
    ] = False,
) -> None:
    """Write faktory.yaml with safe production defaults and generate the server password.

    The password goes to secrets/faktory_password (0600, folder 0700) and is never printed;
    secrets/ and .env are added to .gitignore. On a terminal it asks for the project name and a
    first worker unless --yes is given.
    """
    from faktctl.commands import init as command

    command.run(file, project=project, assume_yes=yes, force=force)


class RenderTarget(StrEnum):
    compose = "compose"
    kubernetes = "kubernetes"
    stack = "stack"


@app.command()
def render(
    file: SpecOption = None,
    target: Annotated[
        RenderTarget,
        typer.Option(
            "--target",
            help="compose: compose.yaml and .env beside the spec; kubernetes: a kustomize "
            "directory for `kubectl apply -k` (default k8s/ beside the spec); stack: stack.yaml "
            "for `docker stack deploy` (platform: swarm; reads image ids from the engine).",
        ),
    ] = RenderTarget.compose,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="With --target kubernetes: the directory to write (default k8s/ beside the spec).",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Write nothing; exit 1 and show a diff (password redacted) when compose.yaml "
            "or .env differ from what the spec renders.",
        ),
    ] = False,
) -> None:
    """Render compose.yaml and .env next to the spec (only files whose content changed).

    compose.yaml never contains the password: the server reads it from a compose secret and
    workers get FAKTORY_URL from .env (written 0600). With --target kubernetes the manifests
    never contain it either: kustomize's secretGenerator reads it from k8s/secrets/ (0600,
    git-ignored).
    """
    from faktctl.commands import render as command

    if target is RenderTarget.kubernetes:
        raise typer.Exit(command.run_kubernetes(file, out=out, check=check))
    if out is not None:
        raise UsageError("--out applies to --target kubernetes only")
    if target == RenderTarget.stack:
        raise typer.Exit(command.run_stack(file, check=check))
    raise typer.Exit(command.run(file, check=check))


@app.command()
def schema() -> None:
    """Print the JSON Schema of faktory.yaml (for editors: faktctl schema > faktory.schema.json)."""
    from faktctl.commands import schema as command

    command.run()


class PullChoice(StrEnum):
    missing = "missing"
    always = "always"
    never = "never"


@app.command()
def up(
    file: SpecOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan on stdout and change nothing.")
    ] = False,
    timeout: Annotated[
        int,
        typer.Option(min=1, help="Seconds to wait for the server to become healthy."),
    ] = 120,
    pull: Annotated[
        PullChoice,
        typer.Option(help="Pull an image only when it is missing locally, always, or never."),
    ] = PullChoice.missing,
) -> None:
    """Create or update the deployment through the Docker engine, then wait until it is healthy.

    Network and volume first, then the server (healthy: engine health and a Faktory handshake
    with the configured password), then the workers in parallel. Only what differs from the
    spec is touched: an unchanged deployment is left alone ("up to date"); a changed replica
    count only scales that worker. Every failure is reported at the end (exit 4); the engine
    not being reachable exits 3. One run at a time per project (a lock beside the spec).
    """
    from faktctl.commands import up as command

    raise typer.Exit(command.run(file, dry_run=dry_run, timeout_s=timeout, pull=pull.value))


@app.command()
def down(
    file: SpecOption = None,
    volumes: Annotated[
        bool,
        typer.Option(*options.VOLUMES, help="Also delete the data volume (every job in it)."),
    ] = False,
    yes: Annotated[
        bool, typer.Option(*options.YES, help="Do not ask before deleting the volume.")
    ] = False,
) -> None:
    """Stop and remove the deployment: workers first, then the server with its stop grace
    period (so Faktory saves its data), then the network. The data volume is kept unless
    --volumes is given (which asks for confirmation unless --yes)."""
    from faktctl.commands import down as command

    raise typer.Exit(command.run(file, volumes=volumes, assume_yes=yes))


@app.command()
def status(
    file: SpecOption = None,
    as_json: Annotated[
        bool, typer.Option(*options.JSON, help='JSON envelope {"faktctl": 1, ...} on stdout.')
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option(
            *options.VERBOSE,
            help="Inspect every container too (restart counts, exact start times) and read "
            "Redis's persistence state in the server (a failed save, unsaved writes).",
        ),
    ] = False,
) -> None:
    """Show each service's containers: state, health, published ports, image, uptime, and the
    drift against the spec, then what the Faktory server reports. One engine query for all
    containers; --verbose adds restart counts and Redis's persistence state. Exit 0 when up to
    date, 1 when it drifts."""
    from faktctl.commands import status as command

    raise typer.Exit(command.run(file, as_json=as_json, verbose=verbose))


@app.command()
def logs(
    service: Annotated[
        str | None, typer.Argument(help="Service name (default: every service).")
    ] = None,
    file: Annotated[
        Path | None,
        typer.Option("--file", help="Spec file to use (default: ./faktory.yaml).", dir_okay=False),
    ] = None,
    follow: Annotated[
        bool, typer.Option("--follow", "-f", help="Keep printing new lines (Ctrl-C to stop).")
    ] = False,
    tail: Annotated[
        int | None, typer.Option(min=0, help="Only the last N lines of each container.")
    ] = None,
) -> None:
    """Print the containers' logs (the password is redacted). Note: -f means --follow here;
    use --file for another spec."""
    from faktctl.commands import logs as command

    raise typer.Exit(command.run(file, service=service, follow=follow, tail=tail))


@app.command()
def dashboard(
    file: SpecOption = None,
    port: Annotated[
        int, typer.Option(min=0, max=65535, help="Local port (0: any free port).")
    ] = 7420,
    address: Annotated[
        str, typer.Option(help="Local address to listen on; keep it on loopback.")
    ] = "127.0.0.1",
) -> None:
    """Open the Faktory dashboard on http://127.0.0.1:7420 through the Docker engine API.

    Every connection runs `nc 127.0.0.1 7420` inside the server's container (like kubectl
    port-forward), so the dashboard needs no published port (on a swarm it is never published).
    Works for both platforms; the server's container must be on the engine faktctl reaches.
    Ctrl-C closes the tunnel."""
    from faktctl.commands import dashboard as command

    raise typer.Exit(command.run(file, port=port, address=address))


class AuditFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"


@app.command()
def audit(
    file: SpecOption = None,
    compose: Annotated[
        Path | None,
        typer.Option(
            "--compose",
            help="Audit this compose file (any, hand-written or rendered) instead of the spec.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    live: Annotated[
        bool,
        typer.Option(
            "--live",
            help="Audit the running deployment through the Docker engine and over the wire.",
        ),
    ] = False,
    k8s: Annotated[
        str | None,
        typer.Option(
            "--k8s",
            metavar="PATH|-",
            help="Audit Kubernetes manifests: a file, a folder, or - for stdin "
            "(helm template RELEASE CHART | faktctl audit --k8s -).",
            show_default=False,
        ),
    ] = None,
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="Fail on any failing check (warning and info too), not only errors."
        ),
    ] = False,
    output_format: Annotated[
        AuditFormat, typer.Option("--format", help="Report format.")
    ] = AuditFormat.table,
    output: Annotated[
        Path | None,
        typer.Option(
            "--output",
            "-o",
            help="Write the report to this file (`-`: standard output). A file is replaced "
            "atomically; a device, FIFO or link is written in place; its folder must exist.",
            dir_okay=False,
        ),
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            metavar="KEY=VALUE",
            help="With --live: only containers with this label (repeatable).",
        ),
    ] = None,
) -> None:
    """Check the deployment against the go-live checklist: persistence, production mode,
    password and secrets, dashboard exposure, backups and hygiene.

    Default input is the spec (./faktory.yaml or -f) with its password files, backups and
    rendered files; --compose audits any compose file; --k8s Kubernetes manifests (multi-document
    YAML, a folder, or `helm template` output on stdin); --live the running containers. Passing,
    failing and skipped checks are all listed. Exit 0 when no error fails (--strict: when no
    check fails at all, info included), 1 otherwise, 2 for unreadable or invalid input.
    Suppress a check with `audit.ignore` in the spec, `x-faktctl-ignore` in a compose
    service, or the `faktctl.io/audit-ignore` annotation of a workload (id, reason, expires).
    """
    from faktctl.commands import audit as command

    raise typer.Exit(
        command.run(
            file,
            compose=compose,
            live=live,
            k8s=k8s,
            strict=strict,
            fmt=output_format.value,
            output=output,
            labels=label or [],
        )
    )


class CompressionChoice(StrEnum):
    auto = "auto"
    fast = "fast"
    best = "best"
    none = "none"


JsonOption = Annotated[
    bool, typer.Option("--json", help='JSON envelope {"faktctl": 1, ...} on stdout.')
]

FromOption = Annotated[
    str | None,
    typer.Option(
        "--from",
        metavar="DESTINATION",
        help="Which backup destination: its text in the spec (e.g. `restic:/srv/restic`) or "
        "its position in backup.destinations (default: the first).",
    ),
]

backup_app = typer.Typer(
    help="Back up the server's data (run without a subcommand), list or verify backups.",
    no_args_is_help=False,
)
app.add_typer(backup_app, name="backup")


@backup_app.callback(invoke_without_command=True)
def backup(
    ctx: typer.Context,
    file: SpecOption = None,
    as_json: JsonOption = False,
    compression: Annotated[
        CompressionChoice,
        typer.Option(
            help="auto: deflate only the parts that shrink well (fast; faktory.rdb is already "
            "compressed by Redis); fast/best: gzip level 1/6 throughout; none: store."
        ),
    ] = CompressionChoice.auto,
    timeout: Annotated[
        int, typer.Option(min=1, help="Seconds to wait for Redis to write the snapshot.")
    ] = 300,
) -> None:
    """Take a backup now, without stopping the server.

    Redis writes a fresh snapshot (BGSAVE); faktory.rdb is streamed out through the engine,
    compressed, checked, and saved with a manifest (sha256, sizes, queue and set sizes) in the
    spec's backup.destination; only the newest backup.keep backups are kept.
    """
    if ctx.invoked_subcommand is not None:
        return
    from faktctl.commands import backup as command

    raise typer.Exit(
        command.run_backup(
            file, as_json=as_json, compression=compression.value, timeout=float(timeout)
        )
    )


@backup_app.command("list")
def backup_list(
    file: SpecOption = None, as_json: JsonOption = False, wanted: FromOption = None
) -> None:
    """List the backups: age, size, jobs, whether the snapshot is there and was verified.
    With several destinations, each is listed (or only the one --from names)."""
    from faktctl.commands import backup as command

    raise typer.Exit(command.run_list(file, as_json=as_json, wanted=wanted))


@backup_app.command("verify")
def backup_verify(
    reference: Annotated[
        str | None,
        typer.Argument(
            metavar="BACKUP", help="Backup name or manifest path (default: the newest)."
        ),
    ] = None,
    file: SpecOption = None,
    as_json: JsonOption = False,
    image: Annotated[
        str | None,
        typer.Option(help="Server image for the test (default: the running server's image)."),
    ] = None,
    timeout: Annotated[
        int, typer.Option(min=1, help="Seconds the throwaway server may take to load it.")
    ] = 120,
    wanted: FromOption = None,
) -> None:
    """Check a backup's sha256, load it into a throwaway server, and compare its queue and set
    sizes with the manifest. The outcome is recorded in the manifest. In a restic repository
    `restic check --read-data` runs first, and the outcome is recorded as a tag."""
    from faktctl.commands import backup as command

    raise typer.Exit(
        command.run_verify(
            file, reference, as_json=as_json, image=image, timeout=float(timeout), wanted=wanted
        )
    )


@backup_app.command("schedule")
def backup_schedule(
    file: SpecOption = None,
    cron: Annotated[
        bool, typer.Option("--cron", help="Print a crontab line instead of systemd units.")
    ] = False,
    install: Annotated[
        bool,
        typer.Option(
            "--install",
            help="Write the units to /etc/systemd/system and enable the timer (root, systemd).",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Folder for the unit files (default: the spec's folder)."),
    ] = None,
) -> None:
    """Run `faktctl backup` on backup.schedule (a systemd OnCalendar expression, default
    hourly): writes faktctl-backup-PROJECT.service and .timer (Persistent=true, randomized
    delay) and prints where to put them and the systemctl commands; or a crontab line."""
    from faktctl.commands import backup_schedule as command

    raise typer.Exit(command.run(file, cron=cron, install=install, out=out))


@app.command()
def restore(
    reference: Annotated[
        str, typer.Argument(metavar="BACKUP", help="Backup name or manifest path.")
    ],
    file: SpecOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
    timeout: Annotated[
        int, typer.Option(min=1, help="Seconds to wait for the server to become healthy.")
    ] = 120,
    wanted: FromOption = None,
) -> None:
    """Replace the server's data with a backup.

    Refuses a backup that is missing or fails its sha256 (nothing is touched). Saves the
    current data as a `pre-restore` backup first, stops the workers and then the server
    gracefully, puts the snapshot in place, starts the server, waits until it is healthy,
    compares queue and set sizes with the backup, and starts the workers again.
    """
    from faktctl.commands import restore as command

    raise typer.Exit(
        command.run(
            file,
            reference,
            assume_yes=yes,
            as_json=as_json,
            timeout=float(timeout),
            wanted=wanted,
        )
    )


@app.command()
def upgrade(
    file: SpecOption = None,
    to: Annotated[
        str | None,
        typer.Option(
            "--to",
            metavar="VERSION",
            help="Target version (e.g. 1.10.0, on the spec's image repository) or a full image "
            "reference. Default: the spec's image if it names another version, else 1.10.0.",
        ),
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Print the plan on stdout and change nothing.")
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
    repair: Annotated[
        bool,
        typer.Option(
            "--repair",
            help="Make jobs hidden under the other version's queue keys visible again, in the "
            "running server (after a tag was changed by hand).",
        ),
    ] = False,
    force: Annotated[
        bool,
        typer.Option(
            "--force", help="Allow a downgrade across the queue-key change (moves keys back)."
        ),
    ] = False,
    pull: Annotated[
        PullChoice,
        typer.Option(help="Pull the target image only when missing, always, or never."),
    ] = PullChoice.missing,
    timeout: Annotated[
        int, typer.Option(min=1, help="Seconds to wait for the new server to become healthy.")
    ] = 120,
) -> None:
    """Move the running server to another Faktory version without hiding or losing a job.

    Preflight (running version, every queue and set size, target image present), a safety
    backup, workers then server stopped gracefully, queues moved to the new version's Redis
    keys with no client able to connect (1.10 keeps queue `x` under `q:x`), the new server
    started and gated on health, every count compared: any loss rolls back to the old image
    and the safety backup (exit 4). Then the workers start and the spec's server.image is set.
    Downgrades across the key change need --force.
    """
    from faktctl.commands import upgrade as command

    raise typer.Exit(
        command.run(
            file,
            to=to,
            dry_run=dry_run,
            assume_yes=yes,
            as_json=as_json,
            repair=repair,
            force=force,
            pull=pull.value,
            timeout=float(timeout),
        )
    )


tls_app = typer.Typer(help="The TLS certificates faktctl generates (server.tls.mode: generate).")
app.add_typer(tls_app, name="tls")


@tls_app.command("rotate")
def tls_rotate(
    file: SpecOption = None,
    new_ca: Annotated[
        bool,
        typer.Option(
            "--new-ca",
            help="Replace the CA too: workers on other hosts then need the new ca.cert.pem.",
        ),
    ] = False,
    timeout: Annotated[
        int, typer.Option(min=1, help="Seconds to wait for the server to become healthy.")
    ] = 120,
) -> None:
    """Issue a new server certificate and restart the server with it (its data kept).

    The server reads its certificate only at start: `up` then recreates the server container
    on the same volume, and workers reconnect with the URL they have. `up` renews a generated
    certificate on its own 30 days before it expires; the CA is replaced only with --new-ca.
    """
    from faktctl.commands import tls as command

    raise typer.Exit(command.rotate(file, new_ca=new_ca, timeout_s=float(timeout)))
