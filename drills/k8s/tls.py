"""A local CA per kind cluster and a server certificate for the runbook's hostnames (the HTTPS front's).

Why: the runbook says ``curl -I https://api.<domain>/health`` and ``open https://...``; those work verbatim
only when the front's certificate chains to something this machine trusts.  The CA is this cluster's own,
kept under ``$GAMEDAY_CACHE/kind/clusters/<name>/tls/`` (keys 0600), and limited by name constraints to the
runbook's hostnames: trusting it (``trust``) lets it vouch for those names and nothing else, should its key
ever leak.  Made with the ``openssl`` CLI (the venv has no ``cryptography``); reused while valid for the same
names, so a cluster re-created under the same name keeps the trust already given.
"""

from __future__ import annotations

import base64
import os
import re
import secrets
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drills.k8s.build.versions import kind_cache
from drills.k8s.front import TLS_SECRET
from gameday.errors import InputError, TargetError

CA_DAYS = 3650
#: What browsers accept for a server certificate (398 days at most).
CERT_DAYS = 397
#: Reissue when less than this is left.
RENEW_BEFORE_S = 30 * 86400
#: Debian/Ubuntu's trust anchors for ``update-ca-certificates``.
ANCHORS = Path("/usr/local/share/ca-certificates")
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)+$")
_CLUSTER = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


@dataclass(frozen=True)
class TlsFiles:
    """One cluster's CA and server certificate (PEM files)."""

    cluster: str
    directory: Path
    names: tuple[str, ...]

    @property
    def ca_cert(self) -> Path:
        return self.directory / "ca.crt"

    @property
    def ca_key(self) -> Path:
        return self.directory / "ca.key"

    @property
    def cert(self) -> Path:
        return self.directory / "server.crt"

    @property
    def key(self) -> Path:
        return self.directory / "server.key"


def tls_dir(cluster: str) -> Path:
    return kind_cache() / "clusters" / cluster / "tls"


def _check_names(cluster: str, names: Sequence[str]) -> tuple[str, ...]:
    if not _CLUSTER.match(cluster):
        raise InputError(None, "cluster", f"{cluster!r} is not a kind cluster name")
    clean = tuple(dict.fromkeys(n.lower() for n in names))
    if not clean:
        raise InputError(None, "hostnames", "no hostname for the certificate")
    bad = [n for n in clean if not _NAME.match(n) or len(n) > 253]
    if bad:
        raise InputError(None, "hostnames", f"not a DNS name for a certificate: {', '.join(map(repr, bad))}")
    return clean


def _openssl(*args: str, what: str, stdin: str | None = None) -> str:
    try:
        result = subprocess.run(["openssl", *args], capture_output=True, text=True, input=stdin, timeout=60)
    except FileNotFoundError:
        raise TargetError("the HTTPS front's certificate needs the openssl command (apt-get install openssl)") from None
    if result.returncode != 0:
        tail = " | ".join((result.stderr or result.stdout).strip().splitlines()[-3:])
        raise TargetError(f"openssl {what} failed: {tail}")
    return result.stdout


def _ok(*args: str) -> bool:
    try:
        return subprocess.run(["openssl", *args], capture_output=True, timeout=60).returncode == 0
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return False


def _ext_names(path: Path, extension: str, prefix: str) -> set[str]:
    """``DNS:`` entries of a certificate's ``subjectAltName`` or ``nameConstraints`` (lower-case)."""
    try:
        text = _openssl("x509", "-in", str(path), "-noout", "-ext", extension, what=f"reading {path.name}")
    except TargetError:
        return set()
    return {m.lower() for m in re.findall(prefix + r"DNS:([^\s,]+)", text)}


def _ca_valid(files: TlsFiles) -> bool:
    if not (files.ca_cert.is_file() and files.ca_key.is_file()):
        return False
    if not _ok("x509", "-in", str(files.ca_cert), "-noout", "-checkend", str(RENEW_BEFORE_S)):
        return False
    if _ext_names(files.ca_cert, "nameConstraints", "") != set(files.names):
        return False
    return _same_key(files.ca_cert, files.ca_key)


