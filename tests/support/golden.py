"""Golden outputs: what faktctl prints and writes for fixed inputs, recorded byte for byte.

Every case runs faktctl through its user interface only (the console-script entry point
`faktctl.entry.main`, in-process, with its own argv, working folder, environment and captured
stdout/stderr), on inputs copied to a temporary folder: the examples (with a fixed password
file laid out as `faktctl init` does), the audit corpora of tests/unit, and a swarm spec. No
internal module of faktctl is imported here, so the same golden files hold a reorganised tree
to the same outputs.

One file per case under tests/golden/<kind>/<case>.txt: the command line, its exit code, its
stdout and stderr, and every file it wrote (relative path, mode, content). Record again with

    python -m tests.support.golden --record          (add --e2e for the engine cases)

The only normalisations (each is run-specific, not faktctl's behaviour):
- the temporary folder a case runs in becomes `<tmp>` (its path differs on every run);
- in the TLS cases, each written PEM file (a key or certificate made on every run) becomes a
  placeholder naming its kind, and the content hash in a TLS file's swarm secret name `<hash>`;
- in the engine cases, image ids (`sha256:<64 hex>`) become `sha256:<image-id>`: they depend
  on the engine's local build of the test image (built, not pulled: a new id per build); and so
  do the swarm services' `io.faktctl.config-hash` labels (a hash over everything, the image id
  included), which become `<config-hash>`.
The clock is frozen at NOW for the audits (backup ages and suppression expiry dates depend on
it), the environment is reduced to a fixed set, and file modes in the copied inputs are fixed
(build-context digests, which name worker images, hash them).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import gc
import io
import os
import re
import shutil
import signal
import stat
import sys
import tempfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from tests.paths import EXAMPLES, REPO
from tests.support import audit_corpus

GOLDEN = REPO / "tests" / "golden"
UNIT = REPO / "tests" / "unit"
K8S_CORPUS = UNIT / "k8s_corpus"
AUDIT_INPUTS = UNIT / "audit_inputs"
K8S_CHARTS = UNIT / "k8s_charts"
SWARM_SPEC = GOLDEN / "inputs" / "swarm" / "faktory.yaml"
TLS_SPEC = GOLDEN / "inputs" / "tls" / "faktory.yaml"
TLS_SWARM_SPEC = GOLDEN / "inputs" / "tls-swarm" / "faktory.yaml"
# a TLS file's swarm secret is named by its content, made on every run
TLS_SECRET_NAME = re.compile(r"(_tls_(?:cert|key|ca)_)[0-9a-f]{12}")
RECORD_COMMAND = "python -m tests.support.golden --record"

PASSWORD = "golden-test-password-0123456789abcdef"  # a constant, so renders are deterministic
NOW = "2026-07-01T12:00:00+00:00"  # the audit corpora's own NOW (tests/unit/test_*_corpus.py)
EXAMPLE_NAMES = tuple(sorted(p.parent.name for p in EXAMPLES.glob("*/faktory.yaml")))
# What render, init or build.sh may have left in a checkout's examples: outputs, not inputs.
EXAMPLE_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", "secrets", ".env", "k8s", "compose.yaml", "stack.yaml", "backups"
)
GO_WORKER_BINARY = Path("go-worker") / "go-worker"
# Only these variables reach faktctl (plus each case's own): compose interpolation reads the
# environment, so anything else set on the machine could change an audit.
KEPT_ENV = ("PATH", "HOME", "TMPDIR", "DOCKER_HOST", "DOCKER_CONFIG", "FAKTCTL_CACHE_DIR")
FIXED_ENV = {"NO_COLOR": "1", "COLUMNS": "200", "LC_ALL": "C.UTF-8"}
IMAGE_ID = re.compile(r"sha256:[0-9a-f]{64}")
# a written PEM file (a key or certificate faktctl generated: new on every run), whole block
PEM_FILE = re.compile(
    r"^(==== file \S+ mode \d+) \(\d+ bytes\)\n-----BEGIN ([A-Z ]+)-----\n.*?-----END \2-----\n",
    re.M | re.S,
)
CONFIG_HASH = re.compile(r"(io\.faktctl\.config-hash: )[0-9a-f]{64}")


# --- running faktctl ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str


@contextlib.contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    kept = {k: v for k, v in saved.items() if k in KEPT_ENV}
    os.environ.clear()
    os.environ.update({**kept, **FIXED_ENV, **extra})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def run_faktctl_inline(args: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """`faktctl ARGS` in `cwd` through faktctl.entry.main in this process, as the console script
    runs it: its exit code (SystemExit), stdout and stderr (not terminals: plain output)."""
    from faktctl.entry import main

    argv = ("faktctl", *args)
    out, err = io.StringIO(), io.StringIO()
    saved_argv, saved_cwd = sys.argv, Path.cwd()
    saved_sigint = signal.getsignal(signal.SIGINT)
    code: int
    try:
        sys.argv = list(argv)
        os.chdir(cwd)
        with (
            _environment(env or {}),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            try:
                main()
                code = 0
            except SystemExit as exit_:
                if exit_.code is None:
                    code = 0
                elif isinstance(exit_.code, int):
                    code = exit_.code
                else:
                    err.write(f"{exit_.code}\n")
                    code = 1
    finally:
        sys.argv = saved_argv
        os.chdir(saved_cwd)
        signal.signal(signal.SIGINT, saved_sigint)
        gc.unfreeze()  # the entry point freezes the collector before the process would exit
    return Run(argv, code, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def frozen_clock() -> Iterator[None]:
    from freezegun import freeze_time

    with freeze_time(NOW):
        yield


# --- the text of a case ------------------------------------------------------------------------


def _block(title: str, text: str) -> str:
    if text == "":
        return f"==== {title}: empty\n"
    ending = "" if text.endswith("\n") else "\n"
    note = "" if ending == "" else ", no newline at end"
    return f"==== {title} ({len(text.encode())} bytes{note})\n{text}{ending}"


def files_under(folder: Path) -> dict[str, Path]:
    return {
        path.relative_to(folder).as_posix(): path
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink()
    }


def describe(run: Run, written: dict[str, Path] | None = None) -> str:
    """The run as readable text: command, exit code, stdout, stderr, then each written file."""
    parts = [f"$ {' '.join(run.argv)}\n", f"exit {run.code}\n"]
    parts.append(_block("stdout", run.stdout))
    parts.append(_block("stderr", run.stderr))
    for relative, path in sorted((written or {}).items()):
        mode = stat.S_IMODE(path.stat().st_mode)
        text = path.read_bytes().decode("utf-8", errors="backslashreplace")
        parts.append(_block(f"file {relative} mode {mode:04o}", text))
    return "".join(parts)


def normalise(text: str, workdir: Path) -> str:
    """The temporary folder's path (and its resolved form) becomes `<tmp>`: run-specific."""
    for form in sorted({str(workdir.resolve()), str(workdir)}, key=len, reverse=True):
        text = text.replace(form, "<tmp>")
    return text


