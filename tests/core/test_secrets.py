"""Credentials from Prefect Secret blocks when the environment lacks them; registered with the redactor."""
from segsync import secrets
from segsync.redact import redact


def test_unset_variables_are_filled_from_blocks_once(monkeypatch):
    monkeypatch.setattr(secrets, "_looked_up", set())
    monkeypatch.delenv("HUBSPOT_ACCESS_TOKEN", raising=False)
    monkeypatch.setenv("STRIPE_API_KEY", "sk_test_from_env")
    asked = []

    def loader(name):
        asked.append(name)
        if name == "segsync-hubspot-access-token":
            return "pat-from-block-123456"
        raise ValueError(f"Unable to find block document named {name}")

    filled = secrets.load_secret_blocks(["HUBSPOT_ACCESS_TOKEN", "STRIPE_API_KEY", "KLAVIYO_API_KEY"], loader=loader)
    assert filled == ["HUBSPOT_ACCESS_TOKEN"]
    assert asked == ["segsync-hubspot-access-token", "segsync-klaviyo-api-key"]  # env wins: no lookup for Stripe
    import os

    assert os.environ["HUBSPOT_ACCESS_TOKEN"] == "pat-from-block-123456"
    assert redact("token pat-from-block-123456") == "token ***"
    assert secrets.load_secret_blocks(["KLAVIYO_API_KEY"], loader=loader) == [] and len(asked) == 2
