"""`segsync ingest` and `segsync build` on a product-database-only project."""
from __future__ import annotations

import yaml
from typer.testing import CliRunner

from segsync import store
from segsync.cli.main import app
from tests.sources.rawdata import REPO


def test_ingest_then_build_prints_counts_matches_and_issues(tmp_path, warehouse, monkeypatch):
    from sandbox.datasets import load_dataset
    from sandbox.product_db import write_product_db

    url = f"sqlite:///{tmp_path / 'product.db'}"
    write_product_db(load_dataset({"dataset": "ravenstack", "today": "2026-12-01"}), url)
    project = yaml.safe_load((REPO / "segsync.yaml").read_text())
    project["sources"] = {"product_db": {**project["sources"]["product_db"], "url": url}}
    project["measures"] = {"file": str(REPO / "segment_defs" / "measures.yaml")}
    project["warehouse"] = str(warehouse)
    config = tmp_path / "segsync.yaml"
    config.write_text(yaml.safe_dump(project))
    monkeypatch.delenv("PRODUCT_DB_URL", raising=False)
    monkeypatch.setenv("SEGSYNC_SANDBOX_ENV", str(tmp_path / "no-sandbox.env"))
    runner = CliRunner()
    ingested = runner.invoke(app, ["ingest", "--config", str(config)])
    assert ingested.exit_code == 0, ingested.output
    assert "raw_product_feature_usage" in ingested.output and "25,000" in ingested.output
    built = runner.invoke(app, ["build", "--config", str(config), "--as-of", "2026-12-01"])
    assert built.exit_code == 0, built.output
    assert "accounts 500," in built.output and "country_alias" in built.output and "58" in built.output
    con = store.connect(warehouse)
    assert con.execute("SELECT max(as_of_date) FROM accounts").fetchone()[0].isoformat() == "2026-12-01"
    bad = runner.invoke(app, ["build", "--config", str(config), "--as-of", "yesterday"])
    assert bad.exit_code == 2 and "expected YYYY-MM-DD" in bad.output
