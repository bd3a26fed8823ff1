"""App hosts over SSH on the real lab: parsing, host keys, timeouts, errors that name the host."""

from __future__ import annotations

import json
import os
import pwd
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from lab import AppLab, http_get, http_status

from pgcutover.app_host_settings import HostEntry, parse_app_hosts
from pgcutover.errors import CutoverError
from pgcutover.hosts import (
    LocalHost,
    app_hosts,
    open_hosts,
    run_checked,
    run_on,
    unreachable,
)
from pgcutover.journal import Journal, read_journal
from pgcutover.settings import PROJECT_ROOT, Settings, load_settings
from pgcutover.ssh import QuietKillRemote, SshHost
from pgcutover.urlcheck import check_url

A = "127.0.0.1"


def settings_with(tmp_path: Path, **env: str) -> Settings:
    """Settings from an environment of our own (never the operator's)."""
    return load_settings(
        None, base_dir=tmp_path, environ={"DATABASE_URL": "postgresql:///x", **env}
    )


def ssh_host(lab: AppLab, address: str, config: Path | None = None) -> SshHost:
    """An SshHost for one lab host, as APP_HOSTS names it, with the lab's (or another) config."""
    entry = parse_app_hosts(lab.app_hosts)[[h.address for h in lab.hosts].index(address)]
    return SshHost(entry, ssh_config=config or lab.ssh_config)


@pytest.fixture
def host_a(app_lab: AppLab) -> Iterator[SshHost]:
    host = ssh_host(app_lab, "127.0.0.1")
    try:
        yield host
    finally:
        host.close()


def accepted(lab: AppLab, address: str) -> int:
    """How many SSH logins the host's sshd has accepted so far (its log)."""
    return lab.host(address).sshd_log.read_text().count("Accepted publickey")


def lab_config(lab: AppLab, tmp_path: Path, **options: str) -> Path:
    """A copy of the lab's ssh_config with some options replaced in every Host block."""
    out = []
    for line in lab.ssh_config.read_text().splitlines():
        key = line.strip().split(" ")[0]
        out.append(f"    {key} {options[key]}" if key in options else line)
    path = tmp_path / "ssh_config"
    path.write_text("\n".join(out) + "\n")
    return path


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("app1", [HostEntry("app1", "app1")]),
        (
            "deploy@app1.example.net",
            [HostEntry("deploy@app1.example.net", "app1.example.net", "deploy")],
        ),
        (
            " deploy@10.0.0.5:2222 , app2:22",
            [
                HostEntry("deploy@10.0.0.5:2222", "10.0.0.5", "deploy", 2222),
                HostEntry("app2:22", "app2", None, 22),
            ],
        ),
        (
            "ops@[2001:db8::1]:2200",
            [HostEntry("ops@[2001:db8::1]:2200", "2001:db8::1", "ops", 2200)],
        ),
        ("[fe80::1%eth0]", [HostEntry("[fe80::1%eth0]", "fe80::1%eth0")]),
        ("", []),
    ],
)
def test_app_hosts_entries_parse(raw: str, expected: list[HostEntry]) -> None:
    assert list(parse_app_hosts(raw)) == expected


def test_ipv6_goes_in_brackets_in_urls() -> None:
    (entry,) = parse_app_hosts("[2001:db8::1]:22")
    assert entry.url_host == "[2001:db8::1]" and parse_app_hosts("a:1")[0].url_host == "a"


