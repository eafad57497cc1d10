"""JSON in: DRF's parser, hardened so that no body can turn into a 500."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError


class JSONParser(parsers.JSONParser):
    """Also a 400, not a 500: an unknown charset, or nesting deep enough to exhaust recursion."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except LookupError as exc:
            raise ParseError(f"JSON parse error - unknown charset: {exc}") from None
        except RecursionError:
            raise ParseError("JSON parse error - the document is nested too deeply.") from None
