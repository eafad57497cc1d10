"""Content negotiation: DRF's, answered at once for the Accept headers nearly every client sends.

A request with no Accept header, or with `*/*`, takes the first renderer whatever the others are;
DRF parses the header and ranks every renderer to find that out, on every request. Any other
Accept header (and a format suffix or query parameter) goes through DRF's negotiation unchanged.
"""

from __future__ import annotations

from rest_framework.negotiation import DefaultContentNegotiation

ANYTHING = frozenset({None, "*/*"})


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        override = self.settings.URL_FORMAT_OVERRIDE
        if (request.META.get("HTTP_ACCEPT") in ANYTHING and format_suffix is None
                and (override is None or override not in request.query_params)):
            return renderers[0], renderers[0].media_type
        return super().select_renderer(request, renderers, format_suffix)