@pytest.mark.parametrize(
    ("env", "cause"),
    [
        ({"APP_HOSTS": "app1,,app2"}, "has an empty entry"),
        ({"APP_HOSTS": "app1, bad host"}, "APP_HOSTS entry 'bad host' is not [user@]host[:port]"),
        ({"APP_HOSTS": "app1:0"}, "APP_HOSTS entry 'app1:0': port 0 is not 1 to 65535"),
        ({"APP_HOSTS": "app1:70000"}, "port 70000 is not 1 to 65535"),
        ({"APP_HOSTS": "app1:ssh"}, "APP_HOSTS entry 'app1:ssh' is not"),
        ({"APP_HOSTS": "@app1"}, "APP_HOSTS entry '@app1' is not"),
        ({"APP_HOSTS": "2001:db8::1"}, "an IPv6 address goes in brackets"),
        ({"APP_HOSTS": "[2001::db8::1]"}, "is not an IPv6 address"),
        ({"APP_HOSTS": "a@app1:22,b@app1:2222"}, "names host app1 twice"),
        ({"HEALTHCHECK_URL": "http://{hostname}/health"}, "only placeholder allowed is {host}"),
        ({"MAINTENANCE_CHECK_URL": "http://{host}:{port}/"}, "MAINTENANCE_CHECK_URL"),
        ({"MAINTENANCE_CHECK_URL": "ftp://{host}/"}, "is not an http:// or https:// URL"),
        ({"HEALTHCHECK_URL": "http://{host}:99999/"}, "HEALTHCHECK_URL"),
        ({"HEALTHCHECK_URL": "http://{host}:0/"}, "port 0 is no port to ask"),
        ({"HEALTHCHECK_URL": "http://{host}/he alth"}, "holds whitespace"),
        ({"SSH_CONNECT_TIMEOUT": "0"}, "SSH_CONNECT_TIMEOUT='0' must be a number of seconds"),
        ({"SSH_CONNECT_TIMEOUT": "nan"}, "SSH_CONNECT_TIMEOUT='nan'"),
        ({"SSH_CONNECT_TIMEOUT": "soon"}, "SSH_CONNECT_TIMEOUT='soon' is not a number"),
        ({"MAINTENANCE_CHECK_TIMEOUT": "-1"}, "MAINTENANCE_CHECK_TIMEOUT"),
    ],
)
def test_bad_host_settings_are_config_errors_naming_them(
    tmp_path: Path, env: dict[str, str], cause: str
) -> None:
    with pytest.raises(CutoverError) as caught:
        settings_with(tmp_path, **env)
    assert caught.value.step == "config" and cause in caught.value.cause, caught.value.cause


def test_unset_app_hosts_means_this_machine(tmp_path: Path) -> None:
    hosts = app_hosts(settings_with(tmp_path))
    assert hosts == [LocalHost()] and hosts[0].run("echo hi", timeout_s=5).stdout == "hi\n"


def test_each_host_runs_its_own_commands_over_one_connection(
    app_lab: AppLab, tmp_path: Path
) -> None:
    """APP_HOSTS with SSH_CONFIG: user, port, key and known_hosts come as OpenSSH takes them."""
    settings = settings_with(
        tmp_path, APP_HOSTS=app_lab.app_hosts, SSH_CONFIG=str(app_lab.ssh_config)
    )
    logins = {h.address: accepted(app_lab, h.address) for h in app_lab.hosts}
    with open_hosts(settings) as hosts:
        assert [h.name for h in hosts] == ["127.0.0.1", "127.0.0.2"]
        for host in hosts:
            for _ in range(3):
                out = run_checked("t", host, 'printf %s "$APP_ROOT"', timeout_s=10)
                assert out == str(app_lab.app_roots[host.name])
    time.sleep(0.2)  # sshd writes its log line as it accepts
    # Three commands per host, one login per host: the connection is reused within a step.
    assert {h.address: accepted(app_lab, h.address) - logins[h.address] for h in app_lab.hosts} == {
        "127.0.0.1": 1,
        "127.0.0.2": 1,
    }


def test_ssh_config_supplies_what_the_entry_leaves_out(app_lab: AppLab) -> None:
    """A bare `127.0.0.2` gets its Port, User and IdentityFile from the ssh_config's Host block."""
    host = SshHost(parse_app_hosts("127.0.0.2")[0], ssh_config=app_lab.ssh_config)
    try:
        result = host.run('id -un; printf %s "$APP_ROOT"', timeout_s=10)
    finally:
        host.close()
    assert result.exit_code == 0, result
    assert result.stdout == f"{app_lab.user}\n{app_lab.app_roots['127.0.0.2']}"


def test_a_chatty_command_is_read_whole_and_in_time(app_lab: AppLab) -> None:
    # invoke joined all the output so far for each chunk it read: 20 MB took 41 s.
    host = SshHost(parse_app_hosts("127.0.0.2")[0], ssh_config=app_lab.ssh_config)
    try:
        result = host.run("head -c 20000000 /dev/zero | tr '\\0' x; echo", timeout_s=60)
    finally:
        host.close()
    assert result.exit_code == 0, result.stderr
    assert result.stdout.count("x") == 20_000_000, len(result.stdout)


