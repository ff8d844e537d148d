"""Bring up the Hospital-ERP stack on a local kind cluster, on a machine with Docker and no registry.

``gameday cluster up`` = build what is missing (kind, the node image, the app images; all cached by
version, see :mod:`drills.k8s.build`), create the cluster from a generated kind config, make CoreDNS
answer ``cluster.local`` only, ``kind load`` the app images, apply the manifests, wait until ready.
Every step prints a progress line with its time; every failure is one :class:`TargetError` line.

It never starts a Docker daemon: that is an explicit step (``make docker-up``) for machines without one.
"""

from __future__ import annotations

import shlex
import shutil
import socket
import subprocess
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from drills.k8s import audit, endpoints
from drills.k8s.build import docker
from drills.k8s.build.progress import Progress
from drills.k8s.build.versions import KIND_VERSION, kind_cache, testenv_bin_dir
from drills.k8s.image_load import BackgroundLoad, import_argv, node_container, worker_containers
from drills.k8s.stack import CONTROL_PLANE, pin_to_control_plane
from drills.k8s.target import KubernetesTarget
from gameday.errors import TargetError

REPO = Path(__file__).resolve().parents[2]
#: Images a user who can pull uses with ``--pull`` instead of the locally built data images.
UPSTREAM_IMAGES = {
    "gameday/postgres:15": "postgres:15-bookworm",
    "gameday/pgbouncer:1.18": "edoburu/pgbouncer:v1.23.1-p3",
    "gameday/prometheus:2.42": "prom/prometheus:v2.55.1",
    "gameday/alertmanager:0.25": "prom/alertmanager:v0.28.1",
}
#: CoreDNS answers for the cluster's own names and nothing else: no ``forward`` to outside resolvers.
CLUSTER_ONLY_COREFILE = """\
.:53 {
    errors
    health {
       lameduck 5s
    }
    ready
    kubernetes cluster.local in-addr.arpa ip6.arpa {
       pods insecure
       fallthrough in-addr.arpa ip6.arpa
       ttl 30
    }
    prometheus :9153
    cache 30
    loop
    reload
    loadbalance
}
"""
CREATE_WAIT = "180s"
#: Worker nodes ``--workers`` allows (each is a full kind node: containerd, kubelet, every image loaded).
MAX_WORKERS = 5
#: Seconds each build stage took when it last really ran (cold figures for `make bench`).
BUILD_TIMES = kind_cache() / "build-times.json"


def require_tools(*names: str) -> dict[str, str]:
    """Paths of the tools, or one error naming every missing one and where it comes from."""
    found = {name: _which(name) for name in names}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        hints = {
            "docker": "install Docker (and start its daemon)",
            "kind": "install kind, or let gameday build it (needs Go)",
            "kubectl": "install kubectl, or `make k8s-testenv` builds one",
        }
        raise TargetError("the kind target needs " + ", ".join(f"{m} ({hints.get(m, 'not on PATH')})" for m in missing))
    return {name: str(path) for name, path in found.items()}


def _which(name: str) -> str | None:
    path = shutil.which(name)
    if path is None and name == "kubectl":  # the test control plane's build has one
        candidate = testenv_bin_dir() / "kubectl"
        path = str(candidate) if candidate.exists() else None
    return path


def host_cgroup_v1() -> bool:
    """kubelet >= 1.35 refuses cgroup v1 unless told otherwise; only such hosts get ``failCgroupV1: false``."""
    return not Path("/sys/fs/cgroup/cgroup.controllers").exists()


