"""HTTP checks of an app host's URLs: one GET, or polling until the expected answer."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from typing import Any

from pgcutover.errors import CutoverError
from pgcutover.hosts import Host, journal_host
from pgcutover.journal import Journal
from pgcutover.redact import mask


def host_url(template: str, host: Host) -> str:
    """Fill a URL template's `{host}` with this host (its APP_HOSTS host part)."""
    return template.replace("{host}", host.url_host)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Report a redirect as the answer: a 302 to a login or maintenance page is no 2xx."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


def http_status(url: str, timeout_s: float = 5) -> tuple[int | None, str]:
    """GET a URL once (redirects not followed); return its status, or None and why not."""
    try:
        with _OPENER.open(url, timeout=timeout_s) as resp:  # the operator's own URL
            return int(resp.status), f"HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        exc.close()
        return int(exc.code), f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        return None, str(getattr(exc, "reason", exc))
    except (http.client.HTTPException, ValueError) as exc:  # a bad answer, or a bad URL
        return None, f"{type(exc).__name__}: {exc}"


def check_url(
    step: str,
    host: Host,
    url: str,
    *,
    expect: str,
    timeout_s: float,
    journal: Journal | None = None,
) -> str:
    """Poll a host's URL until it answers as expected ("2xx" or a status such as "503")."""

    def good(status: int | None) -> bool:
        if status is None:
            return False
        return 200 <= status < 300 if expect == "2xx" else str(status) == expect

    started = time.monotonic()
    deadline = started + timeout_s
    while True:
        status, last = http_status(url, timeout_s=min(5.0, max(timeout_s, 0.5)))
        if good(status) or time.monotonic() >= deadline:
            break
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    ok = good(status)
    journal_host(journal, step, host, started, check=url, expect=expect, answer=last, ok=ok)
    if not ok:
        raise CutoverError(
            step,
            mask(f"{host.name}: {url} answered {last}, not {expect}, for {timeout_s:g}s"),
        )
    return f"{url} answered {last}"
