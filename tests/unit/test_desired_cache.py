"""faktctl.platforms.engine.cache: `status` takes the desired state from the cache only when
nothing it
is derived from has changed, and the cache never holds a secret value."""

from __future__ import annotations

import copy
import hashlib
import json
import pickle
import shutil
from pathlib import Path

import pytest

from faktctl.platforms.engine import cache as desired_cache
from faktctl.platforms.engine.plan import Wanted
from faktctl.project import Project, open_project
from faktctl.secretvalue import SecretStr, fingerprint
from tests.paths import REPO

PASSWORD = "cache-test-password-0123456789abcdef"


@pytest.fixture(autouse=True)
def private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "cache"
    monkeypatch.setenv(desired_cache.CACHE_DIR_VAR, str(folder))
    return folder


def _project(folder: Path, spec: str, password: str = PASSWORD) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "faktory.yaml").write_text(spec)
    secrets = folder / "secrets"
    secrets.mkdir(exist_ok=True, mode=0o700)
    (secrets / "faktory_password").write_text(password + "\n")
    (secrets / "faktory_password").chmod(0o600)
    return folder / "faktory.yaml"


SPEC = """\
version: 1
project: cached
server:
  ports:
    protocol: "127.0.0.1:17419"
workers:
  - name: go
    image: example/go-worker:1
    replicas: 3
    env:
      FAKTORY_QUEUES: default
"""


def _remembered(spec_path: Path) -> Project:
    project = open_project(spec_path)
    desired_cache.remember(project)
    return project


def _assert_same(project: Project, found: desired_cache.Remembered | None) -> None:
    assert found is not None, "expected a cache hit"
    assert found.desired == project.desired
    assert found.password == project.password
    for ours, theirs in zip(found.desired.services, project.desired.services, strict=True):
        assert Wanted.of(found.desired, ours) == Wanted.of(project.desired, theirs)
        secret_values = [v.value.get_secret_value() for _, v in ours.env if not isinstance(v, str)]
        assert secret_values == [
            v.value.get_secret_value() for _, v in theirs.env if not isinstance(v, str)
        ]


@pytest.mark.parametrize("example", ["minimal", "polyglot"])
def test_examples_come_back_exactly_as_loaded(tmp_path: Path, example: str) -> None:
    copied = tmp_path / "examples"
    shutil.copytree(REPO / "examples", copied)
    spec_path = _project(copied / example, (copied / example / "faktory.yaml").read_text())
    project = _remembered(spec_path)
    _assert_same(project, desired_cache.lookup(spec_path))


def test_a_dashboard_password_and_host_storage_come_back(tmp_path: Path) -> None:
    spec = SPEC.replace(
        "server:\n",
        "server:\n  dashboard_password_file: secrets/web\n  storage:\n    host_path: ./data\n",
    )
    spec_path = _project(tmp_path / "p", spec)
    (tmp_path / "p" / "secrets" / "web").write_text("dashboard-password-0123456789\n")
    project = _remembered(spec_path)
    assert project.desired.dashboard_password is not None
    _assert_same(project, desired_cache.lookup(spec_path))


def test_no_secret_value_is_written(tmp_path: Path, private_cache: Path) -> None:
    spec_path = _project(tmp_path / "p", SPEC)
    _remembered(spec_path)
    (entry,) = (private_cache / "desired").iterdir()
    text = entry.read_text()
    assert PASSWORD not in text
    # not even its plain hash: fingerprints on disk are salted, a salt per entry
    assert hashlib.sha256(PASSWORD.encode()).hexdigest() not in text
    assert fingerprint(SecretStr(PASSWORD)) not in text
    assert json.loads(text)["format"] == desired_cache.FORMAT
    assert oct(entry.stat().st_mode & 0o777) == oct(0o600)
    assert oct((private_cache / "desired").stat().st_mode & 0o777) == oct(0o700)


def test_an_edited_spec_is_loaded_again(tmp_path: Path) -> None:
    spec_path = _project(tmp_path / "p", SPEC)
    _remembered(spec_path)
    spec_path.write_text(SPEC.replace("replicas: 3", "replicas: 4"))
    assert desired_cache.lookup(spec_path) is None
    project = _remembered(spec_path)
    found = desired_cache.lookup(spec_path)
    _assert_same(project, found)
    assert found is not None and found.desired.service("go").replicas == 4


def test_a_changed_password_is_a_miss_and_never_the_old_value(tmp_path: Path) -> None:
    spec_path = _project(tmp_path / "p", SPEC)
    _remembered(spec_path)
    (tmp_path / "p" / "secrets" / "faktory_password").write_text("another-password-9876543210\n")
    assert desired_cache.lookup(spec_path) is None


def test_a_changed_dashboard_password_is_a_miss(tmp_path: Path) -> None:
    spec = SPEC.replace("server:\n", "server:\n  dashboard_password_file: secrets/web\n")
    spec_path = _project(tmp_path / "p", spec)
    web = tmp_path / "p" / "secrets" / "web"
    web.write_text("dashboard-password-0123456789\n")
    _remembered(spec_path)
    assert desired_cache.lookup(spec_path) is not None
    web.write_text("dashboard-password-changed-000\n")
    assert desired_cache.lookup(spec_path) is None