def kind_config(node_image: str, *, local_node: bool, name: str = endpoints.DEFAULT_CLUSTER,
                workers: int = 0) -> dict[str, Any]:
    """The cluster: one node, API server and every port mapping on 127.0.0.1, subnets out of 10/172.16/192.168.

    ``local_node``: our node image ships a bridge CNI instead of kindnetd (which cannot be built here).
    ``workers``: worker nodes beside the control plane (the node-loss fault); their pod networking is flannel's
    (:mod:`drills.k8s.flannel`) on our node image.
    """
    kubelet: dict[str, Any] = {
        "kind": "KubeletConfiguration",
        # ConfigMap volumes (the fault knobs) follow changes within seconds instead of a minute
        "syncFrequency": "3s",
        # Toxiproxy dials its upstream inside its accept loop with no timeout: a dial that lands on a pod just
        # gone (before the Service's endpoints follow) would hold every link's new connection for the kernel's
        # two minutes of SYN retries.  Its pod asks for one retry (manifests/toxiproxy.yaml.j2).
        "allowedUnsafeSysctls": ["net.ipv4.tcp_syn_retries"],
    }
    if host_cgroup_v1():
        kubelet["failCgroupV1"] = False
    networking: dict[str, Any] = {"apiServerAddress": "127.0.0.1", "podSubnet": endpoints.POD_SUBNET,
                                  "serviceSubnet": endpoints.SERVICE_SUBNET}
    if local_node:
        networking["disableDefaultCNI"] = True
    # The API server's audit log of pod deletions (drills/k8s/audit.py), kept on the host for the kubectl watch.
    audit_args = {"audit-policy-file": f"{audit.NODE_DIR}/{audit.POLICY_NAME}",
                  "audit-log-path": f"{audit.NODE_DIR}/{audit.LOG_NAME}",
                  "audit-log-maxsize": "50", "audit-log-maxbackup": "1"}  # fmt: skip
    audit_patch = [
        *({"op": "add", "path": "/apiServer/extraArgs/-", "value": {"name": k, "value": v}}
          for k, v in audit_args.items()),
        {"op": "add", "path": "/apiServer/extraVolumes", "value": [{
            "name": "gameday-audit", "hostPath": audit.NODE_DIR, "mountPath": audit.NODE_DIR,
            "readOnly": False, "pathType": "DirectoryOrCreate"}]},
    ]  # fmt: skip
    return {
        "kind": "Cluster",
        "apiVersion": "kind.x-k8s.io/v1alpha4",
        "networking": networking,
        "nodes": [{
            "role": "control-plane",
            "image": node_image,
            "extraPortMappings": [{"containerPort": node_port, "hostPort": host_port, "listenAddress": "127.0.0.1"}
                                  for host_port, node_port in endpoints.ports_for_cluster(name).node_ports.items()],
            "extraMounts": [{"hostPath": str(audit_dir(name)), "containerPath": audit.NODE_DIR}],
        }, *({"role": "worker", "image": node_image} for _ in range(workers))],
        "kubeadmConfigPatches": [yaml.safe_dump(kubelet, sort_keys=False)],
        "kubeadmConfigPatchesJSON6902": [{"group": "kubeadm.k8s.io", "version": "v1beta4",
                                          "kind": "ClusterConfiguration", "patch": yaml.safe_dump(audit_patch)}],
    }  # fmt: skip


def audit_dir(name: str) -> Path:
    """The host directory of a cluster's audit policy and log (mounted into its node)."""
    return kind_cache() / "clusters" / name / "audit"


def prepare_audit(name: str) -> None:
    """A fresh audit directory with its policy (a deleted cluster's log of the same name is gone)."""
    directory = audit_dir(name)
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    (directory / audit.POLICY_NAME).write_text(yaml.safe_dump(audit.POLICY, sort_keys=False), encoding="utf-8")


@dataclass(frozen=True)
class Step:
    """One command of ``gameday cluster up``: what it is for and the exact argv (printed by ``--dry-run``)."""

    what: str
    argv: tuple[str, ...]

    def __str__(self) -> str:
        return f"{self.what}: {shlex.join(self.argv)}"


