"""Shared fixtures: emulators started once per test session, a throwaway warehouse per test."""
from __future__ import annotations

import os

import pytest

os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")

_running: dict = {}


def start_emulator(vendor: str, tmp_root):
    """One running emulator per vendor per test session (state is reset by `reset_emulator`)."""
    from sandbox.server import start

    if vendor not in _running:
        _running[vendor] = start([vendor], state_dir=tmp_root / f"sandbox-{vendor}")
    return _running[vendor]


@pytest.fixture(scope="session")
def sandbox_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("sandbox")
    yield root
    for sandbox in _running.values():
        sandbox.stop()
    _running.clear()


def _vendor_fixture(vendor: str):
    @pytest.fixture
    def fixture(sandbox_root):
        sandbox = start_emulator(vendor, sandbox_root)
        emulator = sandbox[vendor]
        with emulator.lock:
            emulator.reset()
        emulator.settings.clear()
        emulator.log.clear()
        emulator.faults.clear()
        return sandbox

    return fixture


sf_sandbox = _vendor_fixture("salesforce")
hubspot_sandbox = _vendor_fixture("hubspot")
stripe_sandbox = _vendor_fixture("stripe")
mailchimp_sandbox = _vendor_fixture("mailchimp")
klaviyo_sandbox = _vendor_fixture("klaviyo")


@pytest.fixture
def warehouse(tmp_path, monkeypatch):
    """A fresh warehouse file for one test, also exported as $SEGSYNC_WAREHOUSE."""
    path = tmp_path / "warehouse.duckdb"
    monkeypatch.setenv("SEGSYNC_WAREHOUSE", str(path))
    return path


@pytest.fixture(scope="session")
def prefect_server():
    """One Prefect test server for the whole session (ephemeral start-up is slow here)."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield
