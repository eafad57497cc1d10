"""Reads. Keyword-only, typed, named <entity>_<action>."""

from __future__ import annotations

from django.db.models import Q, QuerySet
from django.utils import timezone
from knox.models import AuthToken

from accounts.models import User


def auth_token_list(*, user: User) -> QuerySet[AuthToken]:
    """The user's tokens that still work, newest first."""
    unexpired = Q(expiry__isnull=True) | Q(expiry__gt=timezone.now())
    return AuthToken.objects.filter(unexpired, user=user).order_by("-created")
