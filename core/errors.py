class BillingError(Exception):
    """A refused action, with a message a user can read (shown on pages, API errors and stderr)."""
