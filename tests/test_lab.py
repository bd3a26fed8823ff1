"""The app lab is real: sshd per host, nginx with a maintenance page, and the app's scripts."""

from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import fabric
import paramiko
import pytest
from lab import MAINTENANCE_TITLE, AppLab, child_pids, http_get, http_status, running_app_lab

HOSTS = ("127.0.0.1", "127.0.0.2")


def run(
    lab: AppLab, host: str, command: str, known_hosts: Path | None = None
) -> fabric.runners.Result:
    """Run command on host over SSH as the product will, without raising on a non-zero exit."""
    c = lab.connection(host, known_hosts)
    try:
        return c.run(command, hide=True, warn=True, in_stream=False)
    finally:
        c.client.close()  # fabric's close() skips a client whose open() failed
        c.close()


def test_lab_exposes_app_hosts_and_private_ssh_files(app_lab: AppLab) -> None:
    """APP_HOSTS, known_hosts and ssh_config are the usual formats, and hold only this lab."""
    a, b = app_lab.hosts
    assert [h.address for h in app_lab.hosts] == list(HOSTS)
    user = app_lab.user
    assert app_lab.app_hosts == f"{user}@127.0.0.1:{a.ssh_port},{user}@127.0.0.2:{b.ssh_port}"
    assert a.ssh_port != b.ssh_port
    lines = app_lab.known_hosts.read_text().splitlines()
    assert [line.split()[0] for line in lines] == [
        f"[127.0.0.1]:{a.ssh_port}",
        f"[127.0.0.2]:{b.ssh_port}",
    ]
    assert all(line.split()[1] == "ssh-ed25519" for line in lines)
    config = paramiko.SSHConfig.from_path(str(app_lab.ssh_config))
    for h in app_lab.hosts:
        entry = config.lookup(h.address)
        assert entry["port"] == str(h.ssh_port) and entry["user"] == app_lab.user
        assert entry["identityfile"] == [str(app_lab.key)]
        assert entry["userknownhostsfile"] == str(app_lab.known_hosts)
        assert entry["stricthostkeychecking"] == "yes" and entry["identitiesonly"] == "yes"
    assert app_lab.key.is_file() and app_lab.key.with_suffix(".pub").is_file()
    assert app_lab.app_roots == {h.address: h.root for h in app_lab.hosts}
    assert app_lab.url_template.format(host="127.0.0.2") == f"http://127.0.0.2:{app_lab.http_port}"


def test_each_host_knows_its_app_root_over_fabric(app_lab: AppLab) -> None:
    """`echo $APP_ROOT` over fabric, set up exactly as the product does, names the host's dir."""
    for h in app_lab.hosts:
        with app_lab.connection(h) as c:
            result = c.run("echo $APP_ROOT", hide=True, in_stream=False)
        assert result.stdout.strip() == str(h.root)
        assert h.root.is_dir() and (h.root / "bin" / "deploy").is_file()


def test_maintenance_page_on_and_off(fresh_app_lab: AppLab) -> None:
    """`bin/maintenance on` serves the maintenance page (503) on that host; `off`: 200."""
    lab = fresh_app_lab
    for host in HOSTS:
        assert http_status(lab.url(host)) == 200 and not lab.in_maintenance(host)
    for _ in range(2):  # idempotent
        result = run(lab, "127.0.0.1", '"$APP_ROOT/bin/maintenance" on')
        assert result.exited == 0, result.stderr
    assert lab.in_maintenance("127.0.0.1") and not lab.in_maintenance("127.0.0.2")
    for path in ("/", "/index.html", "/anything"):
        status, body = http_get(lab.url("127.0.0.1", path))
        assert status == 503 and f"<title>{MAINTENANCE_TITLE}</title>" in body, (path, status, body)
    assert http_status(lab.url("127.0.0.2")) == 200
    # The health and version endpoints answer through maintenance (checks before lifting it).
    assert http_get(lab.url("127.0.0.1", "/health")) == (200, "v1\n")
    assert run(lab, "127.0.0.1", '"$APP_ROOT/bin/maintenance" status').stdout == "on\n"
    for _ in range(2):
        assert run(lab, "127.0.0.1", '"$APP_ROOT/bin/maintenance" off').exited == 0
    assert not lab.in_maintenance("127.0.0.1")
    status, body = http_get(lab.url("127.0.0.1"))
    assert status == 200 and "app on 127.0.0.1" in body


