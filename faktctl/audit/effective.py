"""What a Faktory server will actually do with the command, environment and files it is given.

One pure module, used for the spec, a compose file and a live container alike. It mirrors the
server's own start-up logic (FAKTORY.md §1-2): Go flag parsing of `-e/-d/-c/-b/-w`, FAKTORY_ENV
as the default of `-e`, the development rewrite of the data and config dirs, and the password
lookup order FAKTORY_PASSWORD > conf.d > /etc/faktory/password, where a value starting with `/`
is a file.
"""

from __future__ import annotations

import posixpath
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from faktctl.audit.model import MountFact
from faktctl.faktory.images import parse_image
from faktctl.faktory.server import DB_DIR
from faktctl.faktory.versions import (
    command_facts_known,
    current_release,
    release_of,
    server_flags,
    text_of,
)

ENVIRONMENTS = ("development", "staging", "production")
DEFAULT_ENVIRONMENT = "development"
DEFAULT_DATA_DIR = DB_DIR  # what Faktory itself uses in production, and what faktctl mounts
DEFAULT_CONFIG_DIR = "/etc/faktory"
ETC_PASSWORD = "/etc/faktory/password"
DEFAULT_BINDING = "localhost:7419"
DEFAULT_WEB_BINDING = "localhost:7420"
# The current image's CMD (it has no ENTRYPOINT); older ones differ: see image_default().
IMAGE_CMD: tuple[str, ...] = current_release().image_cmd or ()
SKIP_VALUES = frozenset({"1", "true", "yes"})
_STRING_FLAGS, _BOOL_FLAGS = server_flags(None)
_SHELLS = frozenset({"sh", "ash", "bash", "dash", "zsh"})
# Programs that run the command after them: the faktory binary behind one of these is still the
# command that runs (`exec /faktory`, `tini -- /faktory`, `su-exec faktory /faktory`).
_WRAPPERS = frozenset(
    {"exec", "tini", "dumb-init", "env", "nice", "nohup", "setsid", "chpst", "s6-setuidgid"}
)
_USER_WRAPPERS = frozenset({"gosu", "su-exec"})  # their first argument is a user

EnvSource = Literal["flag", "FAKTORY_ENV", "default"]
PasswordSource = Literal["FAKTORY_PASSWORD", "conf.d", "/etc/faktory/password", "none"]


# --- the command line ------------------------------------------------------------------------


def reads_faktory_env(image: str | None) -> bool:
    """False when the image's version is known to predate FAKTORY_ENV (1.4.2, #325)."""
    version = parse_image(image).version if image else None
    return version is None or release_of(version).reads_faktory_env


def command_judged(image: str | None) -> bool:
    """False for an image older than the releases whose entrypoint and flags are known."""
    return command_facts_known(parse_image(image).version if image else None)


@dataclass(frozen=True)
class ImageDefault:
    """What a Faktory image runs when the deployment gives no command."""

    argv: tuple[str, ...] | None  # None: not known
    note: str  # how argv was derived, or why it is unknown
    assumed: str | None = None  # for the user: the default assumed for a tag naming no version


def image_default(image: str | None) -> ImageDefault:
    """The default command of `image`, from the per-version table (faktctl.faktory.versions)."""
    if image is None or not parse_image(image).is_faktory:
        return ImageDefault(None, "the image's own command is not known")
    ref = parse_image(image)
    kind = "Faktory Enterprise" if ref.enterprise else "Faktory"
    version = ref.version
    if version is None:
        what = f"tag {ref.tag}" if ref.tag else ("a digest" if ref.digest else "no tag")
        shown = " ".join(IMAGE_CMD)
        return ImageDefault(
            IMAGE_CMD,
            "the image's default command, assuming a current release",
            f"{image} ({what}) names no {kind} version: assumed a current image, whose default "
            f"command is `{shown}` (no -e); images 0.9.0 to 1.4.1 add `-e development`",
        )
    release = release_of(version)
    if release.image_cmd is None:
        return ImageDefault(
            None,
            f"the default command of {kind} {text_of(version)} images (before 0.9.0) is not known",
        )
    note = "the image's default command"
    if "-e" in release.image_cmd:
        note = f"the default command of {kind} {text_of(version)} images"
    return ImageDefault(release.image_cmd, note)