@pytest.mark.parametrize("strict", ["yes", "no", "accept-new"])
def test_unknown_host_key_is_refused_never_added(
    app_lab: AppLab, tmp_path: Path, strict: str
) -> None:
    """Whatever StrictHostKeyChecking says, a host key no known_hosts lists stops the connection."""
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    config = lab_config(
        app_lab, tmp_path, UserKnownHostsFile=str(empty), StrictHostKeyChecking=strict
    )
    before = accepted(app_lab, "127.0.0.2")
    host = ssh_host(app_lab, "127.0.0.2", config)
    try:
        result = host.run("touch /tmp/should-never-run", timeout_s=10)
    finally:
        host.close()
    assert result.exit_code == 255 and result.host == "127.0.0.2"
    assert "unknown host key" in result.error and str(empty) in result.error, result.error
    assert "SHA256:" in result.error and "refused, nothing added" in result.error
    assert empty.read_text() == "", "the key must never be written to known_hosts"
    assert accepted(app_lab, "127.0.0.2") == before, "no login may happen"
    with pytest.raises(CutoverError) as caught:
        run_checked("preflight", ssh_host(app_lab, "127.0.0.2", config), "true", timeout_s=10)
    assert str(caught.value).startswith("preflight: 127.0.0.2: cannot connect over SSH")


def test_changed_host_key_is_refused(app_lab: AppLab, tmp_path: Path) -> None:
    a, b = app_lab.hosts
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"[{b.address}]:{b.ssh_port} {a.host_public_key}\n")
    host = ssh_host(
        app_lab, "127.0.0.2", lab_config(app_lab, tmp_path, UserKnownHostsFile=str(wrong))
    )
    try:
        result = host.run("true", timeout_s=10)
    finally:
        host.close()
    assert result.exit_code == 255 and "host key mismatch" in result.error, result.error


def test_proxyjump_hop_with_unknown_key_is_refused(app_lab: AppLab, tmp_path: Path) -> None:
    """A ProxyJump hop is a connection of its own: its key is checked too (fabric would add it)."""
    a, b = app_lab.hosts
    only_b = tmp_path / "known_hosts_b"
    only_b.write_text(b.known_hosts_line + "\n")
    both = tmp_path / "known_hosts_both"
    both.write_text(a.known_hosts_line + "\n" + b.known_hosts_line + "\n")
    for known, ok in ((both, True), (only_b, False)):
        config = lab_config(app_lab, tmp_path, UserKnownHostsFile=str(known))
        text = config.read_text().replace(
            "Host 127.0.0.2\n", "Host 127.0.0.2\n    ProxyJump 127.0.0.1\n"
        )
        config.write_text(text)
        host = ssh_host(app_lab, "127.0.0.2", config)
        try:
            result = host.run('printf %s "$APP_ROOT"', timeout_s=10)
        finally:
            host.close()
        if ok:
            assert result.stdout == str(b.root), result
        else:
            assert "unknown host key: [127.0.0.1]" in result.error, result.error


def test_refused_client_key_names_the_host(app_lab: AppLab, tmp_path: Path) -> None:
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    config = lab_config(app_lab, tmp_path, IdentityFile=str(other))
    with pytest.raises(CutoverError) as caught:
        run_checked("maintenance-on", ssh_host(app_lab, "127.0.0.1", config), "true", timeout_s=10)
    assert str(caught.value).startswith("maintenance-on: 127.0.0.1: cannot connect over SSH")
    assert "authentication refused" in str(caught.value)


def test_a_timeout_is_one_even_when_invoke_misses_its_own_timer(
    host_a: SshHost, monkeypatch: pytest.MonkeyPatch
) -> None:
    # invoke asks whether its timer thread has ended right after that thread closed the channel;
    # when the thread has not ended yet, it reports no timeout, only a result without an exit
    # status (seen on CI). Reproduced here by invoke's answer to that question; the rest is real.
    monkeypatch.setattr(QuietKillRemote, "timed_out", property(lambda self: False))
    result = host_a.run("sleep 30", timeout_s=1)
    assert result.exit_code == 124 and "timed out after 1s" in result.stderr, result
    monkeypatch.undo()
    assert host_a.run("echo again", timeout_s=10).stdout == "again\n"


