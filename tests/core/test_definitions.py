"""Definitions are tested like code: every prefect.yaml entrypoint resolves to a flow and its parameters exist."""
import importlib
import inspect
from pathlib import Path

import yaml
from prefect.flows import Flow

ROOT = Path(__file__).resolve().parents[2]


def test_every_deployment_entrypoint_resolves_to_a_flow_with_those_parameters():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    assert {d["name"] for d in spec["deployments"]} == {"nightly-full-sync", "fast-fields-sync", "on-demand",
                                                         "dry-run-plan"}
    for deployment in spec["deployments"]:
        path, _, name = deployment["entrypoint"].partition(":")
        module = importlib.import_module(path.removesuffix(".py").replace("/", "."))
        flow = getattr(module, name)
        assert isinstance(flow, Flow), deployment["name"]
        accepted = set(inspect.signature(flow.fn).parameters)
        assert set(deployment.get("parameters", {})) <= accepted, deployment["name"]


def test_fast_fields_deployment_names_real_sources():
    spec = yaml.safe_load((ROOT / "prefect.yaml").read_text())
    project = yaml.safe_load((ROOT / "segsync.yaml").read_text())
    fast = next(d for d in spec["deployments"] if d["name"] == "fast-fields-sync")
    assert set(fast["parameters"]["sources"]) <= set(project["sources"])
