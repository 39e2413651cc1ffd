"""Stripe API emulator (customers, catalogue, subscriptions, invoices, events, signed webhooks)."""
from sandbox.stripe.emulator import StripeEmulator

__all__ = ["StripeEmulator"]