def _cert_valid(files: TlsFiles) -> bool:
    if not (files.cert.is_file() and files.key.is_file()):
        return False
    if not _ok("x509", "-in", str(files.cert), "-noout", "-checkend", str(RENEW_BEFORE_S)):
        return False
    if _ext_names(files.cert, "subjectAltName", "") != set(files.names):
        return False
    if not _ok("verify", "-CAfile", str(files.ca_cert), "-purpose", "sslserver", "-x509_strict", str(files.cert)):
        return False
    return _same_key(files.cert, files.key)


def _same_key(cert: Path, key: Path) -> bool:
    try:
        from_cert = _openssl("x509", "-in", str(cert), "-noout", "-pubkey", what="reading a public key")
        from_key = _openssl("pkey", "-in", str(key), "-pubout", what="reading a private key")
    except TargetError:
        return False
    return from_cert.strip() == from_key.strip()


def _write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _new_ca(work: Path, cluster: str, names: tuple[str, ...]) -> None:
    key, cert = work / "ca.key", work / "ca.crt"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key),
             what="generating the CA key")
    permitted = ",".join(f"permitted;DNS:{n}" for n in names)
    config = _write_config(work / "ca.cnf", f"""\
[req]
distinguished_name = dn
prompt = no
[dn]
O = gameday
CN = gameday {cluster} local CA
[v3_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
nameConstraints = critical,{permitted}
""")
    _openssl("req", "-x509", "-new", "-config", str(config), "-extensions", "v3_ca", "-key", str(key),
             "-sha256", "-days", str(CA_DAYS), "-set_serial", f"0x{secrets.token_hex(16)}", "-out", str(cert),
             what="making the CA certificate")


def _new_cert(work: Path, ca_cert: Path, ca_key: Path, names: tuple[str, ...]) -> None:
    key, csr, cert = work / "server.key", work / "server.csr", work / "server.crt"
    _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key),
             what="generating the server key")
    config = _write_config(work / "server.cnf", f"""\
[req]
distinguished_name = dn
prompt = no
[dn]
CN = {names[0]}
[v3_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = {",".join(f"DNS:{n}" for n in names)}
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
""")
    _openssl("req", "-new", "-config", str(config), "-key", str(key), "-out", str(csr), what="making the CSR")
    _openssl("x509", "-req", "-in", str(csr), "-CA", str(ca_cert), "-CAkey", str(ca_key), "-sha256",
             "-days", str(CERT_DAYS), "-set_serial", f"0x{secrets.token_hex(16)}", "-extfile", str(config),
             "-extensions", "v3_server", "-out", str(cert), what="signing the server certificate")


def ensure_tls(cluster: str, names: Sequence[str], directory: Path | None = None) -> TlsFiles:
    """The cluster's CA and a server certificate for ``names``: the files on disk when still valid for the
    same names (checked with openssl: expiry, SANs, name constraints, chain, key pair), else new ones.
    A server certificate alone is reissued under the same CA when only it is stale."""
    clean = _check_names(cluster, names)
    files = TlsFiles(cluster, directory or tls_dir(cluster), clean)
    ca_ok = _ca_valid(files)
    if ca_ok and _cert_valid(files):
        return files
    files.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(files.directory, 0o700)
    work = Path(tempfile.mkdtemp(prefix=".new-", dir=files.directory))
    try:
        os.chmod(work, 0o700)
        if not ca_ok:
            _new_ca(work, cluster, clean)
            ca_cert, ca_key = work / "ca.crt", work / "ca.key"
        else:
            ca_cert, ca_key = files.ca_cert, files.ca_key
        _new_cert(work, ca_cert, ca_key, clean)
        made = ["server.key", "server.crt"] + ([] if ca_ok else ["ca.key", "ca.crt"])
        for name in made:
            os.chmod(work / name, 0o600 if name.endswith(".key") else 0o644)
        # keys before certificates, CA before server: a crash in between leaves files the next run rejects
        for name in sorted(made, key=lambda n: (not n.startswith("ca"), n.endswith(".crt"))):
            os.replace(work / name, files.directory / name)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if not _cert_valid(files):
        raise TargetError(f"the certificate made in {files.directory} does not verify against its CA")
    return files


