"""The runbook's hostnames in ``/etc/hosts``: one marked block per kind cluster, pointing them at 127.0.0.1.

Why: ``open https://grafana.hospital-erp.example.com/...`` must reach the kind cluster's HTTPS front on
127.0.0.1:443 without anyone editing resolver settings by hand.  The block is

    # BEGIN gameday <cluster>
    127.0.0.1 prometheus.hospital-erp.example.com grafana.hospital-erp.example.com api.hospital-erp.example.com
    # END gameday <cluster>

Writes are idempotent and never touch another line: the file is read, the block replaced (or appended) or
removed, the previous content saved as ``<file>.gameday.bak``, the new content written to a temporary file
and renamed over the old one.  Where the file is a bind mount (a container's /etc/hosts) a rename cannot
replace it; then it is rewritten in place (the backup is already on disk).  Writers serialize on a lock of
the backup file, so two clusters coming up at once do not lose each other's block.
``$GAMEDAY_HOSTS_FILE`` points it elsewhere (tests).
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from gameday.errors import InputError, TargetError

HOSTS_ENV = "GAMEDAY_HOSTS_FILE"
SYSTEM_HOSTS = Path("/etc/hosts")
LOOPBACK = "127.0.0.1"
BACKUP_SUFFIX = ".gameday.bak"
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_CLUSTER = re.compile(r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$")


def hosts_file() -> Path:
    """``$GAMEDAY_HOSTS_FILE`` when set (non-empty), else /etc/hosts."""
    override = os.environ.get(HOSTS_ENV, "").strip()
    return Path(override) if override else SYSTEM_HOSTS


def markers(cluster: str) -> tuple[str, str]:
    if not _CLUSTER.match(cluster):
        raise InputError(None, "cluster", f"{cluster!r} is not a kind cluster name")
    return f"# BEGIN gameday {cluster}", f"# END gameday {cluster}"


def hosts_block(cluster: str, names: Sequence[str], address: str = LOOPBACK) -> str:
    """The block's text, newline-terminated."""
    begin, end = markers(cluster)
    clean = list(dict.fromkeys(n.lower() for n in names))
    bad = [n for n in clean if not _NAME.match(n) or len(n) > 253]
    if not clean or bad:
        raise InputError(None, "hostnames", f"not host names: {', '.join(map(repr, bad)) or '(none)'}")
    return f"{begin}\n{address} {' '.join(clean)}\n{end}\n"


def _find(lines: list[str], cluster: str, path: Path) -> list[tuple[int, int]]:
    """(first, last) line indexes of each of the cluster's blocks; an unterminated one is an error."""
    begin, end = markers(cluster)
    spans, start = [], None
    for i, line in enumerate(lines):
        text = line.rstrip("\r\n").strip()
        if text == begin:
            if start is not None:
                raise TargetError(f"{path}: '{begin}' on line {start + 1} has no '{end}' before line {i + 1}; "
                                  f"fix the file by hand")
            start = i
        elif text == end:
            if start is None:
                raise TargetError(f"{path}: '{end}' on line {i + 1} without its '{begin}'; fix the file by hand")
            spans.append((start, i))
            start = None
    if start is not None:
        raise TargetError(f"{path}: '{begin}' on line {start + 1} has no '{end}'; fix the file by hand")
    return spans


def replace_block(text: str, cluster: str, block: str | None, path: Path = SYSTEM_HOSTS) -> str:
    """``text`` with the cluster's block replaced by ``block`` (appended when absent; removed when ``None``).
    Every other line stays byte for byte."""
    lines = text.splitlines(keepends=True)
    spans = _find(lines, cluster, path)
    if not spans:
        if block is None:
            return text
        sep = "" if not text or text.endswith("\n") else "\n"
        return text + sep + block
    first = spans[0][0]
    drop = {i for a, b in spans for i in range(a, b + 1)}
    out = []
    for i, line in enumerate(lines):
        if i == first and block is not None:
            out.append(block)
        if i not in drop:
            out.append(line)
    return "".join(out)


def current_block(cluster: str, path: Path | None = None) -> str | None:
    """The cluster's block as the file has it now, or None."""
    path = path or hosts_file()
    try:
        lines = path.read_text(encoding="utf-8", errors="surrogateescape").splitlines(keepends=True)
    except FileNotFoundError:
        return None
    spans = _find(lines, cluster, path)
    return "".join(lines[spans[0][0]:spans[0][1] + 1]) if spans else None


def writable_problem(path: Path | None = None) -> str | None:
    """Why the hosts file cannot be changed by this process (checked before a long ``cluster up``), or None."""
    path = path or hosts_file()
    if not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK | os.X_OK):
        who = "not root" if os.geteuid() != 0 else "no write access"
        return f"cannot change {path} ({who})"
    return None


def _edit(path: Path, change: Callable[[str], str]) -> bool:
    """Read, change, back up and write ``path`` under the lock; False when nothing changed."""
    backup = path.with_name(path.name + BACKUP_SUFFIX)
    try:
        lock_fd = os.open(backup, os.O_RDWR | os.O_CREAT, 0o644)
    except PermissionError:
        raise TargetError(f"cannot change {path}: permission denied (run as root, or `gameday cluster up "
                          f"--no-hosts` and add `gameday cluster hosts` to {path} yourself)") from None
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            raw = b""
        old = raw.decode("utf-8", errors="surrogateescape")
        new = change(old)
        if new == old:
            return False
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, raw, 0)
        os.fsync(lock_fd)
        _write(path, new.encode("utf-8", errors="surrogateescape"))
        return True
    finally:
        os.close(lock_fd)


def _write(path: Path, data: bytes) -> None:
    """Temporary file + rename (mode and owner kept); in place where the file is a mount point."""
    try:
        st = path.stat()
        mode, owner = st.st_mode & 0o7777, (st.st_uid, st.st_gid)
    except FileNotFoundError:
        mode, owner = 0o644, None
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fchmod(out.fileno(), mode)
            if owner is not None and os.geteuid() == 0:
                os.fchown(out.fileno(), *owner)
            os.fsync(out.fileno())
        try:
            os.replace(tmp, path)
            return
        except OSError as exc:
            if exc.errno not in (errno.EBUSY, errno.EXDEV, errno.EPERM, errno.EACCES):
                raise
        with open(path, "r+b") as target:  # a bind-mounted file: rename cannot replace it
            target.write(data)
            target.truncate()
            target.flush()
            os.fsync(target.fileno())
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def write_hosts(cluster: str, names: Sequence[str], path: Path | None = None, address: str = LOOPBACK) -> bool:
    """Add or replace the cluster's block (idempotent); True when the file changed."""
    path = path or hosts_file()
    block = hosts_block(cluster, names, address)
    try:
        return _edit(path, lambda text: replace_block(text, cluster, block, path))
    except PermissionError as exc:
        raise TargetError(f"cannot change {path}: {exc.strerror} (run as root, or `gameday cluster up "
                          f"--no-hosts`)") from None


def remove_hosts(cluster: str, path: Path | None = None) -> bool:
    """Remove the cluster's block; True when there was one."""
    path = path or hosts_file()
    if not path.exists() or current_block(cluster, path) is None:
        return False
    try:
        return _edit(path, lambda text: replace_block(text, cluster, None, path))
    except PermissionError as exc:
        raise TargetError(f"cannot change {path}: {exc.strerror} (run as root to remove the '# BEGIN gameday "
                          f"{cluster}' block)") from None
