"""Every relative path in the spec resolves against the spec's folder, never the caller's
(issue 24, item 4). The spec model is introspected, so a new path field is covered by itself."""

from __future__ import annotations

import os
import re
import typing
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import BaseModel

from faktctl.spec.load import LoadedSpec, parse_spec
from faktctl.spec.model import Spec
from faktctl.spec.types import PathOf

# a field with one of these names names a path: it must carry PathOf
PATHLIKE = re.compile(r"(file|path|context|dockerfile|restic|destinations?|dir|folder)$")


def _models(annotation: object) -> Iterator[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for arg in typing.get_args(annotation):
        yield from _models(arg)


def _marks(annotation: object, metadata: list[object]) -> list[PathOf]:
    found = [m for m in metadata if isinstance(m, PathOf)]
    for arg in typing.get_args(annotation):
        found += [m for m in getattr(arg, "__metadata__", ()) if isinstance(m, PathOf)]
        found += _marks(arg, [])
    return found


def path_fields(model: type[BaseModel] = Spec, prefix: str = "") -> Iterator[tuple[str, str, bool]]:
    """(dotted field, PathOf kind or '', whether its name looks like a path) for every field."""
    for name, info in model.model_fields.items():
        dotted = f"{prefix}{name}"
        marks = _marks(info.annotation, list(info.metadata))
        yield dotted, marks[0].kind if marks else "", bool(PATHLIKE.search(name))
        for sub in _models(info.annotation):
            yield from path_fields(sub, dotted + ".")


def test_every_field_that_names_a_path_is_marked_as_one() -> None:
    unmarked = [name for name, kind, pathlike in path_fields() if pathlike and not kind]
    assert unmarked == []
    marked = {name for name, kind, _ in path_fields() if kind}
    assert {"server.password_file", "backup.restic", "workers.build.context"} <= marked


SPEC_SETTING = {
    "server.password_file": "server: {password_file: REL}",
    "server.dashboard_password_file": "server: {dashboard_password_file: REL}",
    "server.storage.host_path": "server: {storage: {host_path: REL}}",
    "workers.build.context": "workers: [{name: w, build: {context: REL}}]",
    "workers.build.dockerfile": "workers: [{name: w, build: {context: ctx, dockerfile: REL}}]",
    "backup.destination": "backup: {destination: REL}",
    "backup.destinations": "backup: {destinations: [REL]}",
    "backup.password_file": "backup: {destination: b, password_file: REL}",
    "backup.restic": "backup: {destination: b, restic: REL}",
    "server.tls.cert_file": "server: {tls: {mode: files, cert_file: REL, key_file: k}}",
    "server.tls.key_file": "server: {tls: {mode: files, cert_file: c, key_file: REL}}",
    "server.tls.ca_file": "server: {tls: {mode: files, cert_file: c, key_file: k, ca_file: REL}}",
}


def _where(loaded: LoadedSpec, dotted: str) -> Path:
    from faktctl.backups import destinations

    spec, base = loaded.spec, loaded.base_dir
    build = spec.workers[0].build if spec.workers else None
    policy = spec.backup
    match dotted:
        case "server.password_file" | "server.dashboard_password_file":
            from faktctl.secretfiles import dashboard_password_path, password_path

            if dotted == "server.password_file":
                return password_path(loaded).absolute()
            found = dashboard_password_path(loaded)
            assert found is not None
            return found.absolute()
        case "server.storage.host_path":
            assert spec.server.storage.host_path is not None
            return loaded.resolve(spec.server.storage.host_path).absolute()
        case "workers.build.context" if build is not None:
            return loaded.resolve(build.context).absolute()
        case "workers.build.dockerfile" if build is not None:
            context = loaded.resolve(build.context)
            return (context / build.dockerfile).absolute()
        case "backup.destination" | "backup.destinations" if policy is not None:
            found_dest = destinations.of_policy(policy, base)[0]
            assert isinstance(found_dest, destinations.Folder)
            return found_dest.path
        case "backup.password_file" if policy is not None and policy.password_file:
            return loaded.resolve(policy.password_file).absolute()
        case "backup.restic" if policy is not None:
            return Path(loaded.executable(policy.restic))
        case "server.tls.cert_file" | "server.tls.key_file" | "server.tls.ca_file":
            from faktctl.desired import tls_setup

            setup = tls_setup(loaded)
            assert setup is not None
            field = {"cert_file": setup.cert, "key_file": setup.key, "ca_file": setup.ca}
            found_tls = field[dotted.rsplit(".", 1)[1]]
            assert found_tls is not None
            return Path(found_tls)
    raise AssertionError(f"{dotted}: a new path field: say here how faktctl resolves it")


@pytest.mark.parametrize("dotted", sorted(n for n, kind, _ in path_fields() if kind))
def test_a_relative_path_field_resolves_against_the_spec_folder(
    dotted: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert dotted in SPEC_SETTING, f"{dotted}: add how to set it to SPEC_SETTING"
    folder = tmp_path / "srv" / "app"
    elsewhere = tmp_path / "elsewhere"
    folder.mkdir(parents=True)
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    text = "project: p\n" + SPEC_SETTING[dotted].replace("REL", "sub/thing") + "\n"
    loaded = parse_spec(text, folder / "faktory.yaml")
    found = _where(loaded, dotted)
    assert found.is_absolute() and Path(os.path.normpath(found)).is_relative_to(folder), found
    assert not found.is_relative_to(elsewhere)


def test_a_bare_restic_name_is_looked_up_on_path(tmp_path: Path) -> None:
    loaded = parse_spec("project: p\nbackup: {restic: restic}\n", tmp_path / "faktory.yaml")
    assert loaded.executable("restic") == "restic"
