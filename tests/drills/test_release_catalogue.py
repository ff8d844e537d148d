"""One release catalogue (``gameday/releases.py``): the demo backend's versions are written there only, and the
sandbox, the rollout faults, the kind build, the kind manifests and the backend itself read them from it.

The only test that spells versions out: it tests the catalogue itself.
"""

from __future__ import annotations

import re
from pathlib import Path

from drills.k8s.build.apps import APP_SOURCES, app_images
from drills.k8s.build.versions import BACKEND_RELEASES
from drills.k8s.objects import VERSION_LABEL, default_world
from drills.k8s.stack import backend_image, render
from drills.sandbox.config import SandboxConfig
from gameday.faults import CATALOGUE, CrashloopParams, FaultType, PoolLeakParams
from gameday.releases import CRASHLOOP, HEALTHY, LEAKY, RELEASES, release

REPO = Path(__file__).resolve().parents[2]
CATALOGUE_FILE = REPO / "gameday" / "releases.py"
VERSION = re.compile(r"\bv\d+\.\d+\.\d+(?:-[A-Za-z0-9.]+)?\b")


def test_the_catalogue() -> None:
    assert list(RELEASES) == ["v1.2.2", "v1.2.3", "v1.2.4-rc1", "v1.3.0", "v1.3.1", "v1.2.5", "v1.2.6"]
    assert [r.schema for r in RELEASES.values()] == [1, 1, 1, 2, 2, 1, 1]  # the care-unit releases migrate forward
    assert [r.version for r in RELEASES.values() if r.double_booking] == ["v1.2.5"]
    assert [r.version for r in RELEASES.values() if r.broken_ward_list] == ["v1.3.0"]
    assert [r.version for r in RELEASES.values() if r.leaks_memory] == ["v1.2.6"]
    assert (HEALTHY.version, LEAKY.version, CRASHLOOP.version) == ("v1.2.2", "v1.2.3", "v1.2.4-rc1")
    assert HEALTHY.releases_on_timeout and HEALTHY.database_url_override is None
    assert not LEAKY.releases_on_timeout
    assert CRASHLOOP.database_url_override and CRASHLOOP.releases_on_timeout
    assert release("v9.9.9").releases_on_timeout and release("v9.9.9").database_url_override is None
    assert release(LEAKY.version) is LEAKY


def test_every_reader_takes_its_versions_from_the_catalogue() -> None:
    assert SandboxConfig(state_dir=Path("/nonexistent")).version == HEALTHY.version
    assert PoolLeakParams().version == LEAKY.version and CrashloopParams().version == CRASHLOOP.version
    assert CATALOGUE[FaultType.connection_pool_leak].params is PoolLeakParams
    assert tuple(RELEASES) == BACKEND_RELEASES
    assert [i.tag for i in app_images() if i.build_args.get("APP_VERSION")] == [backend_image(r)
                                                                                 for r in RELEASES.values()]
    assert "gameday/releases.py" in APP_SOURCES  # the backend image reads the catalogue too


def test_the_kind_manifests_get_the_release_passed_in() -> None:
    for wanted in (HEALTHY, LEAKY):
        docs = render(default_world(), release=wanted)
        backend = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "backend")
        container = backend["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == backend_image(wanted)
        assert {"name": "APP_VERSION", "value": wanted.version} in container["env"]
        assert backend["spec"]["template"]["metadata"]["labels"][VERSION_LABEL] == wanted.version
        assert backend["metadata"]["annotations"]["kubernetes.io/change-cause"] == f"release {wanted.version}"
        eligibility = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "eligibility")
        assert eligibility["spec"]["template"]["spec"]["containers"][0]["image"] == backend_image(wanted)


def test_no_other_file_spells_a_release_out() -> None:
    """Code, templates and image files name releases through the catalogue, never by their version."""
    folders = ("drills", "gameday", "sim", "tools")
    suffixes = {".py", ".j2", ".yaml", ".yml", ".sh", ".toml"}
    found = []
    for folder in folders:
        for path in sorted((REPO / folder).rglob("*")):
            if not path.is_file() or path == CATALOGUE_FILE or "__pycache__" in path.parts:
                continue
            if path.suffix not in suffixes and not path.name.endswith("Dockerfile"):
                continue
            for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), 1):
                found += [f"{path.relative_to(REPO)}:{number}: {v}" for v in VERSION.findall(line) if v in RELEASES]
    assert found == []


def test_the_scenarios_story_names_releases_of_the_catalogue() -> None:
    """A scenario's title and review tell the story in versions (people read them); each one is a release the
    catalogue has, and the rollout fault's own release is among them."""
    for path in sorted((REPO / "scenarios").glob("*.yaml")):
        named = set(VERSION.findall(path.read_text(encoding="utf-8")))
        assert named <= set(RELEASES), (path.name, named - set(RELEASES))
    assert LEAKY.version in (REPO / "scenarios" / "connection-pool-leak.yaml").read_text(encoding="utf-8")
    assert CRASHLOOP.version in (REPO / "scenarios" / "crashloop.yaml").read_text(encoding="utf-8")
