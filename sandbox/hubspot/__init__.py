"""HubSpot CRM v3 emulator (objects, search, properties, associations, lists v3) for the segsync sandbox."""
from sandbox.hubspot.emulator import DEFAULT_TOKEN, HubSpotEmulator

__all__ = ["DEFAULT_TOKEN", "HubSpotEmulator"]
