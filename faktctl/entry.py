"""The console-script entry point and the one error boundary.

`faktctl status` is what people (and scripts) run most often, and `down` is timed against
`docker compose down` at scale, so their plain forms skip the typer app (importing it costs
~50 ms): `status [--json] [--verbose|-v] [--file|-f FILE]` and `down [--volumes] [--yes|-y]
[--file|-f FILE]`, parsed with the option names typer declares too (faktctl.options), and run
by the same faktctl.commands.<name>.run. Any other form (help, a typo, an option of another
command) goes to typer as before, so errors and help read the same. Everything else goes
through faktctl.cli."""

from __future__ import annotations

import gc
import signal
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from faktctl import options
from faktctl.errors import ExitCode, FaktctlError, Interrupted, SpecError

_OPERATIONS = {
    "mkdir": "create the folder",
    "makedirs": "create the folder",
    "open": "open",
    "read_text": "read",
    "read_bytes": "read",
    "write_text": "write",
    "write_bytes": "write",
    "replace": "replace",
    "rename": "rename",
    "unlink": "remove",
    "rmdir": "remove",
    "chmod": "change the mode of",
    "stat": "look at",
    "lstat": "look at",
    "touch": "create",
    "iterdir": "list",
    "scandir": "list",
    "listdir": "list",
}


def os_failure(err: OSError) -> FaktctlError:
    """An OSError nobody translated, as one line: the operation (from the innermost function
    that failed), the path, the reason; exit 2 for a path of the wrong kind, else 4."""
    from faktctl.errors import OperationFailed
    from faktctl.fsutil import file_error

    if err.filename is None:
        return OperationFailed(f"{err.strerror or err}")
    innermost = err.__traceback__
    while innermost is not None and innermost.tb_next is not None:
        innermost = innermost.tb_next
    function = innermost.tb_frame.f_code.co_name if innermost is not None else ""
    operation = _OPERATIONS.get(function, "use")
    return file_error(operation, str(err.filename), err)


_ended = False  # the boundary has the interrupt (or the command ended): never signal again
REDELIVER_S = 0.05


def _raise_interrupted(signum: int, frame: FrameType | None) -> None:
    if not _ended:
        raise Interrupted("interrupted")


def _swallowed_interrupt(unraisable: Any) -> None:
    """Ctrl-C that landed in a finalizer (a `__del__` or weakref callback the garbage collector
    ran between two lines of the command): Python prints such an exception and goes on, so
    the command would carry on into its next blocking call (a FIFO nobody writes: a hang).
    The signal is sent again to the main thread a moment later, once the finalizer is over."""
    if not isinstance(unraisable.exc_value, Interrupted | KeyboardInterrupt):
        _default_unraisablehook(unraisable)
        return
    import threading

    main = threading.main_thread().ident

    def again() -> None:
        if not _ended and main is not None:
            signal.pthread_kill(main, signal.SIGINT)

    timer = threading.Timer(REDELIVER_S, again)
    timer.daemon = True
    timer.start()


_default_unraisablehook = sys.unraisablehook


def boundary(command: Callable[[], Any]) -> None:
    """Run `command`: a FaktctlError or an OSError becomes one line on stderr and its exit
    code; ^C exits 130; a traceback only with --debug."""
    global _ended
    debug = options.DEBUG in sys.argv[1:]
    signal.signal(signal.SIGINT, _raise_interrupted)
    sys.unraisablehook = _swallowed_interrupt
    try:
        command()
    except FaktctlError as err:
        if debug:
            traceback.print_exc()
        if isinstance(err, SpecError):
            print(err.one_line(), file=sys.stderr)
        else:
            print(f"faktctl: error: {err.one_line()}", file=sys.stderr)
        sys.exit(int(err.exit_code))
    except OSError as err:
        if isinstance(err, BrokenPipeError):
            sys.exit(int(ExitCode.OK))
        if debug:
            traceback.print_exc()
        failure = os_failure(err)
        print(f"faktctl: error: {failure.one_line()}", file=sys.stderr)
        sys.exit(int(failure.exit_code))
    except (Interrupted, KeyboardInterrupt):
        _ended = True
        if debug:
            traceback.print_exc()
        print("faktctl: interrupted", file=sys.stderr)
        sys.exit(int(ExitCode.INTERRUPTED))
    except BrokenPipeError:
        sys.exit(int(ExitCode.OK))
    finally:
        _ended = True
        # The work is done: moving every live object out of the collector's reach spares the
        # interpreter a full collection of all the imported modules at exit (~50 ms).
        gc.freeze()


# The commands whose plain forms skip typer: per command, its flags and the keyword each sets
# in the command's `run(file, **keywords)`; every one also takes --file/-f.
FAST_COMMANDS: dict[str, dict[tuple[str, ...], str]] = {
    "status": {options.JSON: "as_json", options.VERBOSE: "verbose"},
    "down": {options.VOLUMES: "volumes", options.YES: "assume_yes"},
}


def fast_arguments(argv: Sequence[str]) -> tuple[str, dict[str, Any]] | None:
    """The command and keyword arguments of a plain `status` or `down` command line, or None
    for anything else (typer then parses it, and says what is wrong with it)."""
    if not argv or argv[0] not in FAST_COMMANDS:
        return None
    flags = FAST_COMMANDS[argv[0]]
    found: dict[str, Any] = {"file": None, **{keyword: False for keyword in flags.values()}}
    rest = list(argv[1:])
    while rest:
        word = rest.pop(0)
        keyword = next((k for names, k in flags.items() if word in names), None)
        if keyword is not None:
            found[keyword] = True
        elif word in options.FILE and rest and not rest[0].startswith("-"):
            found["file"] = rest.pop(0)
        elif word.startswith(options.FILE[0] + "=") and len(word) > len(options.FILE[0]) + 1:
            found["file"] = word.partition("=")[2]
        else:
            return None
    file = found["file"]
    if file is not None:
        if not file or Path(file).is_dir():  # typer's own message for these
            return None
        found["file"] = Path(file)
    return argv[0], found


def _run_fast(command: str, arguments: dict[str, Any]) -> None:
    from importlib import import_module

    module = import_module(f"faktctl.commands.{command}")
    sys.exit(module.run(**arguments))


def main() -> None:
    """Console-script entry point."""
    fast = fast_arguments(sys.argv[1:])
    if fast is not None:
        boundary(lambda: _run_fast(*fast))
        return
    from faktctl.cli import app

    # one program name however it is started (`python -m faktctl` too): shell completion
    # scripts and usage lines say `faktctl`
    boundary(lambda: app(prog_name="faktctl"))
