"""The cluster's CA and the front's certificate (drills/k8s/tls.py), checked with openssl and real TLS: reused
while valid for the same names, reissued when not, the CA unable to vouch for any other name, and (as root
on Debian) trusted and untrusted in the system store so plain curl accepts the front."""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from gameday_testkit import require

from drills.k8s import tls
from drills.k8s.front import RunbookHosts, hostnames
from gameday.errors import InputError, TargetError

NAMES = hostnames(RunbookHosts())


def _openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=60)


def test_made_once_then_reused_keys_private(tmp_path: Path) -> None:
    files = tls.ensure_tls("gameday-tlstest", NAMES, tmp_path / "tls")
    assert oct(files.directory.stat().st_mode & 0o777) == "0o700"
    assert {p.name: oct(p.stat().st_mode & 0o777) for p in files.directory.iterdir()} == {
        "ca.key": "0o600", "ca.crt": "0o644", "server.key": "0o600", "server.crt": "0o644"}
    sans = _openssl("x509", "-in", str(files.cert), "-noout", "-ext", "subjectAltName").stdout
    assert all(f"DNS:{n}" in sans for n in NAMES)
    before = {p.name: p.read_bytes() for p in files.directory.iterdir()}
    again = tls.ensure_tls("gameday-tlstest", NAMES, tmp_path / "tls")
    assert again == files and {p.name: p.read_bytes() for p in files.directory.iterdir()} == before


def test_a_broken_server_certificate_is_reissued_under_the_same_ca(tmp_path: Path) -> None:
    files = tls.ensure_tls("gameday-tlstest", NAMES, tmp_path / "tls")
    ca, cert = files.ca_cert.read_bytes(), files.cert.read_bytes()
    files.key.write_bytes(b"not a key")  # e.g. a half-written file
    tls.ensure_tls("gameday-tlstest", NAMES, tmp_path / "tls")
    assert files.ca_cert.read_bytes() == ca and files.cert.read_bytes() != cert
    assert _openssl("verify", "-CAfile", str(files.ca_cert), "-purpose", "sslserver", str(files.cert)).returncode == 0


def test_other_names_get_a_new_ca_whose_constraints_hold_them(tmp_path: Path) -> None:
    files = tls.ensure_tls("gameday-tlstest", NAMES, tmp_path / "tls")
    ca = files.ca_cert.read_bytes()
    other = tls.ensure_tls("gameday-tlstest", ["api.example.net"], tmp_path / "tls")
    assert other.ca_cert.read_bytes() != ca
    assert "DNS:api.example.net" in _openssl("x509", "-in", str(other.cert), "-noout", "-ext",
                                             "subjectAltName").stdout


def test_the_ca_cannot_vouch_for_a_name_outside_the_runbook(tmp_path: Path) -> None:
    """Trusting the CA system-wide is safe: a certificate it signs for any other name fails verification."""
    files = tls.ensure_tls("gameday-tlstest", NAMES, tmp_path / "tls")
    (tmp_path / "ext.cnf").write_text("[x]\nsubjectAltName = DNS:bank.example.org\nbasicConstraints = CA:FALSE\n"
                                      "authorityKeyIdentifier = keyid:always\nextendedKeyUsage = serverAuth\n")
    key, csr, crt = tmp_path / "evil.key", tmp_path / "evil.csr", tmp_path / "evil.crt"
    made = _openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", str(key))
    assert made.returncode == 0
    assert _openssl("req", "-new", "-key", str(key), "-subj", "/CN=bank.example.org", "-out", str(csr)).returncode == 0
    assert _openssl("x509", "-req", "-in", str(csr), "-CA", str(files.ca_cert), "-CAkey", str(files.ca_key),
                    "-days", "30", "-extfile", str(tmp_path / "ext.cnf"), "-extensions", "x", "-out",
                    str(crt)).returncode == 0
    verdict = _openssl("verify", "-CAfile", str(files.ca_cert), str(crt))
    assert verdict.returncode != 0 and "permitted subtree violation" in verdict.stdout + verdict.stderr


