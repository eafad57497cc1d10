"""Writes. Keyword-only, typed, named <entity>_<action>."""

from __future__ import annotations

from rest_framework.authtoken.models import Token

from accounts.models import User


def auth_token_obtain(*, user: User) -> Token:
    """The user's API token, created on first use; every client of the user shares it."""
    token, _ = Token.objects.get_or_create(user=user)
    return token


def auth_token_revoke(*, user: User) -> None:
    """Delete the user's token: every client using it is signed out; the next obtain makes a new one."""
    Token.objects.filter(user=user).delete()
