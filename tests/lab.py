"""A real two-host app lab on loopback: one sshd per host, one nginx, the app's shell scripts.

Hosts 127.0.0.1 and 127.0.0.2 (Linux routes all of 127/8 to lo). Each host has its own sshd (key
auth only, its own host key, ``SetEnv APP_ROOT=<its app dir>``) and its own server block in one
nginx that listens on the same port on both addresses. Nothing is mocked: a lab that cannot start
raises, so the tests using it fail (never skip).

Use it from a test module with ``from lab import app_lab, fresh_app_lab  # noqa: F401``.
"""

from __future__ import annotations

import atexit
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import fabric
import paramiko
import pytest

SSHD = Path("/usr/sbin/sshd")
NGINX = Path("/usr/sbin/nginx")
SSH_KEYGEN = "ssh-keygen"
ADDRESSES = ("127.0.0.1", "127.0.0.2")
INITIAL_RELEASE = "v1"
START_TIMEOUT = 10.0
PRIVSEP_DIR = Path("/run/sshd")
MAINTENANCE_TITLE = "Down for maintenance"

# The app's scripts, installed into APP_ROOT/bin of each host. Each finds its APP_ROOT from its own
# location, so host A's script only ever touches host A's files.
_SCRIPT_HEAD = """#!/bin/sh
set -eu
root=$(cd -- "$(dirname -- "$0")/.." && pwd -P)
"""
SCRIPTS: dict[str, str] = {
    "maintenance": _SCRIPT_HEAD
    + """\
# maintenance on|off|status: the site's maintenance page (the file maintenance.on); idempotent.
case "${1-}" in
  on) touch "$root/maintenance.on"; echo "maintenance on" ;;
  off) rm -f "$root/maintenance.on"; echo "maintenance off" ;;
  status) if [ -f "$root/maintenance.on" ]; then echo on; else echo off; fi ;;
  *) echo "usage: maintenance on|off|status" >&2; exit 2 ;;
esac
""",
    "version": _SCRIPT_HEAD
    + """\
# version: print the release this host runs (exit 1 when none is installed).
if [ "$#" -ne 0 ]; then echo "usage: version" >&2; exit 2; fi
if [ ! -f "$root/release" ]; then echo "version: no release installed in $root" >&2; exit 1; fi
cat "$root/release"
""",
    "deploy": _SCRIPT_HEAD
    + """\
# deploy VERSION: install release VERSION (idempotent); exit 3 when the deploy fails.
if [ "$#" -ne 1 ] || [ -z "$1" ]; then echo "usage: deploy VERSION" >&2; exit 2; fi
case "$1" in *[!A-Za-z0-9._+-]*) echo "deploy: invalid version: $1" >&2; exit 2 ;; esac
if [ -f "$root/fail-deploy" ]; then
  echo "deploy: $1 failed on $root: $(cat "$root/fail-deploy")" >&2
  exit 3
fi
case "$1" in *unhealthy*) touch "$root/unhealthy" ;; *) rm -f "$root/unhealthy" ;; esac
printf '%s\\n' "$1" > "$root/release.tmp"
mv -f "$root/release.tmp" "$root/release"
echo "deployed $1"
""",
}

MAINTENANCE_HTML = f"""<!DOCTYPE html>
<html lang="en">
<head><meta charset="utf-8"><title>{MAINTENANCE_TITLE}</title></head>
<body>
<h1>{MAINTENANCE_TITLE}</h1>
<p>We are upgrading the service. It will be back shortly; thank you for your patience.</p>
</body>
</html>
"""


def _index_html(address: str) -> str:
    """The app's home page on one host."""
    return (
        f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>app</title>"
        f"</head>\n<body><h1>app on {address}</h1></body></html>\n"
    )


@dataclass
class AppHost:
    """One app host: its loopback address, its sshd and its APP_ROOT."""

    address: str
    ssh_port: int
    root: Path
    sshd_dir: Path
    host_public_key: str = ""
    sshd: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def sshd_config(self) -> Path:
        """This host's sshd_config."""
        return self.sshd_dir / "sshd_config"

    @property
    def sshd_log(self) -> Path:
        """This host's sshd log (``-E``)."""
        return self.sshd_dir / "sshd.log"

    @property
    def known_hosts_line(self) -> str:
        """This host's known_hosts line, ``[address]:port keytype key``."""
        return f"[{self.address}]:{self.ssh_port} {self.host_public_key}"


