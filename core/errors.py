class BillingError(Exception):
    """A refused action, with a message a user can read (shown on pages, API errors and stderr)."""


def require_reason(reason: str | None, *, to: str = "") -> str:
    """The reason a recorded action needs, trimmed; refused when empty ("A reason is required
    to <to>.")."""
    text = (reason or "").strip()
    if not text:
        raise BillingError(f"A reason is required{f' to {to}' if to else ''}.")
    return text