@dataclass
class KindCluster:
    """A kind cluster named ``name``; its kube context is ``kind-<name>`` (allowed by default).

    ``node_image``: use this node image instead of building one; ``pull``: use upstream images where a
    registry can be reached; ``kubeconfig``: where kind writes the context (default ``$KUBECONFIG`` or
    ``~/.kube/config``); ``echo`` prints progress lines; ``workers``: worker nodes beside the control plane (0: the
    single node of every other drill).
    """

    name: str = "gameday"
    kubeconfig: Path | None = None
    echo: Callable[[str], None] = field(default=lambda _line: None)
    node_image: str | None = None
    pull: bool = False
    workers: int = 0
    #: gameday HTTPS front: the runbook world whose hostnames it serves (drills/k8s/front.py WorldLike; default
    #: the target's world once there is a target, else the team runbook's names, front.RunbookHosts)
    world: Any = None
    progress: Progress = field(init=False)

    def __post_init__(self) -> None:
        if not 0 <= self.workers <= MAX_WORKERS:
            raise TargetError(f"--workers: {self.workers} is not between 0 and {MAX_WORKERS}")
        self.progress = Progress(echo=self.echo, prefix=f"cluster {self.name}")
        if self.world is None:  # gameday HTTPS front
            from drills.k8s.front import RunbookHosts

            self.world = RunbookHosts()

    @property
    def context(self) -> str:
        return f"kind-{self.name}"

    @property
    def flannel(self) -> bool:
        """Pod networking across nodes by flannel: workers on our node image (kindnetd does it on kind's own)."""
        return self.workers > 0 and self.node_image is None

    @property
    def config_path(self) -> Path:
        return kind_cache() / "clusters" / self.name / "kind-config.yaml"

    def _kubeconfig_args(self) -> list[str]:
        return ["--kubeconfig", str(self.kubeconfig)] if self.kubeconfig else []

    # ---------------------------------------------------------------- tools
    def kind(self) -> str:
        """kind ``KIND_VERSION``, built from its Go module once (cached), whatever else is on PATH."""
        from drills.k8s.build.node import kind_binary

        cached = kind_cache() / "bin" / f"kind-{KIND_VERSION}"
        return str(cached if cached.exists() else kind_binary(self.progress))

    def _run(self, argv: Sequence[str], what: str, timeout: float = 600.0) -> str:
        try:
            result = subprocess.run(list(argv), capture_output=True, text=True, timeout=timeout)
        except FileNotFoundError:
            raise TargetError(f"{what}: {argv[0]} not found") from None
        except subprocess.TimeoutExpired:
            raise TargetError(f"{what}: no result after {timeout:.0f} s") from None
        if result.returncode != 0:
            tail = (result.stderr or result.stdout).strip().splitlines()[-5:]
            raise TargetError(f"{what} failed: " + " | ".join(tail))
        return result.stdout

    # ---------------------------------------------------------------- the plan (--dry-run)
    def plan(self) -> list[Step]:
        """What :meth:`up` does, in order; builds are named by what they produce (cached ones are skipped)."""
        kind = str(kind_cache() / "bin" / f"kind-{KIND_VERSION}")
        node = self.node_image or "gameday/kind-node:<k8s version>-<key> (built here unless cached)"
        from drills.k8s.build.apps import app_images
        from drills.k8s.build.toxiproxy import image_tag as toxiproxy_tag

        apps = [i.tag for i in app_images() if not (self.pull and i.tag in UPSTREAM_IMAGES)]
        tags = [*apps, toxiproxy_tag()]  # Toxiproxy: imported from its Go build (build/toxiproxy.py), loaded with them
        nodes = [node_container(self.name), *worker_containers(self.name, self.workers)]
        network: list[Step] = []
        if self.flannel:
            from drills.k8s import flannel
            from drills.k8s.build.flannel import image_tag as flannel_tag

            tags.append(flannel_tag())
            network = [Step("flannel (host-gw) on every node, wait until each node's CNI configuration is written",
                            ("kubectl", "--context", self.context, *flannel.rollout_argv()))]
        return [
            Step("check the Docker daemon answers", ("docker", "info", "--format", "{{.ServerVersion}}")),
            Step(f"build kind {KIND_VERSION} unless cached", ("go", "install", f"sigs.k8s.io/kind@{KIND_VERSION}")),
            Step("build the node image unless cached", ("bash", "tools/kind/node-image.sh", node)),
            *(Step(f"build {tag} unless cached", ("docker", "build", "-t", tag)) for tag in apps),
            Step(f"build {toxiproxy_tag()} unless cached", ("docker", "import", "-", toxiproxy_tag())),
            *([Step("build flanneld and flannel-conf unless cached, import them as one image",
                    ("go", "build", "github.com/flannel-io/flannel"))] if self.flannel else []),
            Step(f"save {', '.join(tags)} unless an archive of these IDs is cached, then import it into "
                 f"{'the node' if len(nodes) == 1 else ', '.join(nodes) + ' (the workers: the backend releases only)'}"
                 " as soon as its containerd answers (beside the creation)",
                 ("docker", *import_argv(node_container(self.name))[1:])),
            Step("create the cluster (skipped when it exists)",
                 (kind, "create", "cluster", "--name", self.name, "--config", str(self.config_path), "--wait",
                  CREATE_WAIT, *self._kubeconfig_args())),
            *network,
            Step("CoreDNS: answer cluster.local only",
                 ("kubectl", "-n", "kube-system", "patch", "configmap/coredns", "--patch-file", "<Corefile>")),
            # gameday HTTPS front: the runbook's URLs on 127.0.0.1:443
            Step("CA and certificate for the runbook's hostnames unless valid ones are cached",
                 ("openssl", "x509", "-req", "-out", str(self.config_path.with_name("tls") / "server.crt"))),
            Step("server-side apply the stack rendered from the runbook (drills/k8s/stack.py), the HTTPS front and "
                 "its TLS Secret, and wait until ready",
                 ("kubectl", "--context", self.context, "apply", "--server-side", "-f", "-")),
            Step("metrics-server in kube-system (kubectl top), wait until its APIService is Available",
                 ("kubectl", "--context", self.context, "wait", "--for=condition=Available",
                  "apiservice/v1beta1.metrics.k8s.io")),
        ]  # fmt: skip

    # ---------------------------------------------------------------- doing it
    def exists(self) -> bool:
        return self.name in self._run([self.kind(), "get", "clusters"], "kind get clusters").split()

    def network_images(self) -> list[str]:
        """flannel's image when the cluster needs it (built unless cached), else none."""
        if not self.flannel:
            return []
        from drills.k8s.build.flannel import flannel_image

        return [flannel_image(self.progress)[0]]

    def build(self, prepare_only: bool = False) -> tuple[str | None, list[str]]:
        """The node image and the app images, built in parallel where missing (Go builds use the CPU,
        debootstrap mostly the network).

        ``prepare_only``: only what needs no Kubernetes binaries (the node's debootstrapped roots, the base
        and app images), so it can run while ``make k8s-testenv`` compiles; returns no node image then.
        """
        from drills.k8s.build.apps import app_images, build_app_images
        from drills.k8s.build.node import node_image, prepare
        from drills.k8s.build.toxiproxy import toxiproxy_image  # the network fault's links (manifests/toxiproxy)

        images = [i for i in app_images() if not (self.pull and i.tag in UPSTREAM_IMAGES)]

        def node() -> str | None:
            if self.node_image:
                return self.node_image
            if prepare_only:
                prepare(self.progress)
                return None
            return node_image(self.progress)

        before = dict(self.progress.times)
        try:
            with ThreadPoolExecutor(max_workers=2, thread_name_prefix="build") as pool:
                node_tag = pool.submit(node)
                apps = pool.submit(build_app_images, self.progress, images)
                return node_tag.result(), [*apps.result(), toxiproxy_image(self.progress)[0]]
        finally:
            self.progress.record(BUILD_TIMES, since=before)

    def create(self, node_image: str) -> None:
        """``kind create cluster`` from the generated config, unless the cluster exists (idempotent)."""
        config = kind_config(node_image, local_node=self.node_image is None, name=self.name, workers=self.workers)
        if self.exists():
            self.refuse_other_configuration(config)
            self.progress.cached("create", f"kind cluster {self.name!r} exists")
            return
        self.check_ports_free()
        self.config_path.parent.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        prepare_audit(self.name)
        with self.progress.stage("create", f"create kind cluster {self.name!r} ({node_image})"):
            self._run([self.kind(), "create", "cluster", "--name", self.name, "--config", str(self.config_path),
                       "--wait", CREATE_WAIT, *self._kubeconfig_args()], "kind create cluster", timeout=900)

    def refuse_other_configuration(self, config: dict[str, Any]) -> None:
        """An existing cluster made from another configuration (say, before its kubelet allowed a sysctl the stack
        asks for) would take the stack and fail it pod by pod; say so before anything is applied.  The node image
        is left out: a newer build of it does not change what the cluster allows."""

        def settings(cfg: dict[str, Any]) -> dict[str, Any]:
            return {**cfg, "nodes": [{k: v for k, v in n.items() if k != "image"} for n in cfg.get("nodes", [])]}

        try:
            created = yaml.safe_load(self.config_path.read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            created = None
        if not isinstance(created, dict) or settings(created) != settings(config):
            workers = f" --workers {self.workers}" if self.workers else ""
            raise TargetError(f"kind cluster {self.name!r} was created with another configuration than this gameday "
                              f"makes ({self.config_path}; a different --workers?): `gameday cluster down --name "
                              f"{self.name}`, then `gameday cluster up{workers}`")

    def check_ports_free(self) -> None:
        """Refuse early, naming who holds a port: docker's own error comes after a minute of node start-up."""
        for port in endpoints.ports_for_cluster(self.name).node_ports:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                # as docker-proxy binds: connections of a cluster just deleted linger in TIME_WAIT
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind(("127.0.0.1", port))
                    continue
                except PermissionError:  # gameday HTTPS front: 443 is privileged, docker (root) binds it
                    if docker.port_holder(port) is None:
                        continue
                except OSError:
                    pass
            holder = docker.port_holder(port)
            if holder and holder.endswith("-control-plane"):
                other = holder.removesuffix("-control-plane")
                hint = f"kind cluster {other!r} holds it: `gameday cluster down --name {other}`"
            else:
                hint = f"held by {holder!r}" if holder else "held by another process (`ss -ltnp`)"
            raise TargetError(f"cannot create kind cluster {self.name!r}: 127.0.0.1:{port} is taken ({hint})")

    def restrict_dns(self, target: KubernetesTarget) -> list[str] | None:
        """Replace the Corefile with one that answers cluster.local only and restart CoreDNS if it changed;
        returns the command that waits for that rollout (run it later: the old pods answer meanwhile, so the
        images load and the stack starts beside it), or ``None`` when nothing changed."""
        from datetime import UTC, datetime

        core, apps = target.core, target.apps
        current = core.read_namespaced_config_map("coredns", "kube-system")
        selector = apps.read_namespaced_deployment("coredns", "kube-system").spec.template.spec.node_selector or {}
        pinned = not self.workers or CONTROL_PLANE in selector
        if (current.data or {}).get("Corefile") == CLUSTER_ONLY_COREFILE and pinned:
            return None
        with self.progress.stage("CoreDNS", "CoreDNS: cluster.local only"):
            core.patch_namespaced_config_map("coredns", "kube-system", {"data": {"Corefile": CLUSTER_ONLY_COREFILE}})
            stamp = datetime.now(UTC).isoformat()
            template: dict[str, Any] = {"metadata": {"annotations": {"gameday.io/corefile": stamp}}}
            if self.workers:  # on the node no drill stops (CoreDNS tolerates its taint already)
                template["spec"] = {"nodeSelector": {CONTROL_PLANE: ""}}
            apps.patch_namespaced_deployment("coredns", "kube-system", {"spec": {"template": template}})
        return [*target.kubectl_argv(), "-n", "kube-system", "rollout", "status", "deployment/coredns",
                "--timeout=180s"]

    def metrics_server(self, target: KubernetesTarget) -> list[str]:
        """Apply metrics-server in kube-system (the runbook's ``kubectl top``; its image is preloaded in our node
        image); returns the command that waits until its APIService is Available."""
        import json

        from drills.k8s import metrics_server

        with self.progress.stage("metrics-server", "metrics-server for kubectl top"):
            argv = [*target.kubectl_argv(), "apply", "--server-side", "--force-conflicts", "--field-manager=gameday",
                    "-f", "-"]
            objects = metrics_server.objects()
            if self.workers:  # kubectl top nodes must answer while a worker is lost
                pin_to_control_plane([o for o in objects if o["kind"] == "Deployment"], None)
            result = subprocess.run(argv, input=json.dumps(metrics_server.as_list(objects)), capture_output=True,
                                    text=True, timeout=120)  # fmt: skip
            if result.returncode != 0:
                raise TargetError(f"apply metrics-server failed: {result.stderr.strip()[-300:]}")
        return [*target.kubectl_argv(), *metrics_server.wait_argv()]

    def network(self, target: KubernetesTarget) -> None:
        """flannel on every node, and a wait until each node's CNI configuration holds its own subnet: before
        anything else starts a pod (a pod started on a worker before would get the node image's single-node
        addresses)."""
        import json

        from drills.k8s import flannel

        with self.progress.stage("flannel", "flannel (host-gw): every node's pod subnet routed"):
            argv = [*target.kubectl_argv(), "apply", "--server-side", "--force-conflicts", "--field-manager=gameday",
                    "-f", "-"]
            control_plane = target.core.read_node(node_container(self.name)).status.addresses or []
            api_host = next((a.address for a in control_plane if a.type == "InternalIP"), None)
            objects = flannel.objects(api_host=api_host)
            result = subprocess.run(argv, input=json.dumps(flannel.as_list(objects)), capture_output=True, text=True,
                                    timeout=120)  # fmt: skip
            if result.returncode != 0:
                raise TargetError(f"apply flannel failed: {result.stderr.strip()[-300:]}")
            self._run([*target.kubectl_argv(), *flannel.rollout_argv()], "flannel rollout", timeout=200)

    def delete(self) -> None:
        if not self.exists():
            self.unpublish()  # gameday HTTPS front: a stale /etc/hosts block, a trusted CA
            return
        with self.progress.stage("delete", f"delete kind cluster {self.name!r}"):
            self._run([self.kind(), "delete", "cluster", "--name", self.name, *self._kubeconfig_args()],
                      "kind delete cluster", timeout=300)
        shutil.rmtree(audit_dir(self.name), ignore_errors=True)
        self.unpublish()  # gameday HTTPS front

    # ---------------------------------------------------------------- gameday HTTPS front (the runbook's URLs)
    def tls(self) -> Any:
        """This cluster's CA and the front's certificate for the world's hostnames (cached while valid)."""
        from drills.k8s.front import hostnames
        from drills.k8s.tls import ensure_tls

        return ensure_tls(self.name, hostnames(self.world))

    def front(self, target: KubernetesTarget) -> list[dict[str, Any]]:
        """The TLS Secret and the front (Deployment + NodePort Service), applied with the stack.  None while the
        app image does not ship drills/k8s/front.py (APP_SOURCES): its pod could not start."""
        from drills.k8s.build.apps import APP_SOURCES
        from drills.k8s.front import front_objects
        from drills.k8s.tls import tls_secret

        self.world = target.world
        if "drills/k8s/front.py" not in APP_SOURCES:
            self.echo(f"cluster {self.name}: HTTPS front skipped (drills/k8s/front.py is not in APP_SOURCES)")
            return []
        return [tls_secret(self.tls(), self.world.namespace), *front_objects(self.world)]

    def publish(self, hosts: bool = True, trust: bool = False) -> list[str]:
        """Host side of the runbook's URLs: the /etc/hosts block and (``trust``) the CA in the system trust
        store; without ``trust`` the lines say where the CA is and the ``curl --cacert`` form."""
        from drills.k8s import hosts as etc_hosts
        from drills.k8s import tls as tls_mod
        from drills.k8s.front import hostnames, runbook_urls

        lines: list[str] = []
        names = hostnames(self.world)
        if hosts:
            changed = etc_hosts.write_hosts(self.name, names)
            lines.append(f"{etc_hosts.hosts_file()}: {' '.join(names)} -> 127.0.0.1"
                         + ("" if changed else " (already there)"))
        files = self.tls()
        health = runbook_urls(self.world)["health"]
        if trust:
            anchor = tls_mod.trust(files.ca_cert, self.name)
            lines.append(f"CA trusted system-wide ({anchor}): curl -I {health}")
        else:
            lines.append(f"CA {files.ca_cert} (not trusted; `gameday cluster up --trust` trusts it): "
                         f"{tls_mod.curl_hint(files, health)}")
        return lines

    def unpublish(self) -> list[str]:
        """Undo :meth:`publish`: the /etc/hosts block and the trusted CA, each only when present."""
        from drills.k8s import hosts as etc_hosts
        from drills.k8s import tls as tls_mod

        lines = []
        if etc_hosts.remove_hosts(self.name):
            lines.append(f"{etc_hosts.hosts_file()}: the '# BEGIN gameday {self.name}' block removed")
        if tls_mod.untrust(self.name):
            lines.append(f"the CA of {self.name} removed from the system trust store")
        for line in lines:
            self.echo(f"cluster {self.name}: {line}")
        return lines

    def target(self, **kwargs: Any) -> KubernetesTarget:
        """The drill target for this cluster (kubeconfig as kind wrote it)."""
        kwargs.setdefault("kubectl", require_tools("kubectl")["kubectl"])
        kwargs.setdefault("kubeconfig", self.kubeconfig)
        return KubernetesTarget(self.context, **kwargs)

    def up(self, timeout: float = 600.0, **target_kwargs: Any) -> KubernetesTarget:
        """Everything a drill needs: images, cluster, DNS, images loaded, manifests applied, all ready."""
        require_tools("docker", "kubectl")
        docker.daemon_version()
        node_image, tags = self.build()
        if node_image is None:  # only a prepare-only build returns none
            raise TargetError("no kind node image was built")
        from drills.k8s.build.versions import BACKEND_REPO

        loading = BackgroundLoad(self.name, tags, self.progress, workers=self.workers,
                                 network_tags=self.network_images(),
                                 worker_tags=[t for t in tags if t.startswith(f"{BACKEND_REPO}:")],
                                 ).start()  # beside kind create (image_load.py)
        try:
            self.create(node_image)
        except BaseException:
            loading.cancel()
            raise
        target = self.target(**target_kwargs)
        try:
            if self.flannel:  # pods only once every node has its own subnet: CoreDNS's restart included
                with self.progress.stage("load", f"load {len(tags)} images into {len(loading.nodes)} nodes (begun "
                                                 "beside create)"):
                    loading.join()
                self.network(target)
            dns_rollout = self.restrict_dns(target)
            if not self.flannel:
                with self.progress.stage("load", f"load {len(tags)} images into the node (begun beside create)"):
                    loading.join()
            metrics_ready = self.metrics_server(target)  # starts beside the stack; waited for at the end
            with self.progress.stage("apply", "apply the stack with the runbook's names and wait until ready"):
                keys = {tag: docker.image_key(tag) or "" for tag in tags}
                target.apply(timeout=timeout, images=UPSTREAM_IMAGES if self.pull else None, image_keys=keys,
                             extra=self.front(target), workers=self.workers)
            for argv, what in ((metrics_ready, "metrics-server"), (dns_rollout, "CoreDNS rollout")):
                if argv is not None:
                    self._run(argv, what, timeout=200)
        except BaseException:
            target.close()
            raise
        return target