@dataclass
class AppLab:
    """The running lab: two hosts, their sshds, one nginx, and the client-side SSH files."""

    base: Path
    user: str
    hosts: tuple[AppHost, ...]
    http_port: int
    key: Path
    known_hosts: Path
    ssh_config: Path
    nginx_dir: Path
    nginx: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def app_hosts(self) -> str:
        """The APP_HOSTS value: ``user@127.0.0.1:PORT1,user@127.0.0.2:PORT2``."""
        return ",".join(f"{self.user}@{h.address}:{h.ssh_port}" for h in self.hosts)

    @property
    def url_template(self) -> str:
        """A URL template for every host: ``http://{host}:PORT``."""
        return "http://{host}:" + str(self.http_port)

    @property
    def app_roots(self) -> dict[str, Path]:
        """Each host's APP_ROOT, by address."""
        return {h.address: h.root for h in self.hosts}

    def host(self, host: str | AppHost) -> AppHost:
        """The host with this address (or ``user@address:port``)."""
        if isinstance(host, AppHost):
            return host
        address = host.rpartition("@")[2].split(":")[0]
        for h in self.hosts:
            if h.address == address:
                return h
        raise KeyError(f"no lab host {host!r}; the lab has {[h.address for h in self.hosts]}")

    def url(self, host: str | AppHost, path: str = "/") -> str:
        """The URL of path on host's site."""
        return self.url_template.format(host=self.host(host).address) + path

    def release_of(self, host: str | AppHost) -> str:
        """The release installed on host (read from its file), or '' when none."""
        release = self.host(host).root / "release"
        return release.read_text(encoding="utf-8").strip() if release.exists() else ""

    def in_maintenance(self, host: str | AppHost) -> bool:
        """Whether host's maintenance page is on (read from its file)."""
        return (self.host(host).root / "maintenance.on").exists()

    def is_unhealthy(self, host: str | AppHost) -> bool:
        """Whether host's app is marked unhealthy (read from its file)."""
        return (self.host(host).root / "unhealthy").exists()

    def fail_deploy(self, host: str | AppHost, message: str = "simulated deploy failure") -> None:
        """Make host's ``bin/deploy`` fail (exit 3, message on stderr) until reset()."""
        (self.host(host).root / "fail-deploy").write_text(message + "\n", encoding="utf-8")

    def reset(self) -> None:
        """Back to the initial state: release v1, healthy, maintenance off, sshds running."""
        for h in self.hosts:
            for name in ("maintenance.on", "unhealthy", "fail-deploy", "release.tmp"):
                (h.root / name).unlink(missing_ok=True)
            (h.root / "release").write_text(INITIAL_RELEASE + "\n", encoding="utf-8")
            if h.sshd is None or h.sshd.poll() is not None:
                _start_sshd(h)
                _wait_sshd(h)

    @contextmanager
    def refuse_ssh(self, host: str | AppHost) -> Iterator[AppHost]:
        """Stop host's sshd (and its sessions) for the block, then start it again on its port."""
        h = self.host(host)
        _stop_sshd(h)
        try:
            yield h
        finally:
            _start_sshd(h)
            _wait_sshd(h)

    def connection(self, host: str | AppHost, known_hosts: Path | None = None) -> fabric.Connection:
        """A fabric Connection to host, set up as the product does (RejectPolicy, known_hosts)."""
        h = self.host(host)
        c = fabric.Connection(
            h.address,
            user=self.user,
            port=h.ssh_port,
            config=fabric.Config(runtime_ssh_path=str(self.ssh_config)),
            connect_kwargs={"key_filename": str(self.key)},
        )
        c.client.load_host_keys(str(known_hosts or self.known_hosts))
        c.client.set_missing_host_key_policy(paramiko.RejectPolicy())
        return c

    def stop(self) -> None:
        """Stop every process the lab started and remove its directory; idempotent."""
        with ExitStack() as stack:  # every step runs even if an earlier one raises
            stack.callback(shutil.rmtree, self.base, ignore_errors=True)
            for h in self.hosts:
                stack.callback(_stop_sshd, h)
            if self.nginx is not None:
                stack.callback(_terminate, self.nginx)
                self.nginx = None


