"""The lock behind "one console per SQLite file": held while the process keeps it, named in the refusal."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.console_lock import claim_database
from app.errors import SettingsError


def test_claim_held_refuses_a_second_claim_naming_pid_and_port(tmp_path: Path):
    database = str(tmp_path / "one.db")
    held = claim_database(database, what="console", host="127.0.0.1", port=8123)
    assert held is not None

    with pytest.raises(SettingsError) as refused:
        claim_database(database, what="console", host="127.0.0.1", port=9000)

    assert f"is in use by a running console (pid {os.getpid()}, port 8123)" in refused.value.message
    assert "\n" not in refused.value.message
    held.release()


def test_claim_released_can_be_taken_again(tmp_path: Path):
    database = str(tmp_path / "two.db")
    first = claim_database(database, what="console", host="127.0.0.1", port=8123)
    assert first is not None
    first.release()

    again = claim_database(database, what="console", host="127.0.0.1", port=8124)

    assert again is not None
    assert '"port": 8124' in (tmp_path / "two.db.lock").read_text()
    again.release()


def test_claim_in_memory_database_takes_no_lock(tmp_path: Path):
    assert claim_database(":memory:", what="console", host="127.0.0.1", port=8123) is None


def test_claim_refuses_a_symlink_at_the_lock_path_and_leaves_its_target_alone(tmp_path: Path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    (tmp_path / "three.db.lock").symlink_to(target)

    with pytest.raises(SettingsError) as refused:
        claim_database(str(tmp_path / "three.db"), what="console", host="127.0.0.1", port=8123)

    assert "three.db.lock" in refused.value.message
    assert target.read_text() == "keep me\n"


def test_claim_makes_an_existing_lock_file_private(tmp_path: Path):
    lock = tmp_path / "four.db.lock"
    lock.write_text("")
    lock.chmod(0o644)

    held = claim_database(str(tmp_path / "four.db"), what="console", host="127.0.0.1", port=8123)

    assert held is not None
    assert lock.stat().st_mode & 0o777 == 0o600


def test_claim_through_symlink_to_held_database_refused(tmp_path: Path):
    """Regression: a second console given a symlink to the same SQLite file took a lock of its own
    (``link.db.lock``) and ran beside the first."""
    database = tmp_path / "real.db"
    database.touch()
    (tmp_path / "link.db").symlink_to(database)
    held = claim_database(str(database), what="console", host="127.0.0.1", port=8123)
    assert held is not None

    with pytest.raises(SettingsError) as refused:
        claim_database(str(tmp_path / "link.db"), what="console", host="127.0.0.1", port=9000)

    assert "port 8123" in refused.value.message
    held.release()
