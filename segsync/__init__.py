"""segsync: unify CRM, product and billing data, evaluate YAML segments, sync membership back."""

__version__ = "0.1.0"
