"""Wrap a command for an app host so that it ends there when its SSH channel closes."""

from __future__ import annotations

import shlex

# OpenSSH sends no signal to a command without a terminal when its channel closes: a deploy cut
# at its timeout, abandoned by a second Ctrl-C, or left by a pgcutover that was killed would run
# on and land after the rollback put the old release back. So each command runs in a session of
# its own on the host, and a watcher ends that session when the channel's stdin closes, which
# sshd does only when the channel goes (pgcutover never writes to it): TERM, then KILL after 5 s.
# The command runs in the user's login shell ($SHELL, which sshd sets), as sshd alone would run it;
# its stdin is /dev/null and its exit status is the channel's. One line: csh refuses a newline
# inside quotes, and the login shell reads the wrapper's `sh -c '…'` first.
ENDED_BY_WATCHER = 128 + 15  # the status of a command the watcher's TERM ended
END_WITH_CHANNEL = (
    'exec 3<&0; run="${SHELL:-sh}"; '
    'if command -v setsid >/dev/null 2>&1; then setsid "$run" -c "$1" </dev/null & '
    'else "$run" -c "$1" </dev/null & fi; '
    "pid=$!; "
    '{ while read -r _ <&3; do :; done; '
    'kill -s TERM -- "-$pid" 2>/dev/null || kill -s TERM "$pid"; sleep 5; '
    'kill -s KILL -- "-$pid" 2>/dev/null || kill -s KILL "$pid"; } >/dev/null 2>&1 & '
    "watcher=$!; "
    'wait "$pid"; status=$?; '
    'kill "$watcher" 2>/dev/null; wait "$watcher" 2>/dev/null; '
    'exit "$status"'
)


def ended_with_channel(command: str) -> str:
    """Wrap a command so that it ends on the host when its SSH channel closes."""
    return f"sh -c {shlex.quote(END_WITH_CHANNEL)} pgcutover {shlex.quote(command)}"
