#!/usr/bin/env bash
# Assemble a kind node image with no registry: a debootstrapped Debian root with systemd, containerd, runc
# and CNI plugins from Debian, kind's own base files, kubelet/kubeadm/kubectl, and the control-plane images
# (tiny root filesystems around each static binary, tagged as kubeadm expects) preloaded into the node's
# containerd.  `kind build node-image` cannot do this offline: it pulls its base image.
#
# Inputs (environment; drills/k8s/build/node.py sets them):
#   NODE_IMAGE    tag to create, e.g. gameday/kind-node:v1.37.2-<key>
#   K8S_VERSION   e.g. v1.37.2
#   CP_BIN        kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd
#   NODE_BIN      kubelet, kubeadm, kube-proxy, coredns, crictl (kind asks crictl which images the node holds)
#   PAUSE_BIN     pause
#   KIND_FILES    kind's images/base/files (from the kind module)
#   ROOTFS_NODE   debootstrapped node root (read-only input: copied, never changed)
#   ROOTFS_PROXY  debootstrapped root with iptables for the kube-proxy image
#   WORK          scratch directory (emptied)
#   HERE          this directory (tools/kind)
#   PRELOAD_IMAGES  optional: more locally built images to preload, space-separated (gameday/metrics-server)
set -euo pipefail
: "${NODE_IMAGE:?}" "${K8S_VERSION:?}" "${CP_BIN:?}" "${NODE_BIN:?}" "${PAUSE_BIN:?}" "${KIND_FILES:?}" "${ROOTFS_NODE:?}" \
  "${ROOTFS_PROXY:?}" "${WORK:?}" "${HERE:?}"
build_ctr=gameday-node-build-$$
rm -rf "$WORK"; mkdir -p "$WORK"
trap 'docker rm -f "$build_ctr" >/dev/null 2>&1 || true' EXIT

# ---------------------------------------------------------------- control-plane images
# The tags kubeadm of this version asks for (registry.k8s.io/kube-apiserver:v1.37.2, etcd:3.7.0-0, ...).
mapfile -t wanted < <("$NODE_BIN/kubeadm" config images list --kubernetes-version "$K8S_VERSION" 2>/dev/null)
tag_of() { printf '%s\n' "${wanted[@]}" | grep -E "/$1:" | head -n1; }

