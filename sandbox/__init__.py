"""Local, stateful emulators of the vendor APIs (Salesforce, HubSpot, Stripe, Mailchimp, Klaviyo)."""