def http_get(url: str, timeout: float = 5.0) -> tuple[int, str]:
    """GET url (no proxies, no redirects followed); return (status, body)."""
    parts = urlsplit(url)
    assert parts.scheme == "http" and parts.hostname, f"not an http URL: {url}"
    conn = http.client.HTTPConnection(parts.hostname, parts.port or 80, timeout=timeout)
    try:
        conn.request(
            "GET",
            (parts.path or "/") + (f"?{parts.query}" if parts.query else ""),
            headers={"Connection": "close"},
        )
        response = conn.getresponse()
        return response.status, response.read().decode("utf-8", "replace")
    finally:
        conn.close()


def http_status(url: str, timeout: float = 5.0) -> int:
    """The HTTP status of a GET of url."""
    return http_get(url, timeout)[0]


def _current_user() -> str:
    """The login name of the effective user (the one sshd lets in)."""
    return pwd.getpwuid(os.geteuid()).pw_name


def _reserve_ports(count: int, shared: tuple[str, ...]) -> tuple[list[int], int]:
    """Free ports: one per host address (``count``), plus one free on every address in shared."""
    held: list[socket.socket] = []
    try:

        def grab(address: str, port: int = 0) -> int:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            held.append(s)
            s.bind((address, port))
            return int(s.getsockname()[1])

        singles = [grab(ADDRESSES[i]) for i in range(count)]
        for _ in range(50):
            port = grab(shared[0])
            try:
                for address in shared[1:]:
                    grab(address, port)
            except OSError:
                continue
            return singles, port
        raise RuntimeError(f"no port free on all of {shared}")
    finally:
        for s in held:
            s.close()


