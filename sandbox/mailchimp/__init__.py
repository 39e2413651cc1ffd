"""Mailchimp Marketing API v3 emulator."""
from sandbox.mailchimp.emulator import MailchimpEmulator

__all__ = ["MailchimpEmulator"]
