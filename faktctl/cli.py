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
    add_completion=True,
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
    prometheus = "prometheus"


@app.command()
def render(
    file: SpecOption = None,
    target: Annotated[
        RenderTarget,
        typer.Option(
            "--target",
            help="compose: compose.yaml and .env beside the spec; kubernetes: a kustomize "
            "directory for `kubectl apply -k` (default k8s/ beside the spec); stack: stack.yaml "
            "for `docker stack deploy` (platform: swarm; reads image ids from the engine); "
            "prometheus: prometheus/faktory-rules.yaml, alert rules from `monitoring:`.",
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
    if target == RenderTarget.prometheus:
        raise typer.Exit(command.run_prometheus(file, check=check))
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
    adopt_volume: Annotated[
        bool,
        typer.Option(
            "--adopt-volume",
            help="Use a data volume of the spec's name that faktctl did not create (it keeps "
            "no faktctl labels: `down --volumes` never removes it).",
        ),
    ] = False,
) -> None:
    """Create or update the deployment through the Docker engine, then wait until it is healthy.

    Network and volume first, then the server (healthy: engine health and a Faktory handshake
    with the configured password), then the workers in parallel. Only what differs from the
    spec is touched: an unchanged deployment is left alone ("up to date"); a changed replica
    count only scales that worker. Every failure is reported at the end (exit 4); the engine
    not being reachable exits 3. One run at a time per project (a lock beside the spec).

    Worker rollouts strand no job: a replaced worker's new replicas start first and must be
    connected to the server; then the old ones are quieted, drained (up to stop_grace_period)
    and removed. At most a quarter of a worker's replicas (1 to 10) roll at a time; workers roll
    side by side. Scaling down quiets and drains the removed replicas. Jobs still reserved when
    a grace period runs out are reported with their jids.
    """
    from faktctl.commands import up as command

    raise typer.Exit(
        command.run(
            file, dry_run=dry_run, timeout_s=timeout, pull=pull.value, adopt_volume=adopt_volume
        )
    )


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
    """Stop and remove the deployment: workers first (quieted through the server and drained
    up to their stop grace period when the password is readable), then the server with its
    stop grace period (so Faktory saves its data), then the network. The data volume is kept
    unless --volumes is given (which asks for confirmation unless --yes)."""
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
def metrics(
    file: SpecOption = None,
    textfile: Annotated[
        Path | None,
        typer.Option(
            "--textfile",
            help="Write the metrics to this file (atomically) for node_exporter's textfile "
            "collector, instead of printing them.",
            dir_okay=False,
            show_default=False,
        ),
    ] = None,
    listen: Annotated[
        str | None,
        typer.Option(
            "--listen",
            help="Serve /metrics on HOST:PORT (e.g. 127.0.0.1:9386) until stopped.",
            show_default=False,
        ),
    ] = None,
    allow_remote: Annotated[
        bool,
        typer.Option("--allow-remote", help="Let --listen bind an address other than loopback."),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            "--timeout",
            help="Seconds one scrape may take; past it the answer is faktory_up 0 (reason "
            "timeout).",
        ),
    ] = 5.0,
    openmetrics: Annotated[
        bool,
        typer.Option(
            "--openmetrics", help="Print OpenMetrics instead of the Prometheus text format."
        ),
    ] = False,
    install: Annotated[
        bool,
        typer.Option(
            "--install",
            help="Write systemd units that run this --listen (a service) or --textfile (a "
            "service and a minutely timer), and enable them (root, systemd).",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="With --install: write the units to this folder instead of "
            "/etc/systemd/system, and enable nothing.",
            file_okay=False,
            show_default=False,
        ),
    ] = None,
) -> None:
    """Prometheus metrics of the deployment: queue sizes and latencies, sets, totals, the
    server's connections and memory, its data's last save, the backups, the workers. Prints
    them once; --textfile writes them for node_exporter; --listen serves /metrics (docs:
    docs/monitoring.md). A server that cannot be read gives faktory_up 0, not an error."""
    from faktctl.commands import metrics as command

    raise typer.Exit(
        command.run(
            file,
            textfile=textfile,
            listen=listen,
            allow_remote=allow_remote,
            timeout=timeout,
            openmetrics=openmetrics,
            install=install,
            out=out,
        )
    )


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
    allow_remote: Annotated[
        bool,
        typer.Option(
            "--allow-remote",
            help="Allow a non-loopback --address although server.dashboard_exposure is internal.",
        ),
    ] = False,
) -> None:
    """Open the Faktory dashboard on http://127.0.0.1:7420 through the Docker engine API.

    Every connection runs `nc 127.0.0.1 7420` inside the server's container (like kubectl
    port-forward; the image's `sh` and `nc`), so the dashboard needs no published port (on a
    swarm it is never published). Works for both platforms; the server's container must be on
    the engine faktctl reaches. With TLS on, the browser sees the server's certificate. Ctrl-C
    closes the tunnel."""
    from faktctl.commands import dashboard as command

    raise typer.Exit(command.run(file, port=port, address=address, allow_remote=allow_remote))


class AuditFormat(StrEnum):
    table = "table"
    json = "json"
    sarif = "sarif"
    junit = "junit"
    github = "github"
    markdown = "markdown"
    gitlab = "gitlab"


class AuditScopeName(StrEnum):
    repo = "repo"
    host = "host"
    live = "live"