def _keygen(paths: list[Path]) -> None:
    """Generate ed25519 key pairs (no passphrase) at paths, in parallel."""
    procs = [
        subprocess.Popen(
            [SSH_KEYGEN, "-q", "-t", "ed25519", "-N", "", "-C", p.name, "-f", str(p)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for p in paths
    ]
    for p, path in zip(procs, paths, strict=True):
        out, _ = p.communicate(timeout=30)
        if p.returncode != 0:
            raise RuntimeError(f"ssh-keygen for {path} failed: {out.decode(errors='replace')}")


def _write_sshd_config(h: AppHost, user: str, authorized_keys: Path) -> None:
    """This host's sshd_config: key auth only, its address and port, SetEnv APP_ROOT."""
    root_login = "PermitRootLogin prohibit-password\n" if os.geteuid() == 0 else ""
    h.sshd_config.write_text(
        f"Port {h.ssh_port}\n"
        f"ListenAddress {h.address}\n"
        f"HostKey {h.sshd_dir / 'ssh_host_ed25519_key'}\n"
        f"PidFile {h.sshd_dir / 'sshd.pid'}\n"
        f"AuthorizedKeysFile {authorized_keys}\n"
        f"AllowUsers {user}\n"
        f"{root_login}"
        "PubkeyAuthentication yes\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "HostbasedAuthentication no\n"
        "UsePAM no\n"
        "StrictModes no\n"
        "PrintMotd no\n"
        "PrintLastLog no\n"
        "X11Forwarding no\n"
        "LogLevel VERBOSE\n"
        f"SetEnv APP_ROOT={h.root}\n"
        "Subsystem sftp internal-sftp\n",
        encoding="utf-8",
    )


def _start_sshd(h: AppHost) -> None:
    """Start this host's sshd in the foreground (``-D``), logging to its file."""
    if os.geteuid() == 0:
        PRIVSEP_DIR.mkdir(mode=0o755, parents=True, exist_ok=True)
    h.sshd = subprocess.Popen(
        [str(SSHD), "-D", "-f", str(h.sshd_config), "-E", str(h.sshd_log)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_sshd(h: AppHost, timeout: float = START_TIMEOUT) -> None:
    """Wait until this host's sshd sends its banner; raise with its log if it does not."""
    assert h.sshd is not None
    deadline = time.monotonic() + timeout
    while True:
        if h.sshd.poll() is not None:
            raise RuntimeError(
                f"sshd for {h.address}:{h.ssh_port} exited with {h.sshd.returncode}"
                f"\n{_tail(h.sshd_log)}"
            )
        try:
            with socket.create_connection((h.address, h.ssh_port), timeout=1) as s:
                if s.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"sshd for {h.address}:{h.ssh_port} not answering after {timeout:g}s"
                f"\n{_tail(h.sshd_log)}"
            )
        time.sleep(0.02)


def child_pids(pid: int) -> list[int]:
    """The pids whose parent is pid (from /proc)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    """Every live descendant of pid, parents before their children (from /proc)."""
    found: list[int] = []
    frontier = [pid]
    while frontier:
        children = [c for p in frontier for c in child_pids(p)]
        found.extend(children)
        frontier = children
    return found


def _signal_all(pids: list[int], sig: signal.Signals = signal.SIGTERM) -> None:
    """Send sig to each pid that still exists."""
    for pid in pids:
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            pass


def _stop_sshd(h: AppHost) -> None:
    """Stop this host's sshd: its sessions leaves first (so each parent reaps), then itself."""
    if h.sshd is None:
        return
    listener = h.sshd.pid
    deadline = time.monotonic() + 5
    while h.sshd.poll() is None and time.monotonic() < deadline:
        tree = descendants(listener)
        if not tree:
            break
        leaves = [pid for pid in tree if not child_pids(pid)]
        _signal_all(leaves, signal.SIGKILL if time.monotonic() > deadline - 2 else signal.SIGTERM)
        time.sleep(0.02)
    _terminate(h.sshd)
    h.sshd = None


def _terminate(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM proc, SIGKILL it if it lingers, and reap it."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)


def _tail(path: Path, lines: int = 40) -> str:
    """The last lines of a log file, for an error message."""
    if not path.exists():
        return f"({path} does not exist)"
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return f"--- {path} ---\n" + "\n".join(text)


def _nginx_conf(lab: AppLab) -> str:
    """nginx.conf: a server block per host, a maintenance page, /health and /version."""
    d = lab.nginx_dir
    temp_paths = "".join(
        f"    {kind}_temp_path {d / 'temp' / kind};\n"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    servers = "".join(
        f"""
    server {{
        listen {h.address}:{lab.http_port};
        server_name _;
        root {h.root / 'public'};
        index index.html;
        error_page 503 /maintenance.html;

        location = /maintenance.html {{
            internal;
        }}
        location / {{
            if (-f {h.root}/maintenance.on) {{ return 503; }}
            try_files $uri $uri/ =404;
        }}
        location = /health {{
            default_type text/plain;
            if (-f {h.root}/unhealthy) {{ return 500 "unhealthy\\n"; }}
            if (!-f {h.root}/release) {{ return 500 "no release\\n"; }}
            alias {h.root}/release;
        }}
        location = /version {{
            default_type text/plain;
            alias {h.root}/release;
        }}
    }}
"""
        for h in lab.hosts
    )
    user = "user root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
pid {d / 'nginx.pid'};
error_log {d / 'error.log'} notice;

events {{
    worker_connections 64;
}}

http {{
    access_log {d / 'access.log'};
{temp_paths}    types {{
        text/html html;
        text/plain txt;
    }}
    default_type application/octet-stream;
    server_tokens off;
    etag off;
    add_header Cache-Control no-store always;
{servers}}}
"""


def _start_nginx(lab: AppLab) -> None:
    """Start nginx in the foreground with the lab's own prefix, config, pid file and logs."""
    d = lab.nginx_dir
    (d / "temp").mkdir(parents=True, exist_ok=True)
    conf = d / "nginx.conf"
    conf.write_text(_nginx_conf(lab), encoding="utf-8")
    with open(d / "stderr.log", "ab") as stderr:
        lab.nginx = subprocess.Popen(
            [
                str(NGINX),
                "-p",
                f"{d}/",
                "-c",
                str(conf),
                "-e",
                str(d / "error.log"),
                "-g",
                "daemon off;",
            ],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            start_new_session=True,
        )


def _wait_nginx(lab: AppLab, timeout: float = START_TIMEOUT) -> None:
    """Wait until every host's /health answers 200; raise with nginx's log if it does not."""
    assert lab.nginx is not None
    deadline = time.monotonic() + timeout
    pending = [h.address for h in lab.hosts]
    last = ""
    while pending:
        if lab.nginx.poll() is not None:
            raise RuntimeError(
                f"nginx exited with {lab.nginx.returncode}\n"
                f"{_tail(lab.nginx_dir / 'stderr.log')}\n"
                f"{_tail(lab.nginx_dir / 'error.log')}"
            )
        try:
            status, body = http_get(lab.url(pending[0], "/health"), timeout=1)
            if status == 200:
                pending.pop(0)
                continue
            last = f"{status} {body!r}"
        except OSError as e:
            last = str(e)
        if time.monotonic() > deadline:
            raise RuntimeError(
                f"nginx not answering on {pending[0]}:{lab.http_port} after "
                f"{timeout:g}s ({last})\n{_tail(lab.nginx_dir / 'error.log')}"
            )
        time.sleep(0.02)


def start_app_lab(parent: Path | None = None) -> AppLab:
    """Build and start the lab under a new temp dir; on any failure stop what started and raise."""
    for program in (SSHD, NGINX):
        if not program.is_file():
            raise RuntimeError(
                f"{program} not found: install openssh-server and nginx (.ci/run does)"
            )
    base = Path(tempfile.mkdtemp(prefix="pgcutover-applab-", dir=parent)).resolve()
    ssh_ports, http_port = _reserve_ports(len(ADDRESSES), ADDRESSES)
    client = base / "client"
    client.mkdir()
    hosts = []
    for address, port in zip(ADDRESSES, ssh_ports, strict=True):
        root = base / address / "app"
        (root / "bin").mkdir(parents=True)
        (root / "public").mkdir()
        (base / address / "sshd").mkdir()
        hosts.append(AppHost(address, port, root, base / address / "sshd"))
    lab = AppLab(
        base=base,
        user=_current_user(),
        hosts=tuple(hosts),
        http_port=http_port,
        key=client / "id_ed25519",
        known_hosts=client / "known_hosts",
        ssh_config=client / "ssh_config",
        nginx_dir=base / "nginx",
    )
    try:
        _keygen([lab.key] + [h.sshd_dir / "ssh_host_ed25519_key" for h in lab.hosts])
        authorized_keys = client / "authorized_keys"
        authorized_keys.write_text((client / "id_ed25519.pub").read_text(), encoding="utf-8")
        for h in lab.hosts:
            pub = (h.sshd_dir / "ssh_host_ed25519_key.pub").read_text(encoding="utf-8").split()
            h.host_public_key = f"{pub[0]} {pub[1]}"
            _write_sshd_config(h, lab.user, authorized_keys)
            for name, text in SCRIPTS.items():
                script = h.root / "bin" / name
                script.write_text(text, encoding="utf-8")
                script.chmod(0o755)
            (h.root / "public" / "index.html").write_text(_index_html(h.address), encoding="utf-8")
            (h.root / "public" / "maintenance.html").write_text(MAINTENANCE_HTML, encoding="utf-8")
            (h.root / "release").write_text(INITIAL_RELEASE + "\n", encoding="utf-8")
        lab.known_hosts.write_text(
            "".join(h.known_hosts_line + "\n" for h in lab.hosts), encoding="utf-8"
        )
        lab.ssh_config.write_text(
            "".join(
                f"""Host {h.address}
    HostName {h.address}
    Port {h.ssh_port}
    User {lab.user}
    IdentityFile {lab.key}
    IdentitiesOnly yes
    UserKnownHostsFile {lab.known_hosts}
    GlobalKnownHostsFile /dev/null
    StrictHostKeyChecking yes
    BatchMode yes
    ConnectTimeout 5
"""
                for h in lab.hosts
            ),
            encoding="utf-8",
        )
        for h in lab.hosts:
            _start_sshd(h)
        _start_nginx(lab)
        for h in lab.hosts:
            _wait_sshd(h)
        _wait_nginx(lab)
    except BaseException:
        lab.stop()
        raise
    return lab


@contextmanager
def running_app_lab(parent: Path | None = None) -> Iterator[AppLab]:
    """The lab for the block; stopped and removed afterwards, even on failure or interrupt."""
    with ExitStack() as stack:
        lab = start_app_lab(parent)
        stack.callback(lab.stop)
        atexit.register(lab.stop)  # a safety net should the block never be left normally
        stack.callback(atexit.unregister, lab.stop)
        yield lab


@pytest.fixture(scope="session")
def app_lab() -> Iterator[AppLab]:
    """The session's app lab; tests that change its state should use fresh_app_lab instead."""
    with running_app_lab() as lab:
        yield lab


@pytest.fixture
def fresh_app_lab(app_lab: AppLab) -> AppLab:
    """The session's app lab, reset to its initial state (v1, healthy, no maintenance)."""
    app_lab.reset()
    return app_lab
