"""The upgrade plan (`faktctl upgrade --dry-run` text), the versions table, the queue-key
report parser and the spec editor: pure, no engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from faktctl.backups.deployment import Counts
from faktctl.backups.restore import key_move
from faktctl.faktory.keys import KeyMoveFailed, parse_report
from faktctl.faktory.versions import (
    DEFAULT_IMAGE,
    FORMATS,
    crosses_boundary,
    format_of,
    has_security_fixes,
    parse_version,
)
from faktctl.spec.edit import SpecEditFailed, replace_server_image, set_server_image
from faktctl.upgrade.execute import missing_jobs
from faktctl.upgrade.plan import Preflight, UpgradeRefused, decide, resolve_target

SETS = {"scheduled": 100, "retries": 50, "dead": 20, "working": 0}


def preflight(**changes: object) -> Preflight:
    values: dict[str, object] = {
        "project": "shop",
        "server": "shop-faktory-1",
        "image": "contribsys/faktory:1.9.4",
        "version": (1, 9, 4),
        "queues": {"default": 500, "critical": 300, "bulk": 200},
        "sets": SETS,
        "hidden": {},
        "workers": ("shop-go-1", "shop-go-2"),
        "grace_s": 60,
        "spec_image": "contribsys/faktory:1.9.4",
        "spec_file": "faktory.yaml",
        "destination": "/srv/shop/backups",
    }
    values.update(changes)
    return Preflight(**values)  # type: ignore[arg-type]


def test_versions_table() -> None:
    assert DEFAULT_IMAGE == "contribsys/faktory:1.10.0"
    assert format_of((1, 9, 4)).queue_prefix == ""  # queue `default` is the Redis key `default`
    assert format_of((1, 10, 0)).queue_prefix == "q:"  # ... and `q:default` from 1.10 on
    assert format_of((2, 0, 0)) is FORMATS[-1]
    assert crosses_boundary((1, 9, 4), (1, 10, 0))
    assert crosses_boundary((1, 10, 1), (1, 9, 3))
    assert not crosses_boundary((1, 9, 3), (1, 9, 4))
    assert not crosses_boundary((1, 10, 0), (1, 11, 2))
    assert has_security_fixes((1, 10, 0)) and not has_security_fixes((1, 9, 4))
    assert parse_version("v1.10") == (1, 10, 0)
    assert parse_version("latest") is None


def test_dry_run_text_of_an_upgrade_across_the_key_change() -> None:
    target = resolve_target("1.10.0", "contribsys/faktory:1.9.4", (1, 9, 4))
    plan = decide(preflight(), target)
    assert plan.lines() == [
        "upgrade Faktory 1.9.4 → 1.10.0 (contribsys/faktory:1.9.4 → contribsys/faktory:1.10.0)",
        "before: queues: bulk 200, critical 300, default 500; "
        "scheduled 100, retries 50, dead 20, working 0",
        "1. check that the image contribsys/faktory:1.10.0 is present (pulled when missing)",
        "2. save a safety backup (tag pre-upgrade) in /srv/shop/backups",
        "3. stop 2 worker container(s): shop-go-1, shop-go-2",
        "4. stop the server shop-faktory-1 gracefully (up to 60s, so Redis saves)",
        "5. move every queue from <name> to q:<name> on the data volume, in a throwaway "
        "container running only redis-server with no network (no client can connect)",
        "6. replace shop-faktory-1 with contribsys/faktory:1.10.0, wait until it is healthy",
        "7. compare every queue and set size with the counts taken at rest; on any loss roll "
        "back: restore the safety backup, start contribsys/faktory:1.9.4 again, exit 4",
        "8. start the workers again",
        "9. set server.image to contribsys/faktory:1.10.0 in faktory.yaml",
    ]
    assert plan.move == (FORMATS[0], FORMATS[1])


def test_a_patch_upgrade_moves_nothing_and_the_same_version_does_nothing() -> None:
    patch = decide(preflight(), resolve_target("1.9.5", "contribsys/faktory:1.9.4", (1, 9, 4)))
    assert patch.kind == "upgrade" and patch.move is None
    assert any("nothing to move" in line for line in patch.lines())
    same = decide(preflight(), resolve_target("1.9.4", "contribsys/faktory:1.9.4", (1, 9, 4)))
    assert same.kind == "nothing"
    assert same.lines()[0] == "nothing to do: shop-faktory-1 already runs Faktory 1.9.4"


def test_downgrade_across_the_key_change_needs_force() -> None:
    running = preflight(image="contribsys/faktory:1.10.0", version=(1, 10, 0))
    target = resolve_target("1.9.4", "contribsys/faktory:1.10.0", (1, 10, 0))
    with pytest.raises(UpgradeRefused) as refused:
        decide(running, target)
    assert "pass --force" in refused.value.one_line()
    forced = decide(running, target, force=True)
    assert forced.kind == "downgrade"
    assert forced.move == (FORMATS[1], FORMATS[0])
    assert any("from q:<name> to <name>" in line for line in forced.lines())


def test_target_resolution() -> None:
    spec = "registry.example:5000/contribsys/faktory:1.9.4"
    assert resolve_target(None, spec, (1, 9, 4)).image == (
        "registry.example:5000/contribsys/faktory:1.10.0"
    )
    edited = resolve_target(None, "contribsys/faktory:1.10.0", (1, 9, 4))
    assert (edited.image, edited.version) == ("contribsys/faktory:1.10.0", (1, 10, 0))
    full = resolve_target("example/faktory:1.10.9-rc", spec, (1, 9, 4))
    assert full.version == (1, 10, 9)
    with pytest.raises(UpgradeRefused):
        resolve_target("newest", spec, (1, 9, 4))
    with pytest.raises(UpgradeRefused):
        resolve_target("example/faktory:latest", spec, (1, 9, 4))


def test_repair_plan_names_the_hidden_queues() -> None:
    running = preflight(
        image="contribsys/faktory:1.10.0",
        version=(1, 10, 0),
        queues={"default": 0},
        hidden={"default": 500, "bulk": 200},
    )
    plan = decide(running, resolve_target(None, running.spec_image, (1, 10, 0)), repair=True)
    assert plan.kind == "repair"
    assert plan.lines()[0] == "repair Faktory 1.10.0: make 700 hidden job(s) visible again"
    assert "hidden (under the other version's keys): bulk 200, default 500" in plan.lines()
    assert any("move queue(s) bulk, default from <name> to q:<name>" in s for s in plan.steps)
    clean = decide(preflight(), resolve_target(None, "x/faktory:1.9.4", (1, 9, 4)), repair=True)
    assert clean.kind == "nothing"


def test_missing_jobs_allows_growth_and_scheduled_moving_into_queues() -> None:
    rest = Counts({"default": 10}, {"scheduled": 5, "retries": 2, "dead": 1, "working": 0})
    assert missing_jobs(rest, rest) == []
    pushed = Counts({"default": 14}, rest.sets)
    assert missing_jobs(rest, pushed) == []
    due = Counts({"default": 13}, {"scheduled": 2, "retries": 2, "dead": 1, "working": 0})
    assert missing_jobs(rest, due) == []
    hidden = Counts({"default": 0}, rest.sets)
    assert missing_jobs(rest, hidden) == ["queue default: 10 → 0"]
    lost_dead = Counts({"default": 10}, {"scheduled": 5, "retries": 2, "dead": 0, "working": 0})
    assert missing_jobs(rest, lost_dead) == ["dead: 1 → 0"]


def test_parse_key_report() -> None:
    text = (
        "noise\nFAKTCTL queue 0 500 500 default\nFAKTCTL queue 3 0 0 odd name\n"
        "FAKTCTL set 100 scheduled\nFAKTCTL set 2 retries\nFAKTCTL v 1\n"
    )
    report = parse_report(text, "FAKTCTL")
    assert report.visible(FORMATS[1]) == {"default": 500, "odd name": 0}
    assert report.hidden(FORMATS[1]) == {"odd name": 3}
    assert report.hidden(FORMATS[0]) == {"default": 500}
    assert report.sets == {"scheduled": 100, "retries": 2}
    assert report.moved == 500 and report.data_version == 1
    with pytest.raises(KeyMoveFailed, match="Redis did not answer"):
        parse_report("ERR something\n")


def test_restore_moves_keys_only_across_the_change() -> None:
    assert key_move("1.9.4", "1.10.0") == (FORMATS[0], FORMATS[1])
    assert key_move("1.10.0", "1.9.4") == (FORMATS[1], FORMATS[0])
    assert key_move("1.9.3", "1.9.4") is None
    assert key_move("", "1.10.0") is None


SPEC = """\
# my spec
version: 1
project: shop
server:
  image: "contribsys/faktory:1.9.4"  # chosen by ops
  environment: production
"""


def test_spec_edit_keeps_comments_and_validates(tmp_path: Path) -> None:
    assert replace_server_image(SPEC, "contribsys/faktory:1.10.0") == SPEC.replace(
        "1.9.4", "1.10.0"
    )
    bare = "project: shop\nserver:\n    environment: production  # c\n"
    assert replace_server_image(bare, "a/faktory:1.10.0") == (
        'project: shop\nserver:\n    image: "a/faktory:1.10.0"\n    environment: production  # c\n'
    )
    with pytest.raises(SpecEditFailed):
        replace_server_image("project: shop\nserver: {environment: production}\n", "a:1")
    path = tmp_path / "faktory.yaml"
    path.write_text(SPEC)
    path.chmod(0o640)
    assert set_server_image(path, "contribsys/faktory:1.10.0")
    assert '1.10.0"  # chosen by ops' in path.read_text()
    assert path.stat().st_mode & 0o777 == 0o640
    assert not set_server_image(path, "contribsys/faktory:1.10.0")