def tls_secret(files: TlsFiles, namespace: str, name: str = TLS_SECRET) -> dict[str, Any]:
    """The Kubernetes TLS Secret the front mounts (``kubernetes.io/tls``; the CA's certificate rides along
    as ``ca.crt`` for anything in the cluster that wants to check the front)."""

    def b64(path: Path) -> str:
        return base64.b64encode(path.read_bytes()).decode("ascii")

    return {"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/tls",
            "metadata": {"name": name, "namespace": namespace,
                         "labels": {"app.kubernetes.io/part-of": "hospital-erp", "app": "front"}},
            "data": {"tls.crt": b64(files.cert), "tls.key": b64(files.key), "ca.crt": b64(files.ca_cert)}}  # fmt: skip


# -- the system trust store -------------------------------------------------------------------------------


def anchor_path(cluster: str, anchors: Path = ANCHORS) -> Path:
    return anchors / f"gameday-{cluster}.crt"


def curl_hint(files: TlsFiles, url: str) -> str:
    """How to reach the front without trusting the CA."""
    return f"curl --cacert {files.ca_cert} -I {url}"


def _update_store(what: str) -> None:
    tool = shutil.which("update-ca-certificates")
    if tool is None:
        raise TargetError(f"{what}: no update-ca-certificates on this machine (Debian/Ubuntu's ca-certificates)")
    result = subprocess.run([tool], capture_output=True, text=True, timeout=120)
    if result.returncode != 0:
        raise TargetError(f"{what}: update-ca-certificates failed: {(result.stderr or result.stdout).strip()[-300:]}")


def trust(ca_cert: Path, cluster: str, anchors: Path = ANCHORS) -> Path:
    """Add the cluster's CA to the system trust store (Debian: ``/usr/local/share/ca-certificates`` and
    ``update-ca-certificates``), so plain ``curl`` and Python's default SSL context accept the front.
    Idempotent; returns the anchor file.  Not root: one line saying what to run."""
    dest = anchor_path(cluster, anchors)
    if shutil.which("update-ca-certificates") is None:
        raise TargetError(f"cannot trust {ca_cert} here: no update-ca-certificates (not Debian/Ubuntu); add it to "
                          f"the system trust store by hand, or use curl --cacert {ca_cert}")
    if os.geteuid() != 0:
        raise TargetError(f"trusting the cluster's CA needs root: run `sudo install -m 0644 {ca_cert} {dest} && "
                          f"sudo update-ca-certificates` (or use curl --cacert {ca_cert})")
    data = ca_cert.read_bytes()
    if dest.is_file() and dest.read_bytes() == data and _in_bundle(dest):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.tmp")
    tmp.write_bytes(data)
    os.chmod(tmp, 0o644)
    os.replace(tmp, dest)
    _update_store(f"trusting {dest.name}")
    return dest


def _in_bundle(anchor: Path) -> bool:
    """update-ca-certificates links each anchor as /etc/ssl/certs/<name>.pem."""
    link = Path("/etc/ssl/certs") / (anchor.stem + ".pem")
    return link.exists()


def untrust(cluster: str, anchors: Path = ANCHORS) -> bool:
    """Remove the cluster's CA from the system trust store; False when it was not there."""
    dest = anchor_path(cluster, anchors)
    if not dest.exists():
        return False
    if os.geteuid() != 0:
        raise TargetError(f"removing the cluster's CA from the trust store needs root: run `sudo rm {dest} && "
                          f"sudo update-ca-certificates --fresh`")
    _unlink_links(dest)
    dest.unlink()
    _update_store(f"removing {dest.name}")
    return True


def _unlink_links(anchor: Path, certs: Path = Path("/etc/ssl/certs")) -> None:
    """update-ca-certificates rebuilds the bundle but leaves the anchor's links (``<name>.pem`` and its
    ``<hash>.0``) dangling: remove them, and only them."""
    pem = certs / (anchor.stem + ".pem")
    for link in [pem, *certs.glob("*.[0-9]")]:
        if link.is_symlink() and os.readlink(link) in (str(anchor), pem.name, str(pem)):
            link.unlink()


def trusted(cluster: str, anchors: Path = ANCHORS) -> bool:
    return anchor_path(cluster, anchors).is_file()
