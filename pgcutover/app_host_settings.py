"""APP_HOSTS entries (`[user@]host[:port]`) and the `{host}` URL templates, parsed and checked."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from pgcutover.errors import CutoverError

# `[user@]host[:port]`, the host a name or an IPv4 address, or an IPv6 address in brackets.
_HOST_ENTRY = re.compile(
    r"(?:(?P<user>[A-Za-z0-9._][A-Za-z0-9._-]*)@)?"
    r"(?:\[(?P<v6>[0-9A-Fa-f:.]+(?:%[A-Za-z0-9_.-]+)?)\]|(?P<host>[A-Za-z0-9_][A-Za-z0-9_.-]*))"
    r"(?::(?P<port>[0-9]{1,5}))?"
)


@dataclass(frozen=True)
class HostEntry:
    """One APP_HOSTS entry, `[user@]host[:port]`; unset parts come from the SSH config."""

    entry: str
    host: str
    user: str | None = None
    port: int | None = None

    @property
    def url_host(self) -> str:
        """Return the host as it goes into a URL's `{host}` (an IPv6 address in brackets)."""
        return f"[{self.host}]" if ":" in self.host else self.host


def parse_app_hosts(raw: str) -> tuple[HostEntry, ...]:
    """Parse APP_HOSTS (comma-separated `[user@]host[:port]`) or fail naming the bad entry."""
    if not raw.strip():
        return ()
    entries: list[HostEntry] = []
    for part in raw.split(","):
        entry = part.strip()
        if not entry:
            raise CutoverError(
                "config", f"APP_HOSTS={raw!r} has an empty entry: remove the extra comma"
            )
        parsed = parse_host_entry(entry, "APP_HOSTS entry")
        if any(e.host == parsed.host for e in entries):
            # A host's name keys its journal lines, its bookkeeping row and a URL's {host}.
            raise CutoverError(
                "config", f"APP_HOSTS names host {parsed.host} twice: give each app host once"
            )
        entries.append(parsed)
    return tuple(entries)


def parse_host_entry(entry: str, what: str) -> HostEntry:
    """Parse one `[user@]host[:port]` or fail naming it as `what` (e.g. "APP_HOSTS entry")."""
    match = _HOST_ENTRY.fullmatch(entry)
    if match is None:
        hint = (
            ": an IPv6 address goes in brackets, e.g. [2001:db8::1]:22"
            if entry.count(":") > 1 and "[" not in entry
            else ""
        )
        raise CutoverError("config", f"{what} {entry!r} is not [user@]host[:port]{hint}")
    host = match["v6"] or match["host"]
    if match["v6"]:
        try:
            ipaddress.IPv6Address(host.split("%")[0])
        except ValueError:
            raise CutoverError(
                "config", f"{what} {entry!r}: {host} is not an IPv6 address"
            ) from None
    port = int(match["port"]) if match["port"] else None
    if port is not None and not 1 <= port <= 65535:
        raise CutoverError("config", f"{what} {entry!r}: port {port} is not 1 to 65535")
    return HostEntry(entry, host, match["user"], port)


def url_template(key: str, raw: str) -> str:
    """Check an http(s) URL whose only placeholder is `{host}`, or fail naming the variable."""
    if not raw:
        return ""
    if "{" in raw.replace("{host}", "") or "}" in raw.replace("{host}", ""):
        raise CutoverError("config", f"{key}={raw!r}: the only placeholder allowed is {{host}}")
    try:
        parts = urlsplit(raw.replace("{host}", "app.example"))
        parts.port  # noqa: B018 - parsing the port is the check
    except ValueError as exc:
        raise CutoverError("config", f"{key}={raw!r} is not a URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CutoverError("config", f"{key}={raw!r} is not an http:// or https:// URL with a host")
    if parts.port == 0:
        raise CutoverError("config", f"{key}={raw!r}: port 0 is no port to ask")
    if any(c.isspace() or ord(c) < 32 for c in raw):  # http.client refuses them at request time
        raise CutoverError(
            "config", f"{key}={raw!r} holds whitespace or a control character: percent-encode it"
        )
    return raw