# --- inputs ------------------------------------------------------------------------------------


def _fix_modes(folder: Path) -> None:
    """Modes as a plain checkout has them (0755 folders, 0644 files, 0755 executables), so the
    build-context digests (which hash modes) do not depend on the machine's umask."""
    for path in [folder, *folder.rglob("*")]:
        if path.is_symlink():
            continue
        if path.is_dir():
            path.chmod(0o755)
        else:
            executable = path.stat().st_mode & 0o111
            path.chmod(0o755 if executable else 0o644)


def write_password(folder: Path) -> None:
    """secrets/faktory_password as `faktctl init` lays it out (folder 0700, file 0600)."""
    secrets = folder / "secrets"
    secrets.mkdir(mode=0o700, exist_ok=True)
    secrets.chmod(0o700)
    password = secrets / "faktory_password"
    password.write_text(PASSWORD + "\n")
    password.chmod(0o600)


def copy_examples(workdir: Path, project_prefix: str = "") -> Path:
    """examples/ copied into `workdir`, fixed modes, a fixed password beside every spec;
    `project_prefix` renames each project (a name no one else uses on the engine)."""
    target = workdir / "examples"
    shutil.copytree(EXAMPLES, target, ignore=EXAMPLE_IGNORE)
    (target / GO_WORKER_BINARY).unlink(missing_ok=True)
    _fix_modes(target)
    for name in EXAMPLE_NAMES:
        spec = target / name / "faktory.yaml"
        if project_prefix:
            text = re.sub(
                r"^project: (\S+)$", rf"project: {project_prefix}\1", spec.read_text(), flags=re.M
            )
            spec.write_text(text)
        write_password(target / name)
    return target


def corpus_cases() -> list[audit_corpus.Case]:
    """The compose cases of tests/unit/audit_corpus, header lines read as the corpus test does."""
    return audit_corpus.all_cases()