def test_command_timeout_ends_the_command_and_the_host_stays_usable(host_a: SshHost) -> None:
    started = time.monotonic()
    result = host_a.run("sleep 30", timeout_s=1)
    assert time.monotonic() - started < 20  # cut well before the 30 s sleep
    assert result.exit_code == 124 and "timed out after 1s" in result.stderr
    with pytest.raises(CutoverError, match=r"^deploy-app: 127\.0\.0\.1: `sleep 30` exited 124: "):
        run_checked("deploy-app", host_a, "sleep 30", timeout_s=1)
    assert host_a.run("echo again", timeout_s=10).stdout == "again\n"


def test_a_command_cut_at_its_timeout_never_lands_on_the_host(
    host_a: SshHost, tmp_path: Path
) -> None:
    # OpenSSH signals no command without a terminal when its channel closes: it would run on.
    landed, child = tmp_path / "landed", tmp_path / "child.pid"
    result = host_a.run(f"(sleep 3; touch {landed}) & echo $! > {child}; wait", timeout_s=1)
    assert result.exit_code == 124, result
    time.sleep(3)
    assert not landed.exists(), "the command ran on after its timeout"
    assert not Path(f"/proc/{child.read_text().strip()}").exists()  # its children ended too
    # The status and the output stay the command's own.
    result = host_a.run("echo out; echo err >&2; exit 7", timeout_s=10)
    assert (result.exit_code, result.stdout, result.stderr) == (7, "out\n", "err\n")


def test_commands_run_in_the_login_shell_as_sshd_would_run_them(host_a: SshHost) -> None:
    shell = pwd.getpwuid(os.getuid()).pw_shell  # the lab logs in as this user
    result = host_a.run('echo "$0"; [ -t 0 ] || echo no-terminal', timeout_s=10)
    assert result.stdout.split() == [shell, "no-terminal"], result


def test_connect_timeout_on_a_port_that_never_speaks_ssh(tmp_path: Path) -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        settings = settings_with(
            tmp_path, APP_HOSTS=f"nobody@127.0.0.1:{port}", SSH_CONNECT_TIMEOUT="1"
        )
        (host,) = app_hosts(settings)
        started = time.monotonic()
        result = host.run("true", timeout_s=30)
        host.close()
    assert time.monotonic() - started < 20  # well before the 30 s command timeout
    assert result.exit_code == 255 and "no SSH answer within 1s" in result.error, result.error


def test_unreachable_hosts_are_each_named(fresh_app_lab: AppLab, tmp_path: Path) -> None:
    lab = fresh_app_lab
    settings = settings_with(tmp_path, APP_HOSTS=lab.app_hosts, SSH_CONFIG=str(lab.ssh_config))
    journal = Journal(tmp_path / "run", "r1")
    journal.open()
    with lab.refuse_ssh("127.0.0.2"), open_hosts(settings) as hosts:
        causes = unreachable("preflight", hosts, journal=journal)
    assert len(causes) == 1 and causes[0].startswith("127.0.0.2: cannot connect over SSH"), causes
    assert "connection refused" in causes[0]
    lines = [ln for ln in read_journal(journal.path) if ln["event"] == "host"]
    assert [(ln["host"], ln["command"], ln["exit"]) for ln in lines] == [
        ("127.0.0.1", "true", 0),
        ("127.0.0.2", "true", 255),
    ]
    assert "connection refused" in lines[1]["error"]


