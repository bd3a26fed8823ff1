"""TLS for the pg8000 driver: libpq's sslmode and friends as an ssl.SSLContext, or a refusal."""

from __future__ import annotations

import os
import ssl
from collections.abc import Callable
from pathlib import Path

from pgcutover.errors import CutoverError
from pgcutover.redact import mask, register_secret

# libpq's environment defaults of the other TLS and authentication parameters the pg8000 branch
# honours or refuses; only that branch reads them, so parse_dsn (and pg_dump's DSN) is unchanged.
_TLS_ENV = {
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcrl": "PGSSLCRL",
    "sslcrldir": "PGSSLCRLDIR",
    "sslsni": "PGSSLSNI",
    "sslcertmode": "PGSSLCERTMODE",
    "sslnegotiation": "PGSSLNEGOTIATION",
    "ssl_min_protocol_version": "PGSSLMINPROTOCOLVERSION",
    "ssl_max_protocol_version": "PGSSLMAXPROTOCOLVERSION",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
    "requirepeer": "PGREQUIREPEER",
    "require_auth": "PGREQUIREAUTH",
}
# libpq's sslmode values, weakest first; prefer is libpq's default when nothing sets one.
SSLMODES = ("disable", "allow", "prefer", "require", "verify-ca", "verify-full")
_TLS_VERSIONS = {
    "tlsv1": ssl.TLSVersion.TLSv1,
    "tlsv1.1": ssl.TLSVersion.TLSv1_1,
    "tlsv1.2": ssl.TLSVersion.TLSv1_2,
    "tlsv1.3": ssl.TLSVersion.TLSv1_3,
}


def tls_params(p: dict[str, str]) -> dict[str, str]:
    """Return the TLS and authentication parameters of parsed DSN p, PG* variables filling gaps."""
    out = {k: p[k] for k in ("sslmode", "sslpassword", "sslkeylogfile", *_TLS_ENV) if k in p}
    for key, var in _TLS_ENV.items():
        if key not in out and os.environ.get(var):
            out[key] = os.environ[var]
    return out


def _refuse(param: str, why: str) -> CutoverError:
    return CutoverError("preflight", f"DB_DRIVER=pg8000 cannot honour {param}: {why}")


def refuse_unsupported_tls(tls: dict[str, str], *, unix: bool) -> None:
    """Refuse, naming the parameter, every setting pg8000 would otherwise silently weaken."""
    mode = tls.get("sslmode", "prefer")
    if mode not in SSLMODES:
        raise _refuse(f"sslmode={mode}", f"not a libpq sslmode (use one of {', '.join(SSLMODES)})")
    if "require_auth" in tls:
        raise _refuse(
            f"require_auth={tls['require_auth']}",
            "pg8000 answers whatever authentication the server asks for; use psycopg",
        )
    binding = tls.get("channel_binding", "prefer")
    if binding not in ("disable", "prefer"):
        raise _refuse(
            f"channel_binding={binding}",
            "pg8000 binds only when the server offers SCRAM-SHA-256-PLUS, it cannot insist",
        )
    gss = tls.get("gssencmode", "prefer")
    if gss not in ("disable", "prefer"):
        raise _refuse(f"gssencmode={gss}", "pg8000 has no GSSAPI encryption; use sslmode instead")
    if unix:
        if "requirepeer" in tls:
            raise _refuse("requirepeer", "pg8000 cannot check the server's OS user; use psycopg")
        return  # libpq ignores every TLS parameter on a Unix socket
    if mode == "disable":
        return
    for param in ("sslcrl", "sslcrldir"):
        if tls.get(param):
            raise _refuse(param, "pg8000 does not check certificate revocation lists; use psycopg")
    if tls.get("sslsni", "1") != "1":
        raise _refuse(f"sslsni={tls['sslsni']}", "pg8000 always sends the host name as SNI")
    negotiation = tls.get("sslnegotiation", "postgres")
    if negotiation != "postgres":
        raise _refuse(f"sslnegotiation={negotiation}", "pg8000 negotiates TLS the postgres way")
    certmode = tls.get("sslcertmode", "allow")
    if certmode not in ("disable", "allow"):
        raise _refuse(
            f"sslcertmode={certmode}",
            "pg8000 cannot tell whether the server asked for the client certificate",
        )
    for param in ("ssl_min_protocol_version", "ssl_max_protocol_version"):
        if tls.get(param) and tls[param].lower() not in _TLS_VERSIONS:
            raise _refuse(f"{param}={tls[param]}", "use one of TLSv1, TLSv1.1, TLSv1.2, TLSv1.3")
    if tls.get("sslrootcert") == "system" and mode != "verify-full":
        # libpq refuses this too: trusting every public CA without a name check proves nothing.
        raise _refuse(f"sslrootcert=system with sslmode={mode}", "use sslmode=verify-full")


