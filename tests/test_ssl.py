"""pg8000 honours libpq's sslmode as psycopg does, against real servers with and without TLS."""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from psycopg.conninfo import make_conninfo

from pgcutover.db import connect
from pgcutover.errors import CutoverError
from pgcutover.sandbox.cluster import SERVER_USER, LocalCluster
from pgcutover.settings import default_pg_bindir

DRIVERS = ["pg8000", "psycopg"]
CERT_USER = "cert_login"  # pg_hba lets it in by client certificate only
TLS_ONLY = "tls_only"  # pg_hba rejects it in plain text
TLS_ONLY_PASSWORD = "tls-only-pw-5c2e"
KEY_PASSWORD = "key-pw-81f0"
SERVER_FILES = ("server.crt", "server.key", "server-noip.crt", "server-noip.key", "ca.crt")


@pytest.fixture(autouse=True)
def hermetic_tls_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Keep the operator's ~/.postgresql and PGSSL*-style variables out of every test here."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    for var in list(os.environ):
        if var.startswith(("PGSSL", "PGGSS", "PGCHANNEL", "PGREQUIRE")):
            monkeypatch.delenv(var)


@dataclass(frozen=True)
class Pki:
    """Certificates made with the openssl CLI: two CAs, two server certs, one client cert."""

    dir: Path

    def __getitem__(self, name: str) -> str:
        return str(self.dir / name)