@app.command()
def audit(
    file: SpecOption = None,
    compose: Annotated[
        Path | None,
        typer.Option(
            "--compose",
            help="Audit this compose file (any, hand-written or rendered) instead of the spec; "
            "an ECS task definition (JSON, CloudFormation, Terraform), a Render blueprint or a "
            "fly.toml given here is recognised and audited the same way.",
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
    scope: Annotated[
        AuditScopeName | None,
        typer.Option(
            "--scope",
            help="What the audit can see: repo (the committed configuration: CI), host (plus "
            "this host's secret files and local backups), live (the running deployment, as "
            "--live). Default: live with --live; repo when CI is set or the spec's secret files "
            "are git-ignored and absent; host otherwise.",
            show_default=False,
        ),
    ] = None,
    output_format: Annotated[
        AuditFormat,
        typer.Option(
            "--format",
            help="Report format: table, json, sarif, junit, github (workflow-command "
            "annotations), markdown (a step summary), gitlab (Code Quality JSON).",
        ),
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
    rendered files; --compose audits any compose file (or an ECS task definition, also inside
    CloudFormation or Terraform, a Render blueprint, a fly.toml); --k8s Kubernetes manifests
    (multi-document YAML, a folder, or `helm template` output on stdin); --live the running
    containers. Passing, failing and skipped checks are all listed. Exit 0 when no error fails
    (--strict: when no check fails at all, info included), 1 otherwise, 2 for unreadable or
    invalid input.
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
            scope=scope.value if scope is not None else None,
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
        str | None, typer.Argument(metavar="BACKUP", help="Backup name or manifest path.")
    ] = None,
    file: SpecOption = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
    timeout: Annotated[
        int, typer.Option(min=1, help="Seconds to wait for the server to become healthy.")
    ] = 120,
    wanted: FromOption = None,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Finish a restore that was interrupted (Ctrl-C, kill, reboot): start the "
            "server and the workers again and say whether the data is the backup's.",
        ),
    ] = False,
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
            resume=resume,
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
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Finish an upgrade that was interrupted (Ctrl-C, kill, reboot): the one it "
            "recorded beside the spec; rolls back to its safety backup on any loss.",
        ),
    ] = False,
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
            resume=resume,
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
    on the same volume (on a swarm: updates the server service onto new content-named
    secrets), and workers reconnect with the URL they have. `up` renews a generated
    certificate on its own 30 days before it expires; the CA is replaced only with --new-ca.
    (`render --target kubernetes` renews it the same way: apply the new render.)
    """
    from faktctl.commands import tls as command

    raise typer.Exit(command.rotate(file, new_ca=new_ca, timeout_s=float(timeout)))


secrets_app = typer.Typer(
    help="The password files of a spec on this host (they are git-ignored: a clone has none).",
    no_args_is_help=True,
)
app.add_typer(secrets_app, name="secrets")


@secrets_app.command("provision")
def secrets_provision(
    file: SpecOption = None,
    which: Annotated[
        str,
        typer.Option(
            "--which",
            metavar="server|dashboard",
            help="The password file a given value goes to: server (server.password_file) or "
            "dashboard (server.dashboard_password_file).",
        ),
    ] = "server",
    from_stdin: Annotated[
        bool, typer.Option("--from-stdin", help="Read the value from standard input (a pipe).")
    ] = False,
    from_env: Annotated[
        str | None,
        typer.Option(
            "--from-env", metavar="VAR", help="Take the value from this environment variable."
        ),
    ] = None,
    from_file: Annotated[
        Path | None,
        typer.Option("--from-file", help="Copy the value from this file.", dir_okay=False),
    ] = None,
    force: Annotated[
        bool,
        typer.Option("--force", help="Replace the --which file even when it exists."),
    ] = False,
) -> None:
    """Create the password files the spec names, on the host that deploys it.

    Missing files are generated; with --from-stdin, --from-env or --from-file the --which file
    gets that value instead (the same password as another host, or one from the CI's secret
    store). Files are written 0600 in a 0700 folder and never printed; a file that exists is
    left alone unless --force. Then `faktctl up`.
    """
    from faktctl.commands import secrets as command

    command.run(
        file,
        which=which,
        from_stdin=from_stdin,
        from_env=from_env,
        from_file=from_file,
        force=force,
    )


@app.command()
def rescue(
    file: SpecOption = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Say what would be handed back; change nothing.")
    ] = False,
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            metavar="DURATION",
            help="Only reservations at least this old (e.g. 30s, 5m, 1h).",
        ),
    ] = "0s",
    as_json: JsonOption = False,
) -> None:
    """Hand the jobs a crashed worker left reserved back to their queue.

    A job fetched by a worker that was killed (SIGKILL, out of memory) stays reserved until its
    reservation expires (30 minutes by default), and then Faktory files it as a failure. The
    server lists the worker processes it knows on its dashboard; a reservation held by a
    process it no longer lists is orphaned. Each orphaned job goes back, unchanged and with no
    failure recorded, to the end of its queue that is fetched next, atomically (never through
    FAIL); a reservation of a process the server lists is never touched. Needs the dashboard
    reachable (as `faktctl dashboard`). Prints the jids and queues moved; exit 0 also when
    nothing needed it.
    """
    from faktctl.commands import rescue as command

    raise typer.Exit(command.run(file, dry_run=dry_run, older_than=older_than, as_json=as_json))
