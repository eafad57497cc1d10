class UserError(Exception):
    """Something the user can fix; the message says what went wrong and what to do."""
