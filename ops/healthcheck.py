"""The image's HEALTHCHECK: the web server's /healthz answers 200."""

from __future__ import annotations

import urllib.error
import urllib.request

from ops.errors import UserError

DEFAULT_URL = "http://127.0.0.1:8000/healthz"


def healthz(url: str = DEFAULT_URL, timeout: float = 5) -> str:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310 (the container's own port)
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        raise UserError(f"{url} does not answer: {exc}") from None
    if status != 200:
        raise UserError(f"{url} answered {status}, not 200.")
    return f"{url}: 200"