def test_changed_code_is_a_miss(tmp_path: Path, private_cache: Path) -> None:
    spec_path = _project(tmp_path / "p", SPEC)
    _remembered(spec_path)
    (entry,) = (private_cache / "desired").iterdir()
    document = json.loads(entry.read_text())
    stamped = {Path(path).name for path, _, _ in document["code"]}
    assert {"desired.py", "model.py", "load.py"} <= stamped
    document["code"][0][2] += 1  # that module was edited (or reinstalled) since
    entry.write_text(json.dumps(document))
    assert desired_cache.lookup(spec_path) is None


def test_the_same_spec_from_another_folder_is_another_entry(tmp_path: Path) -> None:
    first = _project(tmp_path / "a", SPEC)
    second = _project(tmp_path / "b", SPEC)
    _remembered(first)
    assert desired_cache.lookup(second) is None  # its paths differ: no entry of its own yet


@pytest.mark.parametrize(
    "spoil",
    ["garbage", "symlink", "world-writable", "other-format", "unknown-class", "huge"],
)
def test_a_spoiled_entry_is_a_miss(tmp_path: Path, private_cache: Path, spoil: str) -> None:
    spec_path = _project(tmp_path / "p", SPEC)
    _remembered(spec_path)
    (entry,) = (private_cache / "desired").iterdir()
    document = json.loads(entry.read_text())
    if spoil == "garbage":
        entry.write_text("{not json")
    elif spoil == "symlink":
        target = tmp_path / "elsewhere.json"
        entry.rename(target)
        entry.symlink_to(target)
    elif spoil == "world-writable":
        entry.chmod(0o666)
    elif spoil == "other-format":
        entry.write_text(json.dumps({**document, "format": desired_cache.FORMAT + 1}))
    elif spoil == "unknown-class":
        document["desired"]["$class"] = "os.system"
        entry.write_text(json.dumps(document))
    else:
        entry.write_bytes(b" " * (desired_cache.MAX_ENTRY_BYTES + 1))
    assert desired_cache.lookup(spec_path) is None


def test_no_cache_folder_means_no_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(desired_cache.CACHE_DIR_VAR, "")
    spec_path = _project(tmp_path / "p", SPEC)
    _remembered(spec_path)
    assert desired_cache.lookup(spec_path) is None
    assert desired_cache.cache_dir({"HOME": "relative"}) is None
    assert desired_cache.cache_dir({"HOME": "/h"}) == Path("/h/.cache/faktctl/desired")
    assert desired_cache.cache_dir({"HOME": "/h", "XDG_CACHE_HOME": "/x"}) == Path(
        "/x/faktctl/desired"
    )


def test_an_unwritable_cache_folder_is_silent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the folder belongs")
    monkeypatch.setenv(desired_cache.CACHE_DIR_VAR, str(blocked))
    spec_path = _project(tmp_path / "p", SPEC)
    _remembered(spec_path)  # no error
    assert desired_cache.lookup(spec_path) is None


def test_the_secret_type_never_shows_its_value() -> None:
    secret = SecretStr(PASSWORD)
    for shown in (repr(secret), str(secret), f"{secret}", f"{secret!r}", str([secret])):
        assert PASSWORD not in shown
    assert secret == SecretStr(PASSWORD) and secret != SecretStr("other")
    assert secret != PASSWORD  # a secret is not equal to the plain text
    assert len({secret, SecretStr(PASSWORD)}) == 1 and len(secret) == len(PASSWORD)
    assert copy.copy(secret) is secret and copy.deepcopy(secret) is secret
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    with pytest.raises(TypeError):
        SecretStr(b"bytes")  # type: ignore[arg-type]
    assert str(SecretStr("")) == ""


def test_entries_of_specs_that_are_gone_are_pruned_and_the_cache_is_bounded(
    tmp_path: Path, private_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 24: one entry per spec path, never pruned. Now an entry whose spec is gone goes
    when another is written, the number of entries is bounded (least recently written go
    first), and pruning never follows or removes a link or another user's file."""
    gone = _project(tmp_path / "gone", SPEC)
    _remembered(gone)
    shutil.rmtree(tmp_path / "gone")
    outside = tmp_path / "outside.json"
    outside.write_text("{}")
    (private_cache / "desired" / ("f" * 32 + ".json")).symlink_to(outside)
    kept = _project(tmp_path / "kept", SPEC)
    _remembered(kept)
    names = sorted(p.name for p in (private_cache / "desired").iterdir())
    assert desired_cache.entry_path(gone) is not None
    assert desired_cache.entry_path(gone).name not in names  # type: ignore[union-attr]
    assert desired_cache.entry_path(kept).name in names  # type: ignore[union-attr]
    assert outside.read_text() == "{}"  # never followed (the link itself is not an entry)

    monkeypatch.setattr(desired_cache, "MAX_ENTRIES", 3)
    paths = [_project(tmp_path / f"p{n}", SPEC) for n in range(5)]
    for path in paths:
        _remembered(path)
    entries = [p for p in (private_cache / "desired").iterdir() if not p.is_symlink()]
    assert len(entries) <= 3
    assert desired_cache.lookup(paths[-1]) is not None
