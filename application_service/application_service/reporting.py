"""What Django's error report (the technical 500 page with DEBUG on, the mails to ADMINS) shows.

Django hides settings whose names contain API, TOKEN, KEY, SECRET, PASS or SIGNATURE, but not
URLs: DATABASE_URL, REDIS_URL and CELERY_BROKER_URL carry passwords in their user part. This
filter hides those names too, and any value, wherever it sits (a cache's LOCATION, the result
backend, request.META, a traceback's variables) that holds a password in a URL.
"""

from __future__ import annotations

import re
from typing import Any

from django.views import debug

# A scheme, then a user part with a password: mysql://user:password@host, redis://:password@host.
URL_WITH_PASSWORD = re.compile(r"[a-z][a-z0-9+.-]*://[^/?#@\s]*:[^/?#@\s]*@", re.IGNORECASE)


class SafeExceptionReporterFilter(debug.SafeExceptionReporterFilter):
    hidden_settings = re.compile(
        debug.SafeExceptionReporterFilter.hidden_settings.pattern + "|URL|DSN|BROKER|CREDENTIALS",
        flags=re.IGNORECASE,
    )

    def cleanse_setting(self, key: Any, value: Any) -> Any:
        if isinstance(value, str) and URL_WITH_PASSWORD.search(str(value)):  # str(): lazy strings too
            return self.cleansed_substitute
        return super().cleanse_setting(key, value)

    def cleanse_special_types(self, request, value: Any) -> Any:
        """A traceback's variables too, DEBUG on or off: a URL with a password, a dict's secret keys."""
        value = super().cleanse_special_types(request, value)
        if isinstance(value, str | dict | list | tuple):
            return self.cleanse_setting("", value)
        return value