def test_failed_command_names_host_and_its_output_is_journaled(
    fresh_app_lab: AppLab, tmp_path: Path
) -> None:
    lab = fresh_app_lab
    lab.fail_deploy("127.0.0.2", "disk full on app2")
    journal = Journal(tmp_path / "run", "r1")
    journal.open()
    host = ssh_host(lab, "127.0.0.2")
    secret = "s3cr3t-pw-xyz"
    try:
        with pytest.raises(CutoverError) as caught:
            run_checked(
                "deploy-app",
                host,
                f'seq 1 500; echo "postgresql://u:{secret}@db/x"; "$APP_ROOT/bin/deploy" v2',
                timeout_s=10,
                journal=journal,
            )
    finally:
        host.close()
    assert str(caught.value).startswith("deploy-app: 127.0.0.2: `seq 1 500; echo")
    assert str(caught.value).endswith(
        f"exited 3: deploy: v2 failed on {lab.app_roots['127.0.0.2']}: disk full on app2"
    )
    assert secret not in str(caught.value)
    (line,) = [ln for ln in read_journal(journal.path) if ln["event"] == "host"]
    assert line["host"] == "127.0.0.2" and line["exit"] == 3
    assert "disk full on app2" in line["stderr"]
    assert line["stdout"].splitlines()[0] == "482"  # only the last 20 lines are kept
    assert secret not in json.dumps(line) and "postgresql://u:***@db/x" in line["stdout"]
    assert lab.release_of("127.0.0.2") == "v1"


def test_url_checks_see_the_maintenance_page(fresh_app_lab: AppLab, host_a: SshHost) -> None:
    lab = fresh_app_lab
    url = lab.url("127.0.0.1")
    assert check_url("t", host_a, url, expect="2xx", timeout_s=2).endswith("HTTP 200")
    run_checked("t", host_a, '"$APP_ROOT/bin/maintenance" on', timeout_s=10)
    assert http_status(url) == 503
    assert check_url("t", host_a, url, expect="503", timeout_s=2).endswith("HTTP 503")
    started = time.monotonic()
    with pytest.raises(
        CutoverError, match=r"^t: 127\.0\.0\.1: http://.* answered HTTP 503, not 2xx"
    ):
        check_url("t", host_a, url, expect="2xx", timeout_s=1.5)
    assert 1.4 < time.monotonic() - started < 20  # polled until its time was up
    run_on("t", host_a, '"$APP_ROOT/bin/maintenance" off', timeout_s=10)
    assert not lab.in_maintenance("127.0.0.1")


def test_shipped_nginx_snippet_serves_the_maintenance_page(
    fresh_app_lab: AppLab, tmp_path: Path
) -> None:
    """runbooks/nginx-maintenance.conf in a real nginx: the flag file turns the page 503, back."""
    lab = fresh_app_lab
    root = lab.app_roots[A]
    snippet = (PROJECT_ROOT / "runbooks" / "nginx-maintenance.conf").read_text()
    (tmp_path / "snippet.conf").write_text(snippet.replace("/srv/app", str(root)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    temp = "".join(f"{k}_temp_path {tmp_path}/{k};\n" for k in ("client_body", "proxy", "fastcgi"))
    conf = tmp_path / "nginx.conf"
    conf.write_text(
        ("user root;\n" if os.geteuid() == 0 else "")
        + f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        + f"http {{\n{temp}access_log off;\ntypes {{ text/html html; }}\n"
        + f"server {{\nlisten 127.0.0.1:{port};\nroot {root}/public;\n"
        + f"include {tmp_path}/snippet.conf;\n"
        + "location / { try_files $uri $uri/index.html =404; }\n"
        + f"location = /health {{ default_type text/plain; alias {root}/release; }}\n}}\n}}\n"
    )
    nginx = subprocess.Popen(
        ["/usr/sbin/nginx", "-p", f"{tmp_path}/", "-c", str(conf), "-g", "daemon off;"],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    host = ssh_host(lab, A)
    try:
        site = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:  # nginx failing to start fails the test, never skips it
            assert nginx.poll() is None, nginx.stderr.read() if nginx.stderr else ""
            try:
                if http_status(site + "/", timeout=1) == 200:
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "error.log").read_text()
            time.sleep(0.05)
        run_checked("t", host, '"$APP_ROOT/bin/maintenance" on', timeout_s=10)
        for path in ("/", "/index.html", "/anything/else"):
            status, body = http_get(site + path)
            assert status == 503 and "Down for maintenance" in body, (path, status, body)
        assert http_get(site + "/health") == (200, "v1\n")  # the checks still pass through
        check_url("t", host, site + "/", expect="503", timeout_s=2)
        run_checked("t", host, '"$APP_ROOT/bin/maintenance" off', timeout_s=10)
        status, body = http_get(site + "/")
        assert status == 200 and f"app on {A}" in body
    finally:
        host.close()
        nginx.terminate()
        nginx.wait(10)
        if nginx.stderr:
            nginx.stderr.close()
