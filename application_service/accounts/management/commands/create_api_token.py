"""`manage.py create_api_token USERNAME`: issue an API token for a user, as an operator.

The key is written to standard output, alone, this once (only its hash is stored); what it is
and when it expires go to standard error. `invoke manage "create_api_token USERNAME"` runs it.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts import services


class Command(BaseCommand):
    help = "Issue a new API token for a user and print its key (shown only this once)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("username", help="The user the token signs in as.")

    def handle(self, *args, username: str, **options) -> None:
        User = get_user_model()  # noqa: N806
        try:
            user = User._default_manager.get_by_natural_key(username)
        except User.DoesNotExist:
            raise CommandError(f"No user is named {username!r}.") from None
        try:
            token, key = services.auth_token_create(user=user)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from None
        expiry = token.expiry.isoformat() if token.expiry else "never"
        self.stderr.write(f"A new API token for {username} (expires {expiry}); "
                          f"its key, shown only this once:")
        self.stdout.write(key)