def _openssl(cwd: Path, *args: str) -> None:
    proc = subprocess.run(["openssl", *args], cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"openssl {args[0]} failed: {proc.stderr}"


def _new_key_args(name: str) -> list[str]:
    return [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        f"{name}.key",
    ]


def _make_ca(d: Path, name: str) -> None:
    _openssl(
        d,
        "req",
        "-x509",
        *_new_key_args(name),
        "-out",
        f"{name}.crt",
        "-days",
        "2",
        "-subj",
        f"/CN=pgcutover test {name}",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    )


def _issue(d: Path, name: str, cn: str, extensions: str) -> None:
    """Issue name.crt/name.key for cn, signed by ca."""
    _openssl(d, "req", "-new", *_new_key_args(name), "-out", f"{name}.csr", "-subj", f"/CN={cn}")
    (d / f"{name}.ext").write_text(extensions + "\n")
    _openssl(
        d,
        "x509",
        "-req",
        "-in",
        f"{name}.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-set_serial",
        str(secrets.randbits(62)),
        "-days",
        "2",
        "-out",
        f"{name}.crt",
        "-extfile",
        f"{name}.ext",
    )
    (d / f"{name}.key").chmod(0o600)  # libpq refuses a client key others can read


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    d = tmp_path_factory.mktemp("pki")
    _make_ca(d, "ca")
    _make_ca(d, "other-ca")
    _issue(
        d,
        "server",
        "localhost",
        "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
    )
    _issue(
        d, "server-noip", "localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth"
    )
    _issue(d, "client", CERT_USER, "extendedKeyUsage=clientAuth")
    _openssl(
        d,
        "pkey",
        "-in",
        "client.key",
        "-out",
        "client-enc.key",
        "-aes256",
        "-passout",
        f"pass:{KEY_PASSWORD}",
    )
    (d / "client-enc.key").chmod(0o600)
    return Pki(d)


def _install_server_file(src: Path, dest: Path) -> None:
    """Copy a server TLS file into the data directory, owned by the server's OS user, mode 0600."""
    shutil.copyfile(src, dest)
    dest.chmod(0o600)
    if os.geteuid() == 0:  # as root the server runs as SERVER_USER and must own its key
        user = pwd.getpwnam(SERVER_USER)
        os.chown(dest, user.pw_uid, user.pw_gid)


@pytest.fixture(scope="module")
def tls_cluster(pki: Pki) -> Iterator[LocalCluster]:
    """A second throwaway cluster with TLS on, destroyed at the end of the module."""
    bindir = default_pg_bindir()
    assert bindir is not None, "PostgreSQL server programs not found under /usr/lib/postgresql"
    c = LocalCluster(Path(tempfile.mkdtemp(prefix="pgcutover-tls-")), bindir)
    try:
        c.init(
            settings={
                "ssl": "on",
                "ssl_cert_file": "server.crt",
                "ssl_key_file": "server.key",
                "ssl_ca_file": "ca.crt",
            }
        )
        for name in SERVER_FILES:
            _install_server_file(pki.dir / name, c.datadir / name)
        hba = c.datadir / "pg_hba.conf"
        hba.write_text(
            f"hostssl all {CERT_USER} 127.0.0.1/32 cert\n"
            f"hostnossl all {TLS_ONLY} 127.0.0.1/32 reject\n" + hba.read_text()
        )
        c.start()
        admin = connect(c.superuser_url(), "psycopg", application_name="tests ssl admin")
        try:
            admin.execute(f"CREATE ROLE {CERT_USER} LOGIN")
            admin.execute(f"CREATE ROLE {TLS_ONLY} LOGIN PASSWORD '{TLS_ONLY_PASSWORD}'")
        finally:
            admin.close()
        yield c
    finally:
        c.destroy()
    assert not c.root.exists() and not c.home.exists()


def superuser_dsn(c: LocalCluster, **params: str) -> str:
    return make_conninfo(c.superuser_url(), **params)


def role_dsn(c: LocalCluster, user: str, **params: str) -> str:
    return make_conninfo(
        "",
        host=params.pop("host", "127.0.0.1"),
        port=str(c.port),
        user=user,
        dbname="postgres",
        **params,
    )


def session(dsn: str, driver: str) -> tuple[bool, str]:
    """Connect and return (pg_stat_ssl.ssl of this very session, current_user)."""
    db = connect(dsn, driver, application_name="tests ssl")
    try:
        row = db.query(
            "SELECT s.ssl, current_user::text FROM pg_stat_ssl s WHERE s.pid = pg_backend_pid()"
        )[0]
        return bool(row[0]), str(row[1])
    finally:
        db.close()


def uses_tls(dsn: str, driver: str) -> bool:
    return session(dsn, driver)[0]


def refusal(dsn: str, driver: str) -> CutoverError:
    """Return the CutoverError connecting raises; fail if it connects."""
    with pytest.raises(CutoverError) as info:
        connect(dsn, driver, application_name="tests ssl").close()
    assert "\n" not in str(info.value)
    return info.value


def assert_no_tls_refusal(err: CutoverError, driver: str, mode: str) -> None:
    """Check err is the refusal of a server that does not offer TLS when mode requires it."""
    assert err.step == "preflight"
    if driver == "pg8000":
        assert f"sslmode={mode} but the server does not offer TLS; refusing plain text" in err.cause
    else:  # libpq's wording
        assert "server does not support SSL, but SSL was required" in err.cause


@contextmanager
def serving(c: LocalCluster, cert: str) -> Iterator[None]:
    """Make the server present cert.crt/cert.key for the block (a restart each way)."""

    def switch(name: str) -> None:
        admin = connect(c.superuser_url(), "psycopg", application_name="tests ssl admin")
        try:
            admin.execute(f"ALTER SYSTEM SET ssl_cert_file = '{name}.crt'")
            admin.execute(f"ALTER SYSTEM SET ssl_key_file = '{name}.key'")
        finally:
            admin.close()
        c.restart()

    switch(cert)
    try:
        yield
    finally:
        switch("server")


# --- the session cluster: no TLS at all ---


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("mode", ["require", "verify-ca", "verify-full"])
def test_tls_modes_refuse_a_server_without_tls(
    cluster: LocalCluster, pki: Pki, driver: str, mode: str
) -> None:
    err = refusal(superuser_dsn(cluster, sslmode=mode, sslrootcert=pki["ca.crt"]), driver)
    assert_no_tls_refusal(err, driver, mode)


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("mode", ["disable", "allow", "prefer", None])
def test_plain_modes_connect_in_plain_text_without_tls(
    cluster: LocalCluster, driver: str, mode: str | None
) -> None:
    params = {"sslmode": mode} if mode else {}
    assert uses_tls(superuser_dsn(cluster, **params), driver) is False


@pytest.mark.parametrize("driver", DRIVERS)
def test_pgsslmode_from_the_environment_counts(
    cluster: LocalCluster, driver: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGSSLMODE", "require")
    assert_no_tls_refusal(refusal(superuser_dsn(cluster), driver), driver, "require")
    # The DSN's own sslmode wins over the environment, as in libpq.
    assert uses_tls(superuser_dsn(cluster, sslmode="disable"), driver) is False


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"sslmode": "bogus"}, "sslmode=bogus"),
        ({"sslmode": "require", "sslcrl": "/nonexistent/root.crl"}, "sslcrl"),
        ({"sslmode": "verify-ca", "sslcrldir": "/nonexistent/crls"}, "sslcrldir"),
        ({"gssencmode": "require"}, "gssencmode=require"),
        ({"channel_binding": "require"}, "channel_binding=require"),
        ({"require_auth": "scram-sha-256"}, "require_auth=scram-sha-256"),
        ({"sslsni": "0"}, "sslsni=0"),
        ({"sslnegotiation": "direct"}, "sslnegotiation=direct"),
        ({"sslcertmode": "require"}, "sslcertmode=require"),
        ({"ssl_min_protocol_version": "TLSv9"}, "ssl_min_protocol_version=TLSv9"),
        (
            {"sslmode": "require", "sslrootcert": "system"},
            "sslrootcert=system with sslmode=require",
        ),
        ({"sslmode": "verify-ca"}, "sslrootcert"),  # no ~/.postgresql/root.crt in this HOME
        ({"sslmode": "require", "sslrootcert": "/nonexistent/root.crt"}, "sslrootcert"),
        ({"sslcert": "/nonexistent/client.crt"}, "sslcert"),
    ],
)
def test_pg8000_refuses_what_it_cannot_honour(
    cluster: LocalCluster, params: dict[str, str], named: str
) -> None:
    err = refusal(superuser_dsn(cluster, **params), "pg8000")
    assert err.step == "preflight"
    assert err.cause.startswith(f"DB_DRIVER=pg8000 cannot honour {named}"), err.cause


