"""Writes. Keyword-only, typed, named <entity>_<action>.

API tokens are django-rest-knox's: the database holds a hash of each key (and its first
characters, to find it), never the key, which its client receives once, when it is issued.
A user holds one token per client, each with an expiry (REST_KNOX's TOKEN_TTL).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from knox.models import AuthToken
from knox.settings import knox_settings

from accounts.models import User
from accounts.selectors import auth_token_list


def auth_token_create(*, user: User) -> tuple[AuthToken, str]:
    """A new token for one more client of the user, and its key: the only time the key is seen.

    Refused when the user already holds TOKEN_LIMIT_PER_USER unexpired tokens (every request
    with a token reads all of its user's tokens, so their number stays small).
    """
    limit = knox_settings.TOKEN_LIMIT_PER_USER
    if limit is not None and auth_token_list(user=user).count() >= limit:
        raise ValidationError(
            f"This user already holds {limit} API tokens, the most allowed: revoke one first.",
            code="too_many_tokens",
        )
    return AuthToken.objects.create(user=user)


def auth_token_revoke(*, token: AuthToken) -> None:
    """Delete one token: its client is signed out; the user's other clients are not."""
    token.delete()


def auth_token_revoke_by_key(*, user: User, token_key: str) -> bool:
    """Delete the user's token whose key starts with `token_key` (as listed); False if none."""
    deleted, _ = AuthToken.objects.filter(user=user, token_key=token_key).delete()
    return bool(deleted)


def auth_tokens_revoke_all(*, user: User) -> int:
    """Delete every token of the user (every client is signed out); how many there were."""
    deleted, _ = AuthToken.objects.filter(user=user).delete()
    return deleted