component() { # tag entrypoint-json file=dest...
  local tag=$1 entry=$2; shift 2
  local root; root=$(mktemp -d "$WORK/component.XXXX")
  mkdir -p "$root/usr/local/bin" "$root/etc" "$root/tmp" "$root/var/run"
  chmod 1777 "$root/tmp"
  printf 'root:x:0:0:root:/root:/sbin/nologin\nnobody:x:65534:65534:nobody:/:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n' > "$root/etc/passwd"
  printf 'root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n' > "$root/etc/group"
  printf 'hosts: files dns\n' > "$root/etc/nsswitch.conf"
  local f
  for f in "$@"; do cp "${f%%=*}" "$root${f#*=}"; done
  local changes=(-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
  [[ -n "$entry" ]] && changes+=(-c "ENTRYPOINT $entry")
  tar -C "$root" -c . | docker import "${changes[@]}" - "$tag" >/dev/null
  rm -rf "$root"
}
images=()
for name in kube-apiserver kube-controller-manager kube-scheduler; do
  tag=$(tag_of "$name"); images+=("$tag")
  component "$tag" '' "$CP_BIN/$name=/usr/local/bin/$name"
done
tag=$(tag_of etcd); images+=("$tag"); component "$tag" '' "$CP_BIN/etcd=/usr/local/bin/etcd"
tag=$(tag_of coredns); images+=("$tag"); component "$tag" '["/coredns"]' "$NODE_BIN/coredns=/coredns"
pause_tag=$(tag_of pause); images+=("$pause_tag"); component "$pause_tag" '["/pause"]' "$PAUSE_BIN/pause=/pause"
tag=$(tag_of kube-proxy); images+=("$tag")
cp -a "$ROOTFS_PROXY" "$WORK/proxy"
install -m 0755 "$NODE_BIN/kube-proxy" "$WORK/proxy/usr/local/bin/kube-proxy"
tar -C "$WORK/proxy" -c . | docker import -c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'ENTRYPOINT ["/usr/local/bin/kube-proxy"]' - "$tag" >/dev/null
rm -rf "$WORK/proxy"
# more images built here (metrics-server for kubectl top), preloaded with these: no `kind load` at up time
read -ra preload <<< "${PRELOAD_IMAGES:-}"
images+=("${preload[@]}")
docker save -o "$WORK/control-plane.tar" "${images[@]}"
echo "node-image.sh: control-plane images ${images[*]}"

# ---------------------------------------------------------------- node root (mirrors kind's base image)
R="$WORK/node"
cp -a "$ROOTFS_NODE" "$R"
install -m 0755 "$KIND_FILES"/usr/local/bin/* "$R/usr/local/bin/"
mkdir -p "$R/kind/bin" "$R/etc/containerd" "$R/etc/default" "$R/etc/sysctl.d" "$R/etc/kubernetes/manifests" \
         "$R/etc/systemd/system/kubelet.service.d" "$R/etc/systemd/system/containerd.service.d" "$R/etc/cni/net.d" "$R/opt/cni"
install -m 0644 "$KIND_FILES/kind/README.txt" "$R/kind/"
install -m 0755 "$KIND_FILES"/kind/bin/* "$R/kind/bin/"
install -m 0644 "$KIND_FILES/etc/crictl.yaml" "$R/etc/"
install -m 0644 "$KIND_FILES/etc/default/kubelet" "$R/etc/default/"
install -m 0644 "$KIND_FILES"/etc/sysctl.d/* "$R/etc/sysctl.d/"
install -m 0644 "$KIND_FILES"/etc/systemd/system/*.service "$KIND_FILES"/etc/systemd/system/*.slice "$R/etc/systemd/system/"
install -m 0644 "$KIND_FILES"/etc/systemd/system/kubelet.service.d/* "$R/etc/systemd/system/kubelet.service.d/"
rm -f "$R/etc/systemd/system/containerd-fuse-overlayfs.service"
# Debian keeps containerd in /usr/bin, runc in /usr/sbin and the CNI plugins in /usr/lib/cni
ln -sf /usr/bin/containerd "$R/usr/local/bin/containerd"
[[ -e "$R/opt/cni/bin" ]] || ln -s /usr/lib/cni "$R/opt/cni/bin"
sed "s|@PAUSE@|$pause_tag|" "$HERE/node/containerd-config.toml" > "$R/etc/containerd/config.toml"
install -m 0644 "$HERE/node/10-gameday-bridge.conflist" "$R/etc/cni/net.d/"
install -m 0755 "$HERE/node/gameday-node-entrypoint" "$R/usr/local/bin/"
# systemd inside a container: only what kind's base image enables
find "$R/lib/systemd/system/sysinit.target.wants/" -name systemd-tmpfiles-setup.service -delete || true
rm -f "$R"/lib/systemd/system/multi-user.target.wants/* "$R"/etc/systemd/system/*.wants/* \
      "$R"/lib/systemd/system/local-fs.target.wants/* "$R"/lib/systemd/system/sockets.target.wants/*udev* \
      "$R"/lib/systemd/system/sockets.target.wants/*initctl* "$R"/lib/systemd/system/basic.target.wants/*
grep -q '^ReadKMsg=no' "$R/etc/systemd/journald.conf" || echo "ReadKMsg=no" >> "$R/etc/systemd/journald.conf"
ln -sf /usr/lib/systemd/systemd "$R/sbin/init"
chroot "$R" systemctl enable kubelet.service containerd.service undo-mount-hacks.service >/dev/null 2>&1
chroot "$R" systemctl mask systemd-binfmt.service >/dev/null 2>&1
install -m 0755 "$NODE_BIN/kubelet" "$NODE_BIN/kubeadm" "$CP_BIN/kubectl" "$R/usr/bin/"
install -m 0755 "$NODE_BIN/crictl" "$R/usr/local/bin/crictl"
printf '%s' "$K8S_VERSION" > "$R/kind/version"
rm -f "$R/etc/machine-id"; : > "$R/etc/machine-id"

# ---------------------------------------------------------------- preload the images, commit, finish
raw=gameday-build/node-raw:$K8S_VERSION
tar -C "$R" -c . | docker import - "$raw" >/dev/null
rm -rf "$R"
docker run -d --privileged --name "$build_ctr" --entrypoint sleep "$raw" infinity >/dev/null
docker cp "$WORK/control-plane.tar" "$build_ctr:/control-plane.tar"
docker exec "$build_ctr" bash -c '
  set -e
  (containerd >/tmp/containerd.log 2>&1 &)
  for _ in $(seq 60); do ctr version >/dev/null 2>&1 && break; sleep 0.5; done
  ctr -n k8s.io images import --no-unpack /control-plane.tar >/dev/null
  ctr -n k8s.io images ls -q
  pkill -x containerd; for _ in $(seq 20); do pgrep -x containerd >/dev/null || break; sleep 0.5; done
  rm -rf /control-plane.tar /tmp/* /run/containerd'
docker commit "$build_ctr" gameday-build/node-loaded:$K8S_VERSION >/dev/null
docker rm -f "$build_ctr" >/dev/null
mkdir -p "$WORK/final"
cat > "$WORK/final/Dockerfile" <<DOCKERFILE
FROM gameday-build/node-loaded:$K8S_VERSION
ENV container=docker
STOPSIGNAL SIGRTMIN+3
LABEL io.gameday.kind-node=$K8S_VERSION
ENTRYPOINT [ "/usr/local/bin/gameday-node-entrypoint", "/usr/local/bin/entrypoint", "/sbin/init" ]
CMD []
DOCKERFILE
DOCKER_BUILDKIT=0 docker build -q -t "$NODE_IMAGE" "$WORK/final" >/dev/null
docker rmi "$raw" gameday-build/node-loaded:$K8S_VERSION >/dev/null 2>&1 || true
rm -rf "$WORK"
echo "node-image.sh: $NODE_IMAGE ($(docker image inspect -f '{{.Size}}' "$NODE_IMAGE") bytes)"