def is_faktory_binary(token: str) -> bool:
    return token == "faktory" or token.endswith("/faktory")


def _program_index(argv: Sequence[str]) -> int | None:
    """The index of the program a command line runs, past wrappers (`exec`, `tini --`,
    `env A=b`, `gosu user`); None when there is none."""
    index = 0
    while index < len(argv):
        word = argv[index]
        name = posixpath.basename(word)
        if name in _WRAPPERS or word == "--" or ("=" in word and not word.startswith("-")):
            index += 1
        elif name in _USER_WRAPPERS:
            index += 2
        elif word.startswith("-") and index > 0:  # an option of the wrapper before it
            index += 1
        else:
            return index
    return None


def faktory_args(argv: Sequence[str]) -> tuple[str, ...] | None:
    """The arguments given to the faktory binary when `argv` runs it (directly, behind a wrapper
    such as tini or `exec`, or as a command of a `sh -c` script), or None when it does not.
    A command that merely names faktory (`killall -HUP faktory`, `pidof faktory`) does not."""
    index = _program_index(argv)
    if index is not None and is_faktory_binary(argv[index]):
        return tuple(argv[index + 1 :])
    for index, token in enumerate(argv[:-1]):
        if token == "-c" and index > 0 and posixpath.basename(argv[0]) in _SHELLS:
            try:
                script = shlex.split(argv[index + 1], comments=True)
            except ValueError:
                return None
            commands = _split_script(script)
            for command in commands:
                found = faktory_args(command)
                if found is not None:
                    return found
    return None


_SEPARATORS = frozenset({";", "&&", "||", "|", "&", "then", "do", "else", "{", "(", "!"})


def _split_script(words: list[str]) -> list[list[str]]:
    """The simple commands of a shell script (split at `;`, `&&`, `then`, `do`...)."""
    commands: list[list[str]] = [[]]
    for word in words:
        if word in _SEPARATORS:
            commands.append([])
        elif word.endswith(";"):
            commands[-1].append(word.rstrip(";"))
            commands.append([])
        else:
            commands[-1].append(word)
    return [c for c in commands if c]


@dataclass(frozen=True)
class Flags:
    values: Mapping[str, str]
    error: str | None = None  # the server refuses to start (Go flag error, exit 2)


def parse_flags(args: Sequence[str]) -> Flags:
    """Parse like Go's `flag` package: `-x v`, `-x=v`, `--x v`; stops at the first non-flag
    argument or `--`; the last occurrence of a flag wins."""
    values: dict[str, str] = {}
    index = 0
    while index < len(args):
        arg = args[index]
        if arg == "--" or not arg.startswith("-") or arg == "-":
            break
        name = arg[2:] if arg.startswith("--") else arg[1:]
        if not name or name.startswith("-") or name.startswith("="):
            return Flags(values, f"bad flag syntax: {arg}")
        name, has_value, value = name.partition("=")
        if name in _BOOL_FLAGS:
            values[name] = value if has_value else "true"
        elif name in _STRING_FLAGS:
            if not has_value:
                if index + 1 >= len(args):
                    return Flags(values, f"flag needs an argument: -{name}")
                index += 1
                value = args[index]
            values[name] = value
        else:
            return Flags(values, f"flag provided but not defined: -{name}")
        index += 1
    return Flags(values)


# --- files the container sees ----------------------------------------------------------------


