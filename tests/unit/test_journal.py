"""The record of an upgrade or restore in progress (faktctl.journal): written before each step,
kept when the run dies, read back by every command that must not step over it."""

from __future__ import annotations

from pathlib import Path

import pytest

from faktctl import journal
from faktctl.errors import UsageError


def test_a_step_is_on_disk_before_it_runs_and_done_removes_it(tmp_path: Path) -> None:
    record = journal.Journal(tmp_path, "shop", "upgrade", {"what": "the upgrade of 1.9.4"})
    record.step("stopping", safety="shop-x-pre-upgrade")
    path = journal.record_path(tmp_path, "shop")
    assert path.stat().st_mode & 0o777 == 0o600
    found = journal.read(tmp_path, "shop")
    assert found is not None
    assert (found.operation, found.step) == ("upgrade", "stopping")
    assert found.facts["safety"] == "shop-x-pre-upgrade"
    record.step("keys")
    found = journal.read(tmp_path, "shop")
    assert found is not None and found.step == "keys" and found.facts["safety"]
    record.done()
    assert journal.read(tmp_path, "shop") is None
    record.done()  # twice is fine


def test_a_leftover_record_refuses_other_commands_and_names_the_resume(tmp_path: Path) -> None:
    journal.Journal(tmp_path, "shop", "restore", {"what": "the restore of backup b1"}).step(
        "writing"
    )
    with pytest.raises(journal.OperationInterrupted) as caught:
        journal.require_none(tmp_path, "shop", "run `up`")
    line = caught.value.one_line()
    assert "cannot run `up`: the restore of backup b1 was interrupted" in line
    assert "at step `writing`" in line and "faktory.rdb is either the old data" in line
    assert "run `faktctl restore --resume` first" in line
    journal.require_none(tmp_path, "other", "run `up`")  # another project: no record


def test_a_damaged_record_still_counts(tmp_path: Path) -> None:
    journal.record_path(tmp_path, "shop").write_text("{not json")
    found = journal.read(tmp_path, "shop")
    assert found is not None and found.step == "unknown"
    with pytest.raises(journal.OperationInterrupted):
        journal.require_none(tmp_path, "shop", "run `down`")


def test_resumed_keeps_the_facts_and_the_start(tmp_path: Path) -> None:
    first = journal.Journal(tmp_path, "shop", "upgrade", {"safety": "s1"})
    first.step("replacing", at_rest={"queues": {"a": 1}})
    found = journal.read(tmp_path, "shop")
    assert found is not None
    again = journal.Journal.resumed(tmp_path, "shop", found)
    assert again.facts["at_rest"] == {"queues": {"a": 1}} and again.since == first.since


def test_resume_finds_its_own_operation_and_names_the_command_for_another(
    tmp_path: Path,
) -> None:
    assert journal.to_resume(tmp_path, "shop", "upgrade") is None
    journal.Journal(tmp_path, "shop", "upgrade", {"safety": "s1"}).step("keys")
    found = journal.to_resume(tmp_path, "shop", "upgrade")
    assert found is not None
    record, resumed = found
    assert record.step == "keys" and resumed.facts["safety"] == "s1"
    with pytest.raises(UsageError) as caught:
        journal.to_resume(tmp_path, "shop", "restore")
    line = caught.value.one_line()
    assert "the interrupted operation is an upgrade, not a restore" in line
    assert "run `faktctl upgrade --resume`" in line