def test_pg8000_ignores_tls_parameters_when_sslmode_is_disable(cluster: LocalCluster) -> None:
    """libpq ignores sslcrl and friends without TLS: nothing is weakened, so nothing is refused."""
    dsn = superuser_dsn(cluster, sslmode="disable", sslcrl="/nonexistent/root.crl", sslsni="0")
    assert uses_tls(dsn, "pg8000") is False


# --- the TLS cluster ---


@pytest.mark.parametrize("driver", DRIVERS)
@pytest.mark.parametrize("mode", ["require", "prefer", None])
def test_require_and_prefer_use_tls(
    tls_cluster: LocalCluster, driver: str, mode: str | None
) -> None:
    params = {"sslmode": mode} if mode else {}
    assert uses_tls(superuser_dsn(tls_cluster, **params), driver) is True


@pytest.mark.parametrize("driver", DRIVERS)
def test_allow_and_disable_stay_plain_when_the_server_accepts_it(
    tls_cluster: LocalCluster, driver: str
) -> None:
    assert uses_tls(superuser_dsn(tls_cluster, sslmode="allow"), driver) is False
    assert uses_tls(superuser_dsn(tls_cluster, sslmode="disable"), driver) is False


@pytest.mark.parametrize("driver", DRIVERS)
def test_allow_turns_to_tls_when_plain_text_is_rejected(
    tls_cluster: LocalCluster, driver: str
) -> None:
    dsn = role_dsn(tls_cluster, TLS_ONLY, password=TLS_ONLY_PASSWORD, sslmode="allow")
    assert session(dsn, driver) == (True, TLS_ONLY)
    plain = role_dsn(tls_cluster, TLS_ONLY, password=TLS_ONLY_PASSWORD, sslmode="disable")
    assert "pg_hba.conf rejects connection" in refusal(plain, driver).cause


@pytest.mark.parametrize("driver", DRIVERS)
def test_verify_ca_checks_the_chain(tls_cluster: LocalCluster, pki: Pki, driver: str) -> None:
    right = superuser_dsn(tls_cluster, sslmode="verify-ca", sslrootcert=pki["ca.crt"])
    assert uses_tls(right, driver) is True
    wrong = superuser_dsn(tls_cluster, sslmode="verify-ca", sslrootcert=pki["other-ca.crt"])
    assert "certificate verify failed" in refusal(wrong, driver).cause
    # Given a root certificate, require verifies the chain too (libpq's compatibility rule).
    wrong_require = superuser_dsn(tls_cluster, sslmode="require", sslrootcert=pki["other-ca.crt"])
    assert "certificate verify failed" in refusal(wrong_require, driver).cause