def test_bad_names_are_one_line_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a DNS name"):
        tls.ensure_tls("gameday-tlstest", ["api.example.com/evil"], tmp_path)
    with pytest.raises(InputError, match="not a kind cluster name"):
        tls.ensure_tls("../etc", NAMES, tmp_path)


def test_the_secret_carries_the_files(tmp_path: Path) -> None:
    import base64

    files = tls.ensure_tls("gameday-tlstest", NAMES, tmp_path / "tls")
    secret = tls.tls_secret(files, "hospital-erp-system")
    assert secret["metadata"] == {"name": "gameday-front-tls", "namespace": "hospital-erp-system",
                                  "labels": {"app.kubernetes.io/part-of": "hospital-erp", "app": "front"}}
    assert base64.b64decode(secret["data"]["tls.key"]) == files.key.read_bytes()
    assert base64.b64decode(secret["data"]["tls.crt"]) == files.cert.read_bytes()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[tls.TlsFiles, int]]:
    """A bare TLS server with the front's certificate that answers one HTTP line per connection."""
    files = tls.ensure_tls(f"gameday-trusttest-{os.getpid()}", NAMES, tmp_path / "tls")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files.cert, files.key)
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls_conn:
                    tls_conn.recv(4096)
                    tls_conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n")
            except (ssl.SSLError, OSError):
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield files, port
    stop.set()
    thread.join(timeout=5)
    listener.close()


def _plain_curl(port: int) -> subprocess.CompletedProcess[str]:
    host = NAMES[-1]
    return subprocess.run(["curl", "-sS", "--resolve", f"{host}:{port}:127.0.0.1", f"https://{host}:{port}/health"],
                          capture_output=True, text=True, timeout=30)


def test_trust_and_untrust_in_the_system_store(tls_server: tuple[tls.TlsFiles, int]) -> None:
    require(shutil.which("update-ca-certificates") is not None, "no update-ca-certificates (not Debian)")
    require(os.geteuid() == 0, "trusting a CA needs root")
    files, port = tls_server
    assert "certificate" in _plain_curl(port).stderr.lower()  # not trusted yet
    try:
        anchor = tls.trust(files.ca_cert, files.cluster)
        assert anchor == Path(f"/usr/local/share/ca-certificates/gameday-{files.cluster}.crt")
        assert tls.trust(files.ca_cert, files.cluster) == anchor  # idempotent
        result = _plain_curl(port)
        assert result.returncode == 0 and result.stdout == "ok\n", result.stderr
        with socket.create_connection(("127.0.0.1", port)) as raw, ssl.create_default_context().wrap_socket(
                raw, server_hostname=NAMES[0]) as conn:  # Python's default context reads the same store
            assert conn.version()
    finally:
        removed = tls.untrust(files.cluster)
    assert removed and not tls.trusted(files.cluster) and tls.untrust(files.cluster) is False
    assert not [p for p in Path("/etc/ssl/certs").iterdir() if p.is_symlink() and not p.exists()]  # no dangling
    assert "certificate" in _plain_curl(port).stderr.lower()


def test_not_root_is_one_line_saying_what_to_run(tmp_path: Path) -> None:
    require(os.geteuid() == 0 and shutil.which("setpriv") is not None, "needs root to run a check as nobody")
    require(shutil.which("update-ca-certificates") is not None, "no update-ca-certificates (not Debian)")
    ca = tmp_path / "ca.crt"
    ca.write_text("x")
    tmp_path.chmod(0o755)
    code = ("from pathlib import Path; from drills.k8s import tls\n"
            f"try:\n    tls.trust(Path('{ca}'), 'gameday')\nexcept Exception as e:\n    print(type(e).__name__, e)")
    result = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, "-c",
                             code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).resolve().parents[2], env={**os.environ, "HOME": "/tmp"})
    if "Permission denied" in result.stderr:
        require(False, f"nobody cannot run this checkout's Python: {result.stderr.strip()[:200]}")
    assert result.stdout.startswith("TargetError trusting the cluster's CA needs root: run `sudo install -m 0644 "
                                    f"{ca} /usr/local/share/ca-certificates/gameday-gameday.crt && sudo "
                                    "update-ca-certificates`"), result.stdout + result.stderr
    assert result.stdout.count("\n") == 1
    assert TargetError.__name__ in result.stdout
