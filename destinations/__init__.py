"""Destination registry: `create_destination(name, settings, env)` picks the class by the settings' `type`."""
from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from segsync.errors import InputError, Problem

# type (segsync.yaml `destinations.<name>.type`) -> "module:Class" implementing segsync.sync.targets.SyncTarget
DESTINATION_TYPES: dict[str, str] = {
    "salesforce": "destinations.salesforce:SalesforceDestination",
    "hubspot": "destinations.hubspot:HubSpotDestination",
    "mailchimp": "destinations.mailchimp:MailchimpDestination",
    "klaviyo": "destinations.klaviyo:KlaviyoDestination",
}


def destination_class(type_name: str):
    """The class registered for a destination type (imported on first use)."""
    module_name, _, class_name = DESTINATION_TYPES[type_name].partition(":")
    return getattr(importlib.import_module(module_name), class_name)


def create_destination(name: str, settings: Mapping[str, Any], env: Mapping[str, str]):
    """Build the destination `name` from its segsync.yaml section and the environment."""
    type_name = settings.get("type", name)
    if type_name not in DESTINATION_TYPES:
        raise InputError([Problem("segsync.yaml", "unknown destination type", path=f"destinations.{name}.type",
                                  value=type_name, expected=" / ".join(sorted(DESTINATION_TYPES)))])
    return destination_class(type_name).from_settings(name, settings, env)