@pytest.mark.parametrize("driver", DRIVERS)
def test_verify_ca_finds_the_default_root_in_home(
    tls_cluster: LocalCluster, pki: Pki, driver: str
) -> None:
    dot = Path(os.environ["HOME"]) / ".postgresql"
    dot.mkdir()
    shutil.copyfile(pki["ca.crt"], dot / "root.crt")
    assert uses_tls(superuser_dsn(tls_cluster, sslmode="verify-ca"), driver) is True
    shutil.copyfile(pki["other-ca.crt"], dot / "root.crt")
    assert (
        "certificate verify failed"
        in refusal(superuser_dsn(tls_cluster, sslmode="require"), driver).cause
    )


def test_verify_full_checks_the_host_name(tls_cluster: LocalCluster, pki: Pki) -> None:
    full = {"sslmode": "verify-full", "sslrootcert": pki["ca.crt"]}
    for driver in DRIVERS:
        assert uses_tls(superuser_dsn(tls_cluster, host="127.0.0.1", **full), driver) is True
    with serving(tls_cluster, "server-noip"):
        for driver in DRIVERS:
            cause = refusal(superuser_dsn(tls_cluster, host="127.0.0.1", **full), driver).cause
            assert "127.0.0.1" in cause, cause
            # The chain is still good: only the name is wrong.
            assert (
                uses_tls(
                    superuser_dsn(
                        tls_cluster,
                        host="127.0.0.1",
                        sslmode="verify-ca",
                        sslrootcert=pki["ca.crt"],
                    ),
                    driver,
                )
                is True
            )
            by_name = role_dsn(
                tls_cluster,
                "postgres",
                host="localhost",
                password=tls_cluster.superuser_password,
                **full,
            )
            assert uses_tls(by_name, driver) is True


@pytest.mark.parametrize("driver", DRIVERS)
def test_system_roots_do_not_trust_a_private_ca(tls_cluster: LocalCluster, driver: str) -> None:
    dsn = superuser_dsn(tls_cluster, sslmode="verify-full", sslrootcert="system")
    assert "certificate verify failed" in refusal(dsn, driver).cause


@pytest.mark.parametrize("driver", DRIVERS)
def test_client_certificate_logs_in(tls_cluster: LocalCluster, pki: Pki, driver: str) -> None:
    dsn = role_dsn(
        tls_cluster,
        CERT_USER,
        sslmode="verify-full",
        sslrootcert=pki["ca.crt"],
        sslcert=pki["client.crt"],
        sslkey=pki["client.key"],
    )
    assert session(dsn, driver) == (True, CERT_USER)
    encrypted = role_dsn(
        tls_cluster,
        CERT_USER,
        sslmode="require",
        sslcert=pki["client.crt"],
        sslkey=pki["client-enc.key"],
        sslpassword=KEY_PASSWORD,
    )
    assert session(encrypted, driver) == (True, CERT_USER)
    without = role_dsn(tls_cluster, CERT_USER, sslmode="require")
    assert "certificate" in refusal(without, driver).cause


def test_pg8000_takes_the_client_certificate_from_home(tls_cluster: LocalCluster, pki: Pki) -> None:
    dot = Path(os.environ["HOME"]) / ".postgresql"
    dot.mkdir()
    shutil.copyfile(pki["client.crt"], dot / "postgresql.crt")
    shutil.copyfile(pki["client.key"], dot / "postgresql.key")
    (dot / "postgresql.key").chmod(0o600)
    dsn = role_dsn(tls_cluster, CERT_USER, sslmode="require")
    assert session(dsn, "pg8000") == (True, CERT_USER)
    # sslcertmode=disable keeps the certificate back, so the cert-only role cannot log in.
    off = role_dsn(tls_cluster, CERT_USER, sslmode="require", sslcertmode="disable")
    assert "certificate" in refusal(off, "pg8000").cause


def test_pg8000_never_prompts_for_an_encrypted_key(tls_cluster: LocalCluster, pki: Pki) -> None:
    dsn = role_dsn(
        tls_cluster,
        CERT_USER,
        sslmode="require",
        sslcert=pki["client.crt"],
        sslkey=pki["client-enc.key"],
    )
    err = refusal(dsn, "pg8000")
    assert err.cause == (
        "DB_DRIVER=pg8000 cannot honour sslkey: private key "
        f"{pki['client-enc.key']} is encrypted: set sslpassword"
    )