# --- the cases ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    kind: str
    name: str
    produce: Callable[[Path], str]  # a fresh temporary folder -> the case's text
    e2e: bool = False  # needs the Docker engine

    @property
    def id(self) -> str:
        return f"{self.kind}/{self.name}"

    @property
    def path(self) -> Path:
        return GOLDEN / self.kind / f"{self.name}.txt"


def _render(example: str, target: str) -> Callable[[Path], str]:
    def produce(workdir: Path) -> str:
        folder = copy_examples(workdir) / example
        before = set(files_under(folder))
        args = ["render"] if target == "compose" else ["render", "--target", target]
        run = run_faktctl_inline(args, folder)
        written = {k: v for k, v in files_under(folder).items() if k not in before}
        return normalise(describe(run, written), workdir)

    return produce


def pem_placeholders(text: str) -> str:
    """Each written PEM file as `<PEM KIND: generated on every run>`."""
    return PEM_FILE.sub(r"\1 (PEM)\n<\2: generated on every run>\n", text)


def _render_tls(target: str) -> Callable[[Path], str]:
    """`render` of the TLS spec (tests/golden/inputs/tls): makes the CA and the certificate."""

    def produce(workdir: Path) -> str:
        folder = workdir / "tls"
        folder.mkdir()
        shutil.copy(TLS_SPEC, folder / "faktory.yaml")
        write_password(folder)
        before = set(files_under(folder))
        args = ["render"] if target == "compose" else ["render", "--target", target]
        run = run_faktctl_inline(args, folder)
        written = {k: v for k, v in files_under(folder).items() if k not in before}
        return pem_placeholders(normalise(describe(run, written), workdir))

    return produce


def _schema(workdir: Path) -> str:
    return normalise(describe(run_faktctl_inline(["schema"], workdir)), workdir)


def _audit_compose(case: audit_corpus.Case) -> Callable[[Path], str]:
    def produce(workdir: Path) -> str:
        folder = audit_corpus.copy_case(case, workdir)
        args = ["audit", "--compose", case.compose_name, "--format", "json"]
        with frozen_clock():
            run = run_faktctl_inline(args, folder, case.env)
        return normalise(describe(run), workdir)

    return produce


def _audit_file(source: Path, flag: str) -> Callable[[Path], str]:
    """`audit FLAG NAME --format json` on a copy of `source` (a file or a folder)."""

    def produce(workdir: Path) -> str:
        if source.is_dir():
            shutil.copytree(source, workdir / source.name)
        else:
            shutil.copy(source, workdir / source.name)
        with frozen_clock():
            run = run_faktctl_inline(["audit", flag, source.name, "--format", "json"], workdir)
        return normalise(describe(run), workdir)

    return produce


def _audit_spec(example: str) -> Callable[[Path], str]:
    def produce(workdir: Path) -> str:
        folder = copy_examples(workdir) / example
        with frozen_clock():
            run = run_faktctl_inline(["audit", "--format", "json"], folder)
        return normalise(describe(run), workdir)

    return produce


GOLDEN_PROJECT_PREFIX = "faktctl-golden-"


def engine_specific(text: str) -> str:
    """Image ids, and the swarm config hashes that cover them, as placeholders."""
    return CONFIG_HASH.sub(r"\1<config-hash>", IMAGE_ID.sub("sha256:<image-id>", text))


def _dry_run(example: str) -> Callable[[Path], str]:
    """`up --dry-run` on an engine where nothing of the (renamed) project exists: a plan of
    creates. Reads the engine only; creates nothing."""

    def produce(workdir: Path) -> str:
        folder = copy_examples(workdir, GOLDEN_PROJECT_PREFIX) / example
        run = run_faktctl_inline(["up", "--dry-run"], folder)
        return engine_specific(normalise(describe(run), workdir))

    return produce