def test_deploy_changes_that_host_only(fresh_app_lab: AppLab) -> None:
    """`bin/deploy v2` on one host changes its /version, bin/version and release, not the other."""
    lab = fresh_app_lab
    result = run(lab, "127.0.0.2", '"$APP_ROOT/bin/deploy" v2')
    assert result.exited == 0, result.stderr
    assert http_get(lab.url("127.0.0.2", "/version")) == (200, "v2\n")
    assert http_get(lab.url("127.0.0.1", "/version")) == (200, "v1\n")
    assert lab.release_of("127.0.0.2") == "v2" and lab.release_of("127.0.0.1") == "v1"
    assert run(lab, "127.0.0.2", '"$APP_ROOT/bin/version"').stdout == "v2\n"
    assert run(lab, "127.0.0.1", '"$APP_ROOT/bin/version"').stdout == "v1\n"
    assert run(lab, "127.0.0.2", '"$APP_ROOT/bin/deploy" v2').exited == 0  # idempotent
    assert http_get(lab.url("127.0.0.2", "/health")) == (200, "v2\n")


def test_unhealthy_release_fails_health(fresh_app_lab: AppLab) -> None:
    """A release named *unhealthy* makes /health 500; deploying a good one makes it 200 again."""
    lab = fresh_app_lab
    assert run(lab, "127.0.0.1", '"$APP_ROOT/bin/deploy" v3-unhealthy').exited == 0
    assert http_status(lab.url("127.0.0.1", "/health")) == 500
    assert http_get(lab.url("127.0.0.1", "/version")) == (200, "v3-unhealthy\n")
    assert lab.is_unhealthy("127.0.0.1")
    assert http_status(lab.url("127.0.0.2", "/health")) == 200
    assert run(lab, "127.0.0.1", '"$APP_ROOT/bin/deploy" v4').exited == 0
    assert http_get(lab.url("127.0.0.1", "/health")) == (200, "v4\n")
    (lab.host("127.0.0.1").root / "release").unlink()
    assert http_status(lab.url("127.0.0.1", "/health")) == 500
    assert run(lab, "127.0.0.1", '"$APP_ROOT/bin/version"').exited == 1


def test_failing_deploy_exits_3_and_changes_nothing(fresh_app_lab: AppLab) -> None:
    """With fail-deploy present, `bin/deploy` exits 3, says why on stderr, keeps the release."""
    lab = fresh_app_lab
    lab.fail_deploy("127.0.0.2", "disk full")
    result = run(lab, "127.0.0.2", '"$APP_ROOT/bin/deploy" v2')
    assert result.exited == 3 and "disk full" in result.stderr and result.stdout == ""
    assert lab.release_of("127.0.0.2") == "v1"
    assert http_get(lab.url("127.0.0.2", "/version")) == (200, "v1\n")


@pytest.mark.parametrize(
    ("command", "code"),
    [
        ('"$APP_ROOT/bin/maintenance" sideways', 2),
        ('"$APP_ROOT/bin/maintenance"', 2),
        ('"$APP_ROOT/bin/deploy"', 2),
        ('"$APP_ROOT/bin/deploy" "v2; rm -rf /"', 2),
        ('"$APP_ROOT/bin/version" extra', 2),
    ],
)
def test_scripts_refuse_bad_usage(fresh_app_lab: AppLab, command: str, code: int) -> None:
    """The app's scripts refuse bad arguments with exit 2 and a message, changing nothing."""
    result = run(fresh_app_lab, "127.0.0.1", command)
    assert result.exited == code and result.stderr
    assert fresh_app_lab.release_of("127.0.0.1") == "v1"
    assert not fresh_app_lab.in_maintenance("127.0.0.1")


def test_unknown_host_key_is_refused(app_lab: AppLab, tmp_path: Path) -> None:
    """A known_hosts without the host is refused by RejectPolicy; a wrong key is a BadHostKey."""
    a, b = app_lab.hosts
    only_a = tmp_path / "known_hosts"
    only_a.write_text(a.known_hosts_line + "\n")
    with pytest.raises(paramiko.SSHException, match=r"not found in known_hosts"):
        run(app_lab, b.address, "true", known_hosts=only_a)
    assert run(app_lab, a.address, "true", known_hosts=only_a).exited == 0
    # b's address and port with a's key: a changed host key.
    wrong = tmp_path / "known_hosts_wrong"
    wrong.write_text(f"[{b.address}]:{b.ssh_port} {a.host_public_key}\n")
    with pytest.raises(paramiko.BadHostKeyException):
        run(app_lab, b.address, "true", known_hosts=wrong)


