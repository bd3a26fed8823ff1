"""When the rehearsal and the target run in different regimes, and the forecast is less sure.

Scaling a rehearsal's rates assumes each row costs the same on both sides. Two things break that
and are seen from settings and sizes alone:
- **the buffer cache.** The window reads the legacy tables and writes as much again. The share of
  that which shared_buffers holds decides how much is read from outside PostgreSQL's cache; a
  rehearsal mostly in cache forecasts a target mostly outside it too fast per row.
- **checkpoints.** A window writing more WAL than max_wal_size makes the server checkpoint inside
  it, and after each checkpoint the first change to a page logs the whole page. A rehearsal that
  stayed under max_wal_size never paid that.
Measured on this project's sandbox (shared_buffers 128MB, max_wal_size 1GB), rehearsing on a
tenth of the data: 3,000 → 30,000 users crosses the cache and over-forecast by 11 to 13 %;
10,000 → 100,000 crosses both and under-forecast by 19 % (12 % with max_wal_size raised out of
the way). Neither the sign nor the size carries over to other hardware, so the forecast does not
shift its centre: it names the crossing and widens its spread by REGIME_MARGIN.
"""

from __future__ import annotations

from pgcutover.forecast_profile import DatabaseProfile, size_bytes

REGIME_MARGIN = 0.20  # the spread's extra share of the growing time when a regime is crossed
CACHE_GAP = 0.25  # a crossing: the share of the window's data in cache differs by this much


def moved_bytes(profile: DatabaseProfile) -> int:
    """Return what the window reads and writes: twice the legacy data."""
    return 2 * sum(profile.table_bytes.values())


def cached_share(moved: int, buffers: int) -> float:
    """Return the share of moved bytes that shared_buffers holds."""
    return 1.0 if moved <= 0 else min(1.0, buffers / moved)


def cache_regime(staging: DatabaseProfile, target: DatabaseProfile) -> list[str]:
    """Name a rehearsal that ran much more in shared_buffers than the target's window will."""
    buffers = size_bytes(staging.settings.get("shared_buffers"))
    there = size_bytes(target.settings.get("shared_buffers")) or buffers
    if buffers is None or there is None:
        return []
    moved = moved_bytes(staging), moved_bytes(target)
    before, after = cached_share(moved[0], buffers), cached_share(moved[1], there)
    if before - after < CACHE_GAP:
        return []
    return [
        f"the rehearsal's window ({mib(moved[0])} read and written) had {before:.0%} of it room "
        f"in shared_buffers ({mib(buffers)}), the target's ({mib(moved[1])}) will have "
        f"{after:.0%} ({mib(there)}): per-row work runs at another speed there; the spread "
        f"allows {REGIME_MARGIN:.0%} of the growing time; rehearse on a copy nearer the "
        "target's size for a closer forecast"
    ]


def wal_regime(
    staging: DatabaseProfile, target: DatabaseProfile, wal_bytes: float, ratio: float
) -> list[str]:
    """Name a target window whose WAL passes max_wal_size when the rehearsal's stayed under."""
    limit = size_bytes(staging.settings.get("max_wal_size"))
    there = size_bytes(target.settings.get("max_wal_size")) or limit
    if not wal_bytes or limit is None or there is None:
        return []
    expected = wal_bytes * ratio
    if wal_bytes > limit or expected <= there:
        return []
    return [
        f"the target's window will write about {mib(expected)} of WAL, more than its "
        f"max_wal_size ({mib(there)}; the rehearsal's {mib(wal_bytes)} stayed under): the "
        "server will checkpoint inside the window, which the rehearsal never did; the spread "
        f"allows {REGIME_MARGIN:.0%} of the growing time; raising max_wal_size above "
        f"{mib(expected)} for the window avoids it"
    ]


def mib(n: float) -> str:
    """Say a byte count in MiB."""
    return f"{n / 2**20:,.0f} MiB"
