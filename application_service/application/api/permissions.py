"""Who may do what. Project default (settings): IsAuthenticated; views that allow more say so."""

from __future__ import annotations

from rest_framework import permissions


class IsAuthorOrStaffOrReadOnly(permissions.BasePermission):
    """Anyone may read an object; only its author, or staff, may change or delete it."""

    message = "Only the author of this message, or staff, may change or delete it."

    def has_object_permission(self, request, view, obj) -> bool:
        if request.method in permissions.SAFE_METHODS:
            return True
        user = request.user
        return bool(user and user.is_authenticated and (user.is_staff or obj.author_id == user.pk))