def test_other_client_key_is_refused(app_lab: AppLab, tmp_path: Path) -> None:
    """Only the lab's client key gets in (key auth only, no password fallback)."""
    other = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    h = app_lab.hosts[0]
    client = paramiko.SSHClient()  # not fabric: it adds the ssh_config's IdentityFile
    client.load_host_keys(str(app_lab.known_hosts))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    try:
        with pytest.raises(paramiko.AuthenticationException):
            client.connect(
                h.address,
                port=h.ssh_port,
                username=app_lab.user,
                key_filename=str(other),
                password="x",
                look_for_keys=False,
                allow_agent=False,
                timeout=5,
            )
    finally:
        client.close()
    assert "Failed publickey" in h.sshd_log.read_text()


def test_stopped_sshd_refuses_connections(fresh_app_lab: AppLab) -> None:
    """refuse_ssh stops one host's sshd (connection refused) and brings it back afterwards."""
    lab = fresh_app_lab
    with lab.refuse_ssh("127.0.0.2") as down:
        with pytest.raises(paramiko.ssh_exception.NoValidConnectionsError) as caught:
            run(lab, "127.0.0.2", "true")
        assert {e.errno for e in caught.value.errors.values()} == {errno.ECONNREFUSED}
        assert down.sshd is None
        assert run(lab, "127.0.0.1", "true").exited == 0
        assert http_status(lab.url("127.0.0.2")) == 200  # only SSH is down
    assert run(lab, "127.0.0.2", "echo $APP_ROOT").stdout.strip() == str(lab.host("127.0.0.2").root)


def test_plain_openssh_client_uses_the_config(app_lab: AppLab, tmp_path: Path) -> None:
    """`ssh -F ssh_config 127.0.0.2 true` works, and the config's strict host key checking holds."""

    def ssh(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ssh", "-F", str(app_lab.ssh_config), *args],
            capture_output=True,
            text=True,
            timeout=30,
            stdin=subprocess.DEVNULL,
        )

    done = ssh("127.0.0.2", "true")
    assert done.returncode == 0, done.stderr
    done = ssh("127.0.0.1", 'printf %s "$APP_ROOT"')
    assert done.stdout == str(app_lab.host("127.0.0.1").root), done.stderr
    empty = tmp_path / "empty_known_hosts"
    empty.write_text("")
    done = ssh("-o", f"UserKnownHostsFile={empty}", "127.0.0.2", "true")
    assert done.returncode == 255 and "Host key verification failed" in done.stderr


def test_teardown_stops_everything_even_on_failure(tmp_path: Path) -> None:
    """A lab whose block raises still stops its sshds and nginx and removes its directory."""
    with pytest.raises(RuntimeError, match="boom"):
        with running_app_lab(tmp_path) as lab:
            pids = [h.sshd.pid for h in lab.hosts if h.sshd] + [lab.nginx.pid if lab.nginx else 0]
            assert len(pids) == 3 and all(p > 0 for p in pids)
            workers = child_pids(pids[2])
            assert workers, "nginx has no worker"
            with lab.connection("127.0.0.1") as c:  # a live session, also to be ended
                c.open()
                raise RuntimeError("boom")
    for pid in pids + workers:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid), f"process {pid} survived"
    assert not lab.base.exists()
    refused = 0
    for h in lab.hosts:
        try:
            http_status(f"http://{h.address}:{lab.http_port}/", timeout=2)
        except ConnectionRefusedError:
            refused += 1
    assert refused == 2


def _is_zombie(pid: int) -> bool:
    """Whether pid is an exited process nobody has reaped yet."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] == "Z"
    except OSError:
        return True


def test_lab_runs_as_the_current_user(app_lab: AppLab) -> None:
    """Remote commands run as the user the lab names in APP_HOSTS."""
    assert run(app_lab, "127.0.0.1", "id -un").stdout.strip() == app_lab.user
    assert (os.geteuid() == 0) == (app_lab.user == "root")
