"""Declared column types of every API raw table (product database tables are declared in segsync.yaml)."""
from __future__ import annotations

from sources.common import RawTable

SALESFORCE_ACCOUNT = RawTable(
    "raw_salesforce_account",
    {
        "id": "VARCHAR", "name": "VARCHAR", "website": "VARCHAR", "industry": "VARCHAR",
        "billing_country": "VARCHAR", "account_source": "VARCHAR", "number_of_employees": "BIGINT",
        "account_type": "VARCHAR", "owner_id": "VARCHAR", "product_account_id": "VARCHAR",
        "is_deleted": "BOOLEAN", "master_record_id": "VARCHAR", "created_date": "TIMESTAMPTZ",
        "system_modstamp": "TIMESTAMPTZ", "extra": "JSON",
    },
    key=("id",), updated="system_modstamp",
)

SALESFORCE_CONTACT = RawTable(
    "raw_salesforce_contact",
    {
        "id": "VARCHAR", "account_id": "VARCHAR", "email": "VARCHAR", "first_name": "VARCHAR",
        "last_name": "VARCHAR", "title": "VARCHAR", "is_deleted": "BOOLEAN", "master_record_id": "VARCHAR",
        "created_date": "TIMESTAMPTZ", "system_modstamp": "TIMESTAMPTZ", "extra": "JSON",
    },
    key=("id",), updated="system_modstamp",
)

HUBSPOT_COMPANY = RawTable(
    "raw_hubspot_company",
    {
        "id": "VARCHAR", "name": "VARCHAR", "domain": "VARCHAR", "industry": "VARCHAR", "country": "VARCHAR",
        "product_account_id": "VARCHAR", "salesforce_account_id": "VARCHAR", "numberofemployees": "DOUBLE",
        "annualrevenue": "DOUBLE", "lifecyclestage": "VARCHAR", "merged_object_ids": "VARCHAR[]",
        "created_at": "TIMESTAMPTZ", "updated_at": "TIMESTAMPTZ", "archived": "BOOLEAN", "archived_at": "TIMESTAMPTZ",
        "properties": "JSON",
    },
    key=("id",), updated="updated_at",
)

HUBSPOT_CONTACT = RawTable(
    "raw_hubspot_contact",
    {
        "id": "VARCHAR", "email": "VARCHAR", "first_name": "VARCHAR", "last_name": "VARCHAR",
        "job_title": "VARCHAR", "merged_object_ids": "VARCHAR[]", "created_at": "TIMESTAMPTZ",
        "updated_at": "TIMESTAMPTZ", "archived": "BOOLEAN", "archived_at": "TIMESTAMPTZ", "properties": "JSON",
    },
    key=("id",), updated="updated_at",
)

HUBSPOT_COMPANY_CONTACT = RawTable(
    "raw_hubspot_company_contact",
    {"company_id": "VARCHAR", "contact_id": "VARCHAR", "is_primary": "BOOLEAN"},
    key=("company_id", "contact_id"),
)

STRIPE_CUSTOMER = RawTable(
    "raw_stripe_customer",
    {
        "id": "VARCHAR", "email": "VARCHAR", "name": "VARCHAR", "currency": "VARCHAR", "delinquent": "BOOLEAN",
        "account_id": "VARCHAR", "salesforce_account_id": "VARCHAR", "metadata": "JSON",
        "created": "TIMESTAMPTZ",
    },
    key=("id",), updated="created",
)

STRIPE_SUBSCRIPTION = RawTable(
    "raw_stripe_subscription",
    {
        "id": "VARCHAR", "customer_id": "VARCHAR", "status": "VARCHAR", "currency": "VARCHAR",
        "created": "TIMESTAMPTZ", "start_date": "TIMESTAMPTZ",
        "current_period_start": "TIMESTAMPTZ", "current_period_end": "TIMESTAMPTZ",  # legacy top-level fields
        "cancel_at_period_end": "BOOLEAN", "cancel_at": "TIMESTAMPTZ", "canceled_at": "TIMESTAMPTZ",
        "ended_at": "TIMESTAMPTZ", "trial_start": "TIMESTAMPTZ", "trial_end": "TIMESTAMPTZ",
        "collection_method": "VARCHAR", "metadata": "JSON",
    },
    key=("id",), updated="created",
)

STRIPE_SUBSCRIPTION_ITEM = RawTable(
    "raw_stripe_subscription_item",
    {
        "id": "VARCHAR", "subscription_id": "VARCHAR", "price_id": "VARCHAR", "quantity": "BIGINT",
        "current_period_start": "TIMESTAMPTZ", "current_period_end": "TIMESTAMPTZ", "created": "TIMESTAMPTZ",
    },
    key=("id",), updated="created",
)

STRIPE_PRICE = RawTable(
    "raw_stripe_price",
    {
        "id": "VARCHAR", "product_id": "VARCHAR", "product_name": "VARCHAR", "nickname": "VARCHAR",
        "lookup_key": "VARCHAR", "currency": "VARCHAR", "unit_amount": "DECIMAL(38,12)",
        "billing_scheme": "VARCHAR", "tiers_mode": "VARCHAR", "tiers": "TIERS", "recurring_interval": "VARCHAR",
        "recurring_interval_count": "BIGINT", "recurring_usage_type": "VARCHAR", "active": "BOOLEAN",
        "plan_tier": "VARCHAR", "metadata": "JSON", "created": "TIMESTAMPTZ",
    },
    key=("id",), updated="created",
)

STRIPE_DISCOUNT = RawTable(
    "raw_stripe_discount",
    {
        "id": "VARCHAR", "customer_id": "VARCHAR", "subscription_id": "VARCHAR", "coupon_id": "VARCHAR",
        "percent_off": "DOUBLE", "amount_off": "BIGINT", "currency": "VARCHAR", "duration": "VARCHAR",
        "duration_in_months": "BIGINT", "start": "TIMESTAMPTZ", "end": "TIMESTAMPTZ",
    },
    key=("id",), updated="start",
)

STRIPE_INVOICE = RawTable(
    "raw_stripe_invoice",
    {
        "id": "VARCHAR", "customer_id": "VARCHAR", "subscription_id": "VARCHAR", "status": "VARCHAR",
        "currency": "VARCHAR", "amount_due": "BIGINT", "amount_paid": "BIGINT", "amount_remaining": "BIGINT",
        "created": "TIMESTAMPTZ", "due_date": "TIMESTAMPTZ", "period_start": "TIMESTAMPTZ",
        "period_end": "TIMESTAMPTZ",
    },
    key=("id",), updated="created",
)

API_TABLES: tuple[RawTable, ...] = (
    SALESFORCE_ACCOUNT, SALESFORCE_CONTACT, HUBSPOT_COMPANY, HUBSPOT_CONTACT, HUBSPOT_COMPANY_CONTACT,
    STRIPE_CUSTOMER, STRIPE_SUBSCRIPTION, STRIPE_SUBSCRIPTION_ITEM, STRIPE_PRICE, STRIPE_DISCOUNT, STRIPE_INVOICE,
)
