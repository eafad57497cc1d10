"""Cursor pagination for every list: constant cost at any depth, no COUNT(*), a capped page size.

A view sets the order of its list (`paginator.ordering`), as DRF's CursorPagination asks. A
cursor that was forged or belongs to another ordering is a 400 on the `cursor` parameter, never
a 404 or a 500.
"""

from __future__ import annotations

from django.core.exceptions import FieldDoesNotExist
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import models
from django.utils import timezone
from rest_framework import pagination
from rest_framework.exceptions import NotFound, ValidationError

MAX_PAGE_SIZE = 100
BIGINT_RANGE = range(-(2**63), 2**63)


class CursorPagination(pagination.CursorPagination):
    page_size_query_param = "page_size"
    max_page_size = MAX_PAGE_SIZE
    invalid_cursor_message = "This cursor is not valid for this list and ordering."
    ordering = ("-pk",)  # a view sets its list's own, whose first field never changes

    def get_ordering(self, request, queryset, view) -> tuple[str, ...]:
        self.model = queryset.model  # for checking a cursor's position against its field
        return super().get_ordering(request, queryset, view)

    def decode_cursor(self, request):
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise self.invalid_cursor() from None
        if cursor is not None and cursor.position is not None:
            self.check_position(cursor.position)
        return cursor

    def check_position(self, position: str) -> None:
        name = self.ordering[0].lstrip("-")
        try:
            field = self.model._meta.pk if name == "pk" else self.model._meta.get_field(name)
            value = field.to_python(position)
        except (FieldDoesNotExist, DjangoValidationError, ValueError, TypeError, OverflowError):
            raise self.invalid_cursor() from None
        if isinstance(field, models.IntegerField) and value not in BIGINT_RANGE:
            raise self.invalid_cursor()
        if isinstance(field, models.DateTimeField) and value is not None and timezone.is_naive(value):
            raise self.invalid_cursor()  # the cursors we issue carry their UTC offset

    def invalid_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [self.invalid_cursor_message]},
                               code="invalid_cursor")