def tls_context(tls: dict[str, str]) -> ssl.SSLContext:
    """Build the SSLContext libpq would use for tls['sslmode'] (allow to verify-full)."""
    mode = tls.get("sslmode", "prefer")
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = _TLS_VERSIONS[tls.get("ssl_min_protocol_version", "TLSv1.2").lower()]
    if tls.get("ssl_max_protocol_version"):
        ctx.maximum_version = _TLS_VERSIONS[tls["ssl_max_protocol_version"].lower()]
    if tls.get("sslkeylogfile"):
        ctx.keylog_filename = tls["sslkeylogfile"]
    root = _root_cert(tls, mode)
    if root is None:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    else:
        # verify-ca, or require with a root certificate at hand (libpq then verifies the chain too).
        ctx.check_hostname = mode == "verify-full"
        ctx.verify_mode = ssl.CERT_REQUIRED
        try:
            if root == "system":
                ctx.set_default_verify_paths()
            else:
                ctx.load_verify_locations(cafile=root)
        except (ssl.SSLError, OSError) as exc:
            raise CutoverError("preflight", f"cannot load sslrootcert {root}: {exc}") from None
    if tls.get("sslcertmode", "allow") != "disable":
        _load_client_cert(ctx, tls)
    return ctx


def _postgresql_dir() -> Path:
    return Path.home() / ".postgresql"


def _root_cert(tls: dict[str, str], mode: str) -> str | None:
    """Return the root certificate to verify against for mode, or None for no verification."""
    # libpq verifies nothing in allow and prefer (it would fall back to plain text on a failure).
    if mode in ("allow", "prefer"):
        return None
    given = tls.get("sslrootcert")
    if given == "system":
        return given
    path = Path(given) if given else _postgresql_dir() / "root.crt"
    if path.is_file():
        return str(path)
    if given or mode.startswith("verify-"):
        # libpq quietly skips a missing explicit root for require; whoever named one wants it.
        raise _refuse("sslrootcert", f"root certificate {path} not found (sslmode={mode})")
    return None


def _load_client_cert(ctx: ssl.SSLContext, tls: dict[str, str]) -> None:
    """Load sslcert/sslkey (or ~/.postgresql/postgresql.crt/.key when present) into ctx."""
    cert = Path(tls["sslcert"]) if tls.get("sslcert") else _postgresql_dir() / "postgresql.crt"
    key = Path(tls["sslkey"]) if tls.get("sslkey") else _postgresql_dir() / "postgresql.key"
    if not cert.is_file():
        if tls.get("sslcert"):
            raise _refuse("sslcert", f"client certificate {cert} not found")
        if tls.get("sslkey"):
            raise _refuse("sslkey", f"no client certificate to go with {key} (sslcert)")
        return
    if not key.is_file():
        raise _refuse("sslkey", f"private key {key} of client certificate {cert} not found")
    password = tls.get("sslpassword")
    register_secret(password)
    asked: list[bool] = []

    def no_password() -> str:
        # Without a callback OpenSSL would prompt on the terminal (libpq lets it); fail instead.
        asked.append(True)
        return ""

    supply: str | Callable[[], str] = password if password is not None else no_password
    try:
        ctx.load_cert_chain(str(cert), str(key), password=supply)
    except (ssl.SSLError, OSError) as exc:
        if asked:
            raise _refuse("sslkey", f"private key {key} is encrypted: set sslpassword") from None
        raise CutoverError(
            "preflight", f"cannot load client certificate {cert} with key {key}: {mask(str(exc))}"
        ) from None
