"""Shared fixtures: the Secretariat key and a real broker process per test."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Test helpers live in tests/support; tests/ itself must not be on sys.path, because
# tests/keys and tests/broker would shadow the packages they test.
sys.path.insert(0, str(Path(__file__).parent / "support"))

from brokerproc import BrokerProcess  # noqa: E402
from keys.identity import IdentityKey  # noqa: E402


@pytest.fixture
def root() -> IdentityKey:
    return IdentityKey.generate()


@pytest.fixture
def broker(tmp_path: Path, root: IdentityKey):
    """A broker on an ephemeral loopback port with a fresh SQLite file.

    After the test, the broker must have logged no unexpected error (a 500).
    """
    process = BrokerProcess(tmp_path, root).start()
    yield process
    process.stop()
    errors = [e for e in process.log_events() if e.get("event") == "unexpected error"]
    assert not errors, f"broker logged unexpected errors: {errors}"
