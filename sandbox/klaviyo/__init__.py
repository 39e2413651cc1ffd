"""Klaviyo JSON:API emulator (lists, profiles, list relationships, bulk profile import jobs)."""
from sandbox.klaviyo.emulator import KlaviyoEmulator

__all__ = ["KlaviyoEmulator"]