class FileView:
    """The container paths that mounts, secrets and configs provide, with content when known.
    A path nothing provides does not exist: the image ships /etc/faktory empty. Files read from
    a running container (`files`, `dirs`) are ground truth and win."""

    def __init__(
        self,
        mounts: Sequence[MountFact],
        files: Mapping[str, str | None] | None = None,
        dirs: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self._mounts = tuple(m for m in mounts if m.kind != "tmpfs")
        self._files = files or {}
        self._dirs = dirs or {}

    def _deepest(self, path: str) -> MountFact | None:
        covering = [m for m in self._mounts if m.covers(path)]
        return max(covering, key=lambda m: len(m.target), default=None)

    def file(self, path: str) -> tuple[bool | None, str | None]:
        """(exists, content): exists is None when a folder mount covers it with unknown files."""
        if path in self._files:
            content = self._files[path]
            return content is not None, content
        mount = self._deepest(path)
        if mount is None:
            return False, None
        if mount.target.rstrip("/") == path.rstrip("/") and mount.is_dir is not True:
            return True, mount.content
        if mount.entries is not None:
            relative = posixpath.relpath(path, mount.target)
            if relative in mount.entries:
                return True, mount.entries[relative]
            return False, None
        if mount.kind in {"secret", "config"} or mount.is_dir is False:
            return False, None
        return None, None

    def toml_files(self, folder: str) -> list[tuple[str, str | None]] | None:
        """`folder/*.toml` in name order with content (None unknown); None when the listing
        itself is unknown (a folder mount whose files cannot be seen)."""
        folder = folder.rstrip("/")
        if folder in self._dirs:
            names = sorted(n for n in self._dirs[folder] if n.endswith(".toml"))
            return [(f"{folder}/{n}", self.file(f"{folder}/{n}")[1]) for n in names]
        found: dict[str, str | None] = {}
        for mount in self._mounts:
            target = mount.target.rstrip("/")
            if posixpath.dirname(target) == folder and target.endswith(".toml"):
                found[target] = mount.content
        holder = self._deepest(folder)
        if holder is not None and holder.is_dir is not False:
            if holder.entries is None and holder.kind not in {"secret", "config"}:
                return None
            for relative, content in (holder.entries or {}).items():
                full = posixpath.normpath(posixpath.join(holder.target, relative))
                if posixpath.dirname(full) == folder and full.endswith(".toml"):
                    found.setdefault(full, content)
        return [(path, found[path]) for path in sorted(found)]


# --- the behaviour ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Password:
    source: PasswordSource
    value: str | None  # the password in effect ("" none); None: cannot be known here
    env_set: bool  # FAKTORY_PASSWORD is present (maybe empty)
    env_empty: bool | None  # FAKTORY_PASSWORD set to ""; None unknown / not set
    file_path: str | None  # the file the value names, when it starts with `/`
    file_provided: bool | None  # that file exists in the container
    required: bool | None  # staging/production without FAKTORY_SKIP_PASSWORD
    skip: bool  # FAKTORY_SKIP_PASSWORD counts (1, true, yes)
    skip_raw: str | None
    confd_error: str | None = None
    web_password: bool | None = None  # a non-empty [web] password is configured
    start_error: str | None = None  # why the server will refuse to start

    @property
    def present(self) -> bool | None:
        return None if self.value is None else bool(self.value)


@dataclass(frozen=True)
class Behaviour:
    args_known: bool
    argv_note: str
    flag_error: str | None
    flag_env: str | None
    var_env: str | None  # FAKTORY_ENV as set ("" when empty), None when unset
    var_env_known: bool
    environment: str | None  # None when it depends on a value unknown here
    env_source: EnvSource
    env_valid: bool
    data_dir: str | None
    data_dir_flag: str | None
    config_dir: str | None
    home: str
    protocol_binding: str
    web_binding: str
    password: Password
    env_var_ignored: bool = False  # FAKTORY_ENV is set, but this version does not read it
    # both TLS files are in the folder the server reads (1.9+ then serves TLS on 7419 and
    # 7420); None when that cannot be known here
    tls: bool | None = None
    # why the server never starts or exits at once (its command line); None: it starts
    cannot_start: str | None = None

    @property
    def web_enabled(self) -> bool:
        return self.web_binding != ":0"

    @property
    def development(self) -> bool:
        return self.environment == "development"

    @property
    def ui_password(self) -> bool | None:
        """Whether the dashboard asks for a password ([web] password or the server's)."""
        if self.password.web_password:
            return True
        return self.password.present


def home_dir(user: str | None, env: Mapping[str, str | None]) -> str:
    """root (the image default) has /root; another uid falls back to $HOME, else `/`."""
    name = (user or "").split(":", 1)[0]
    if name in {"", "0", "root"}:
        return "/root"
    return env.get("HOME") or "/"


def resolve(
    argv: Sequence[str] | None,
    env: Mapping[str, str | None],
    mounts: Sequence[MountFact],
    user: str | None = None,
    argv_note: str = "",
    files: FileView | None = None,
    reads_env: bool = True,
    judge_command: bool = True,
) -> Behaviour:
    """The server's behaviour; `env` maps each SET variable to its value (None: unknown).
    `reads_env` is False for servers older than 1.4.2, which ignore FAKTORY_ENV;
    `judge_command` False for images whose entrypoint and flags are not established."""
    args = faktory_args(argv) if argv is not None else None
    ignored = not reads_env and "FAKTORY_ENV" in env
    if ignored:
        env = {k: v for k, v in env.items() if k != "FAKTORY_ENV"}
    flags = parse_flags(args) if args is not None else Flags({})
    cannot_start = _cannot_start(argv, flags)
    unjudged = cannot_start is not None and not judge_command
    if unjudged:
        args, flags, cannot_start, argv_note = None, Flags({}), None, OLD_COMMAND_NOTE
    home = home_dir(user, env)
    var_known = "FAKTORY_ENV" not in env or env["FAKTORY_ENV"] is not None
    var_env = env.get("FAKTORY_ENV") if "FAKTORY_ENV" in env else None
    flag_env = flags.values.get("e")
    environment: str | None
    source: EnvSource
    if flag_env is not None:
        environment, source = flag_env, "flag"
    elif not var_known:
        environment, source = None, "FAKTORY_ENV"
    elif var_env:
        environment, source = var_env, "FAKTORY_ENV"
    else:
        environment, source = DEFAULT_ENVIRONMENT, "default"
    valid = environment in ENVIRONMENTS if environment is not None else True
    if cannot_start is not None or unjudged:  # no environment at all, or none known
        environment, valid = None, True
    data_dir, config_dir = _dirs(environment if valid else None, flags, home)
    note = argv_note or ("" if args is not None else "the faktory command line is not known")
    view = files if files is not None else FileView(mounts)
    password = resolve_password(environment if valid else None, config_dir, env, view)
    return Behaviour(
        args_known=args is not None,
        argv_note=note,
        flag_error=flags.error,
        flag_env=flag_env,
        var_env=var_env,
        var_env_known=var_known,
        environment=environment,
        env_source=source,
        env_valid=valid,
        data_dir=data_dir,
        data_dir_flag=flags.values.get("d"),
        config_dir=config_dir,
        home=home,
        protocol_binding=flags.values.get("b", DEFAULT_BINDING),
        web_binding=flags.values.get("w", DEFAULT_WEB_BINDING),
        password=password,
        env_var_ignored=ignored,
        tls=tls_files_present(config_dir, view),
        cannot_start=cannot_start,
    )


TLS_FILES = ("public.cert.pem", "private.key.pem")


def tls_files_present(config_dir: str | None, files: FileView) -> bool | None:
    """Faktory 1.9+ turns TLS on when both files exist in its config folder (read once at
    start; a missing one means plain TCP, without a word in the log)."""
    if config_dir is None:
        return None
    found = [files.file(posixpath.join(config_dir, name))[0] for name in TLS_FILES]
    if all(f is True for f in found):
        return True
    if any(f is False for f in found):
        return False
    return None


OLD_COMMAND_NOTE = (
    "the command line of a Faktory image older than 0.9.0 is not judged: its entrypoint and "
    "flags differ from today's and are not established here"
)


def _cannot_start(argv: Sequence[str] | None, flags: Flags) -> str | None:
    """Why a server with this command line never runs: a program that is a flag (a command
    that starts with a flag, on an image without ENTRYPOINT), or flags Faktory refuses."""
    if argv and argv[0].startswith("-"):
        return (
            f"the command line starts with the flag `{argv[0]}`: the image has no ENTRYPOINT, "
            "so the engine tries to run it as a program and the container never starts "
            f"(begin the command with /faktory)"
        )
    if flags.error is not None:
        return f"the server refuses its command line ({flags.error}), prints its usage and exits 2"
    return None


def _dirs(environment: str | None, flags: Flags, home: str) -> tuple[str | None, str | None]:
    data = flags.values.get("d", DEFAULT_DATA_DIR)
    config = flags.values.get("c", DEFAULT_CONFIG_DIR)
    if environment is None:
        return None, None
    if environment == "development":
        # The server compares against the literal defaults, so passing them explicitly does
        # not escape the rewrite.
        if data == DEFAULT_DATA_DIR:
            data = posixpath.join(home, ".faktory", "db")
        if config == DEFAULT_CONFIG_DIR:
            config = posixpath.join(home, ".faktory")
    return _clean(data), _clean(config)


def _clean(path: str) -> str:
    return posixpath.normpath(path) if path.startswith("/") else path


def _skip(env: Mapping[str, str | None]) -> tuple[bool, str | None]:
    raw = env.get("FAKTORY_SKIP_PASSWORD") if "FAKTORY_SKIP_PASSWORD" in env else None
    return (raw is not None and raw in SKIP_VALUES), raw


def _confd(config_dir: str | None, files: FileView) -> tuple[str | None, bool | None, str | None]:
    """([faktory] password, "" when none, None unknown; [web] password set; parse error)."""
    if config_dir is None:
        return None, None, None
    listing = files.toml_files(posixpath.join(config_dir, "conf.d"))
    if listing is None or any(content is None for _, content in listing):
        return None, None, None
    if not listing:
        return "", False, None
    import tomllib

    text = "\n".join(content or "" for _, content in listing)
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        return "", False, f"conf.d TOML does not parse ({err})"
    server = document.get("faktory", {})
    web = document.get("web", {})
    password = server.get("password", "") if isinstance(server, dict) else ""
    web_password = web.get("password", "") if isinstance(web, dict) else ""
    return str(password), bool(web_password), None


def resolve_password(
    environment: str | None,
    config_dir: str | None,
    env: Mapping[str, str | None],
    files: FileView,
) -> Password:
    """The server's password lookup; `environment` is None when unknown or invalid."""
    skip, skip_raw = _skip(env)
    required = None if environment is None else (environment != "development" and not skip)
    confd_value, web_password, confd_error = _confd(config_dir, files)
    env_set = "FAKTORY_PASSWORD" in env
    value: str | None
    source: PasswordSource
    if env_set:
        value, source = env["FAKTORY_PASSWORD"], "FAKTORY_PASSWORD"
    else:
        value, source = confd_value, "conf.d"
    env_empty = (value == "") if env_set and value is not None else None
    if value == "" and required:
        exists, content = files.file(ETC_PASSWORD)
        if exists is not False:
            value = None if content is None else content.strip()
            source = "/etc/faktory/password"
    file_path = value if value is not None and value.startswith("/") else None
    file_provided: bool | None = None
    start_error = confd_error
    if file_path is not None:
        file_provided, content = files.file(file_path)
        value = content.strip() if content is not None else None
        if file_provided is False:
            value = ""
            start_error = start_error or f"open {file_path}: no such file or directory"
    if value == "" and source == "conf.d" and not env_set:
        source = "none"
    if value == "" and required:
        start_error = (
            start_error or "faktory requires a password to be set in staging or production"
        )
    return Password(
        source=source,
        value=value,
        env_set=env_set,
        env_empty=env_empty,
        file_path=file_path,
        file_provided=file_provided,
        required=required,
        skip=skip,
        skip_raw=skip_raw,
        confd_error=confd_error,
        web_password=web_password,
        start_error=start_error,
    )


# --- where the ports end up --------------------------------------------------------------------


def binding_host(binding: str) -> str:
    """The host part of a Go listen address: `:7419` and `0.0.0.0:7419` listen everywhere."""
    host, _, _ = binding.rpartition(":")
    return host.strip("[]")
