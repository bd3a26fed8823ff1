"""A terminal of its own for pgcutover: a pty it controls, as an operator's SSH session gives."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import subprocess
import termios
import threading
import time
from pathlib import Path

from conftest import invoke_argv, operator_env


class Terminal:
    """Run `invoke <args>` as the controlling process of a new pty; keep what it prints."""

    def __init__(
        self, args: list[str], *, cwd: Path, env: dict[str, str], nohup: bool = False
    ) -> None:
        self.master, slave = pty.openpty()
        self.output = bytearray()
        self._reading = threading.Event()
        self._reading.set()
        self.proc = subprocess.Popen(
            # nohup ignores SIGHUP, then runs the program (its output to nohup.out in cwd).
            [*(["nohup"] if nohup else []), *invoke_argv(args)],
            cwd=cwd,
            env=operator_env(env),
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=True,
            preexec_fn=_take_terminal,
        )
        os.close(slave)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        """Drain the terminal: one nobody reads fills up and blocks the writer."""
        while self._reading.is_set():
            if select.select([self.master], [], [], 0.05)[0]:
                try:
                    self.output += os.read(self.master, 65536)
                except OSError:  # the process ended and the pty's slave side closed
                    return

    def text(self) -> str:
        return self.output.decode(errors="replace")

    def wait_for_text(self, needle: str, timeout_s: float = 60) -> None:
        deadline = time.monotonic() + timeout_s
        while needle not in self.text():
            assert self.proc.poll() is None, f"exited before printing {needle!r}:\n{self.text()}"
            assert time.monotonic() < deadline, f"no {needle!r} after {timeout_s}s:\n{self.text()}"
            time.sleep(0.05)

    def type(self, data: bytes) -> None:
        os.write(self.master, data)

    def wait(self, timeout_s: float = 120) -> int:
        """Wait for the process to end, still draining what it prints; return its exit code."""
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self.proc.kill()
            self._reading.clear()
            self._reader.join()

    def hang_up(self) -> None:
        """Close the master side, as sshd does when the connection drops: SIGHUP, then EIO."""
        self._reading.clear()
        self._reader.join()
        os.close(self.master)


def _take_terminal() -> None:
    fcntl.ioctl(0, termios.TIOCSCTTY, 0)  # the new session's controlling terminal
