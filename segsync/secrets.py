"""Credentials from the environment or, when a variable is unset, from a Prefect Secret block of the same name."""
from __future__ import annotations

import os
from collections.abc import Iterable

from segsync.redact import register_secret

CREDENTIAL_VARIABLES = ("SALESFORCE_ACCESS_TOKEN", "HUBSPOT_ACCESS_TOKEN", "STRIPE_API_KEY",
                        "MAILCHIMP_API_KEY", "KLAVIYO_API_KEY")
_looked_up: set[str] = set()


def block_name(variable: str) -> str:
    """SALESFORCE_ACCESS_TOKEN -> segsync-salesforce-access-token (the Secret block to create in Prefect)."""
    return "segsync-" + variable.lower().replace("_", "-")


def load_secret_blocks(variables: Iterable[str] = CREDENTIAL_VARIABLES, loader=None) -> list[str]:
    """Fill unset credential variables from Prefect Secret blocks (looked up once per process).

    Returns the variables that were filled. Values are registered with the redactor before they can be logged.
    """
    if loader is None:
        from prefect.blocks.system import Secret

        def loader(name: str) -> str:
            return Secret.load(name).get()

    filled = []
    for variable in variables:
        if os.environ.get(variable) or variable in _looked_up:
            continue
        _looked_up.add(variable)
        try:
            value = loader(block_name(variable))
        except (ValueError, LookupError):  # no such block: the destination reports the missing credential itself
            continue
        if value:
            register_secret(str(value))
            os.environ[variable] = str(value)
            filled.append(variable)
    return filled
