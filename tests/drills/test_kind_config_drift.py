"""An existing kind cluster made from another configuration than this gameday's (before its kubelet allowed the
sysctl Toxiproxy's pod asks for, say) is refused in one line before the stack is applied: applied anyway, the
ReplicaSet made thousands of SysctlForbidden pods.  A newer node image alone is not a difference."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from drills.k8s.cluster import KindCluster, kind_config
from gameday.errors import TargetError


@pytest.fixture
def cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KindCluster:
    monkeypatch.setenv("GAMEDAY_CACHE", str(tmp_path))
    made = KindCluster(name="gameday-drift")
    assert made.config_path.is_relative_to(tmp_path)
    made.config_path.parent.mkdir(parents=True)
    return made


def created_with(cluster: KindCluster, config: dict) -> None:
    cluster.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")


def test_the_same_settings_with_a_newer_node_image_pass(cluster: KindCluster) -> None:
    created_with(cluster, kind_config("gameday/kind-node:old", local_node=True, name=cluster.name))
    cluster.refuse_other_configuration(kind_config("gameday/kind-node:new", local_node=True, name=cluster.name))


def test_a_cluster_whose_kubelet_lacks_a_setting_is_refused_naming_the_way_out(cluster: KindCluster) -> None:
    now = kind_config("gameday/kind-node:x", local_node=True, name=cluster.name)
    before = yaml.safe_load(yaml.safe_dump(now))
    kubelet = yaml.safe_load(before["kubeadmConfigPatches"][0])
    del kubelet["allowedUnsafeSysctls"]
    before["kubeadmConfigPatches"][0] = yaml.safe_dump(kubelet)
    created_with(cluster, before)
    with pytest.raises(TargetError, match=r"created with another configuration .*gameday cluster down --name "
                                          r"gameday-drift") as refused:
        cluster.refuse_other_configuration(now)
    assert "\n" not in str(refused.value)


def test_a_cluster_without_its_recorded_configuration_is_refused(cluster: KindCluster) -> None:
    with pytest.raises(TargetError, match="another configuration"):
        cluster.refuse_other_configuration(kind_config("gameday/kind-node:x", local_node=True, name=cluster.name))
