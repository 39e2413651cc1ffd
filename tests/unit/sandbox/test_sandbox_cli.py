"""`segsync sandbox up|status|seed|down` against a real detached server (Stripe only, to stay fast)."""
from __future__ import annotations

import json
import os
from pathlib import Path

import httpx
from typer.testing import CliRunner

from segsync.cli.main import app
from segsync.cli.sandbox_cmd import pid_alive
from segsync.envfile import parse_env_file

runner = CliRunner()


def test_up_status_seed_down(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("STRIPE_API_BASE", "STRIPE_API_KEY", "PRODUCT_DB_URL", "SEGSYNC_SANDBOX_ENV"):
        monkeypatch.delenv(name, raising=False)
    try:
        started = runner.invoke(app, ["sandbox", "up", "--vendors", "stripe"])
        assert started.exit_code == 0, started.output
        env_file = Path(".segsync/sandbox.env")
        env = parse_env_file(env_file)
        assert set(env) == {"STRIPE_API_BASE", "STRIPE_API_KEY", "PRODUCT_DB_URL"}
        assert env["PRODUCT_DB_URL"] == "sqlite:///.segsync/product.db"
        assert env["STRIPE_API_KEY"] not in started.output and "sk_t…****" in started.output
        assert ".segsync/sandbox.env" in started.output
        pid = int(Path(".segsync/sandbox/server.pid").read_text())
        assert pid_alive(pid)
        state = json.loads(Path(".segsync/sandbox/sandbox.json").read_text())
        assert state["pid"] == pid and state["vendors"] == {"stripe": env["STRIPE_API_BASE"]}

        again = runner.invoke(app, ["sandbox", "up", "--vendors", "stripe"])
        assert again.exit_code == 0 and f"already running (pid {pid})" in again.output
        assert int(Path(".segsync/sandbox/server.pid").read_text()) == pid

        status = runner.invoke(app, ["sandbox", "status"])
        assert status.exit_code == 0 and "stripe" in status.output and "yes" in status.output

        seeded = runner.invoke(app, ["sandbox", "seed", "--synthetic", "300", "--seed", "5", "--today", "2026-12-03"])
        assert seeded.exit_code == 0, seeded.output
        assert "customer=301" in seeded.output and "accounts=300" in seeded.output
        assert "feature_usage=6000" in seeded.output and "Seeding took" in seeded.output
        assert Path(".segsync/product.db").exists()
        customers = httpx.get(f"{env['STRIPE_API_BASE']}/v1/customers", params={"limit": 1},
                              headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"}, trust_env=False)
        assert customers.status_code == 200 and customers.json()["has_more"] is True
    finally:
        stopped = runner.invoke(app, ["sandbox", "down"])
    assert stopped.exit_code == 0 and "Sandbox stopped" in stopped.output
    assert not pid_alive(pid)
    assert not Path(".segsync/sandbox.env").exists() and not Path(".segsync/sandbox/server.pid").exists()
    assert runner.invoke(app, ["sandbox", "status"]).exit_code == 1
    assert "not running" in runner.invoke(app, ["sandbox", "seed"]).output


def test_down_when_not_running(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["sandbox", "down"])
    assert result.exit_code == 0 and "not running" in result.output
    assert not os.path.exists(".segsync/sandbox.env")
