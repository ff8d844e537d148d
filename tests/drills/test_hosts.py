"""The runbook's hostnames in /etc/hosts (drills/k8s/hosts.py): a marked block per cluster, added, replaced
and removed without changing any other byte, a backup of the previous content, and the CLI's
``gameday cluster hosts``.  Files are real files; one test writes through a bind mount, as a container's
/etc/hosts is."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from gameday_testkit import require

from drills.k8s import hosts
from drills.k8s.front import RunbookHosts, hostnames
from gameday.errors import TargetError

NAMES = hostnames(RunbookHosts())
#: Lines a real /etc/hosts has, in the awkward forms: comments, tabs, IPv6, a CRLF line, non-ASCII bytes.
ORIGINAL = (b"127.0.0.1\tlocalhost\n::1 localhost ip6-localhost ip6-loopback\n# a comment, kept\n"
            b"10.0.0.5 db.internal db   # tr\xc3\xa8s important\r\n\n192.168.1.9 printer\n")


@pytest.fixture
def etc_hosts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "hosts"
    path.write_bytes(ORIGINAL)
    path.chmod(0o644)
    monkeypatch.setenv(hosts.HOSTS_ENV, str(path))
    return path


def test_the_path_is_etc_hosts_unless_overridden(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(hosts.HOSTS_ENV, raising=False)
    assert hosts.hosts_file() == Path("/etc/hosts")
    monkeypatch.setenv(hosts.HOSTS_ENV, "")
    assert hosts.hosts_file() == Path("/etc/hosts")
    monkeypatch.setenv(hosts.HOSTS_ENV, str(tmp_path / "h"))
    assert hosts.hosts_file() == tmp_path / "h"


def test_add_replace_remove_keep_every_other_byte(etc_hosts: Path) -> None:
    assert hosts.write_hosts("gameday", NAMES) is True
    text = etc_hosts.read_bytes()
    block = hosts.hosts_block("gameday", NAMES).encode()
    assert text == ORIGINAL + block
    assert block == (b"# BEGIN gameday gameday\n127.0.0.1 prometheus.hospital-erp.example.com "
                     b"grafana.hospital-erp.example.com api.hospital-erp.example.com\n# END gameday gameday\n")
    assert (etc_hosts.parent / "hosts.gameday.bak").read_bytes() == ORIGINAL
    assert hosts.write_hosts("gameday", NAMES) is False  # idempotent: same bytes, no write
    assert etc_hosts.read_bytes() == text

    # another cluster's block after it, then ours replaced in place with other names
    assert hosts.write_hosts("gameday-e2e", NAMES[:1])
    other = hosts.hosts_block("gameday-e2e", NAMES[:1]).encode()
    assert hosts.write_hosts("gameday", ["api.example.net"])
    assert etc_hosts.read_bytes() == ORIGINAL + hosts.hosts_block("gameday", ["api.example.net"]).encode() + other
    assert hosts.current_block("gameday") == hosts.hosts_block("gameday", ["api.example.net"])

    assert hosts.remove_hosts("gameday") is True
    assert etc_hosts.read_bytes() == ORIGINAL + other
    assert hosts.remove_hosts("gameday") is False
    assert hosts.remove_hosts("gameday-e2e") is True
    assert etc_hosts.read_bytes() == ORIGINAL
    assert oct(etc_hosts.stat().st_mode & 0o777) == "0o644"
    assert [p.name for p in etc_hosts.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_a_block_in_the_middle_is_replaced_where_it_is(etc_hosts: Path) -> None:
    lines = ORIGINAL.split(b"\n")
    middle = b"\n".join(lines[:2]) + b"\n" + hosts.hosts_block("gameday", ["old.example.com"]).encode() + \
        b"\n".join(lines[2:])
    etc_hosts.write_bytes(middle)
    hosts.write_hosts("gameday", NAMES)
    assert etc_hosts.read_bytes() == middle.replace(b"127.0.0.1 old.example.com", b"127.0.0.1 " + " ".join(
        NAMES).encode())
    hosts.remove_hosts("gameday")
    assert etc_hosts.read_bytes() == ORIGINAL


def test_a_file_without_a_final_newline_keeps_its_last_line(etc_hosts: Path) -> None:
    etc_hosts.write_bytes(b"127.0.0.1 localhost")
    hosts.write_hosts("gameday", NAMES)
    assert etc_hosts.read_bytes().startswith(b"127.0.0.1 localhost\n# BEGIN gameday gameday\n")
    hosts.remove_hosts("gameday")
    assert etc_hosts.read_bytes() == b"127.0.0.1 localhost\n"  # the only byte added: the line's end


def test_a_broken_block_is_refused_not_guessed(etc_hosts: Path) -> None:
    etc_hosts.write_bytes(ORIGINAL + b"# BEGIN gameday gameday\n127.0.0.1 x.example.com\n")
    with pytest.raises(TargetError, match=r"has no '# END gameday gameday'; fix the file by hand") as info:
        hosts.write_hosts("gameday", NAMES)
    assert "\n" not in str(info.value)
    assert etc_hosts.read_bytes() == ORIGINAL + b"# BEGIN gameday gameday\n127.0.0.1 x.example.com\n"


def test_bad_names_are_input_errors() -> None:
    from gameday.errors import InputError

    with pytest.raises(InputError, match="not host names"):
        hosts.hosts_block("gameday", ["api.example.com evil.example.com"])
    with pytest.raises(InputError, match="not a kind cluster name"):
        hosts.hosts_block("game day", NAMES)


def test_a_bind_mounted_hosts_file_is_rewritten_in_place(tmp_path: Path) -> None:
    """A container's /etc/hosts is a bind mount: rename cannot replace it, the content must still change."""
    require(os.geteuid() == 0 and shutil.which("unshare") is not None, "needs root and unshare for a bind mount")
    source, mounted = tmp_path / "source", tmp_path / "etc" / "hosts"
    mounted.parent.mkdir()
    source.write_bytes(ORIGINAL)
    mounted.write_bytes(b"")
    script = (f"mount --bind {source} {mounted} && {sys.executable} -c 'import sys; from drills.k8s import hosts; "
              f"hosts.write_hosts(\"gameday\", sys.argv[1:], hosts.Path(\"{mounted}\"))' {' '.join(NAMES)}")
    done = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                          capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2])
    if done.returncode != 0 and "mount" in done.stderr and "drills" not in done.stderr:
        require(False, f"no bind mounts here: {done.stderr.strip()[:200]}")
    assert done.returncode == 0, done.stderr
    assert source.read_bytes() == ORIGINAL + hosts.hosts_block("gameday", NAMES).encode()


def test_cli_prints_the_block(etc_hosts: Path) -> None:
    gameday = str(Path(sys.executable).with_name("gameday"))
    result = subprocess.run([gameday, "cluster", "hosts", "--name", "gameday-e2e"], capture_output=True, text=True,
                            timeout=60, env={**os.environ, hosts.HOSTS_ENV: str(etc_hosts)})
    assert result.returncode == 0, result.stderr
    assert result.stdout == hosts.hosts_block("gameday-e2e", NAMES)
    assert etc_hosts.read_bytes() == ORIGINAL  # printing writes nothing


def test_cluster_unpublish_removes_the_block_down_relies_on(etc_hosts: Path) -> None:
    """What `cluster down` calls after kind's delete (and when the cluster is already gone)."""
    from drills.k8s.cluster import KindCluster

    hosts.write_hosts("gameday-hoststest", NAMES)
    lines: list[str] = []
    assert KindCluster(name="gameday-hoststest", echo=lines.append).unpublish() == [
        f"{etc_hosts}: the '# BEGIN gameday gameday-hoststest' block removed"]
    assert etc_hosts.read_bytes() == ORIGINAL and len(lines) == 1
    assert KindCluster(name="gameday-hoststest").unpublish() == []
