"""Does in the sandboxes what an admin does once in the real tools: create the custom fields segsync writes."""
from __future__ import annotations

from collections.abc import Mapping

import requests

from segsync.config import ProjectConfig


def provision_sandbox(config: ProjectConfig, env: Mapping[str, str]) -> dict[str, int]:
    """Create the Salesforce custom fields every enabled Salesforce destination owns (idempotent).

    Returns the number of fields declared per object. Real orgs get these from an admin in Setup;
    `docs/sync.md` lists them.
    """
    from destinations.salesforce import salesforce_field_specs
    from segsync.segments import load_segments

    instance = env.get("SALESFORCE_INSTANCE_URL")
    if not instance:
        return {}
    segments = load_segments(config.segments_path, config=config)
    created: dict[str, int] = {}
    with requests.Session() as session:
        session.trust_env = False
        session.verify = env.get("SALESFORCE_CA_BUNDLE") or True
        for body in salesforce_field_specs(config, segments):
            response = session.post(f"{instance}/__sandbox/fields", json=body, timeout=30)
            response.raise_for_status()
            created[body["object"]] = len(body["fields"])
    return created