def _stack_of(spec: Path) -> Callable[[Path], str]:
    """`render --target stack` of a swarm spec (tests/golden/inputs/swarm, tls-swarm): it
    inspects the test's Faktory image on the engine (tests.support.images), whose id is
    normalised."""

    def produce(workdir: Path) -> str:
        folder = workdir / "swarm"
        folder.mkdir()
        shutil.copy(spec, folder / "faktory.yaml")
        write_password(folder)
        before = set(files_under(folder))
        run = run_faktctl_inline(["render", "--target", "stack"], folder)
        written = {k: v for k, v in files_under(folder).items() if k not in before}
        text = engine_specific(normalise(describe(run, written), workdir))
        return TLS_SECRET_NAME.sub(r"\1<hash>", pem_placeholders(text))

    return produce


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for example in EXAMPLE_NAMES:
        for target in ("compose", "kubernetes", "stack"):  # stack: refused, not platform: swarm
            cases.append(Case("render", f"{example}-{target}", _render(example, target)))
    cases.append(Case("render", "swarm-stack", _stack_of(SWARM_SPEC), e2e=True))
    cases.append(Case("render", "tls-stack", _stack_of(TLS_SWARM_SPEC), e2e=True))
    for target in ("compose", "kubernetes"):
        cases.append(Case("render", f"tls-{target}", _render_tls(target)))
    cases.append(Case("schema", "schema", _schema))
    for corpus in corpus_cases():
        cases.append(Case("audit", f"compose-{corpus.name}", _audit_compose(corpus)))
    for path in sorted(K8S_CORPUS.glob("*.yaml")):
        cases.append(Case("audit", f"k8s-{path.stem}", _audit_file(path, "--k8s")))
    for path in sorted(AUDIT_INPUTS.iterdir()):
        cases.append(Case("audit", f"inputs-{path.name}", _audit_file(path, "--compose")))
    for chart in sorted(p for p in K8S_CHARTS.iterdir() if p.is_dir()):
        templates = chart / "templates"  # a raw Helm template: refused with the helm hint
        cases.append(Case("audit", f"chart-{chart.name}", _audit_file(templates, "--k8s")))
    for example in EXAMPLE_NAMES:
        cases.append(Case("audit", f"spec-{example}", _audit_spec(example)))
    for example in EXAMPLE_NAMES:
        cases.append(Case("dry-run", example, _dry_run(example), e2e=True))
    return cases


CASES = all_cases()
UNIT_CASES = [c for c in CASES if not c.e2e]
E2E_CASES = [c for c in CASES if c.e2e]


def produce(case: Case) -> str:
    """The case's text, from a fresh temporary folder outside any git work tree."""
    with tempfile.TemporaryDirectory(prefix="faktctl-golden-") as name:
        return case.produce(Path(name))


def mismatch(case: Case, actual: str) -> str | None:
    """None when `actual` is the recorded text, else a unified diff and how to record."""
    try:
        expected = case.path.read_text()
    except FileNotFoundError:
        return f"{case.id}: no golden file {case.path}; record it with `{RECORD_COMMAND}`"
    if actual == expected:
        return None
    diff = "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{case.path.relative_to(REPO)} (recorded)",
            tofile=f"{case.id} (live)",
        )
    )
    return (
        f"{case.id}: output differs from the golden file. If the change is intended, record "
        f"again with `{RECORD_COMMAND}`{' --e2e' if case.e2e else ''} and review the diff.\n"
        f"{diff}"
    )


# --- the recorder ------------------------------------------------------------------------------


def _engine_setup() -> Callable[[], None]:
    """What the engine cases need outside pytest: the test Faktory image (built and cached by
    tests.support.images) for the swarm spec. Returns the cleanup."""
    import docker

    from tests.support.images import ensure_faktory_image

    client = docker.from_env()
    ensure_faktory_image(client, version="1.10.0")
    return client.close


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.support.golden", description=__doc__)
    parser.add_argument("--record", action="store_true", help="(re)write the golden files")
    parser.add_argument("--e2e", action="store_true", help="also the cases needing the engine")
    parser.add_argument("cases", nargs="*", help="only these case ids (kind/name)")
    options = parser.parse_args(argv)
    chosen = [c for c in CASES if options.e2e or not c.e2e]
    if options.cases:
        chosen = [c for c in chosen if c.id in options.cases]
    cleanup: Callable[[], None] = lambda: None  # noqa: E731
    cache = tempfile.TemporaryDirectory(prefix="faktctl-golden-cache-")
    os.environ["FAKTCTL_CACHE_DIR"] = cache.name  # never the user's ~/.cache
    if any(c.e2e for c in chosen):
        cleanup = _engine_setup()
    failed = 0
    try:
        for case in chosen:
            actual = produce(case)
            if options.record:
                case.path.parent.mkdir(parents=True, exist_ok=True)
                if not case.path.exists() or case.path.read_text() != actual:
                    case.path.write_text(actual)
                    print(f"recorded {case.id}")
                continue
            problem = mismatch(case, actual)
            if problem is not None:
                failed += 1
                print(problem)
    finally:
        cleanup()
        cache.cleanup()
    print(f"{len(chosen)} case(s), {failed} differ")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
