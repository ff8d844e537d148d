#!/usr/bin/env bash
# Build a Debian root filesystem for an image, without pulling any base image: debootstrap from the
# machine's own Debian mirror, then (optionally) a Python venv with pinned wheels from PyPI.
#
#   rootfs.sh DEST PACKAGES [REQUIREMENTS]
#     DEST          finished root filesystem (built in DEST.partial, renamed when complete: a killed
#                   build never leaves a half-built DEST behind)
#     PACKAGES      comma-separated Debian packages (debootstrap --include)
#     REQUIREMENTS  optional pip requirements file, installed into /opt/venv inside the root
#   DEBIAN_MIRROR   default: the first URIs: line of /etc/apt/sources.list.d/debian.sources
#   DEBIAN_SUITE    default: bookworm
#   DEB_CACHE       .deb cache shared by every build (default $GAMEDAY_CACHE/kind/debcache); each build works on
#                   its own hard-linked copy, so builds may run side by side
set -euo pipefail

dest=$1 packages=$2 requirements=${3:-}
suite=${DEBIAN_SUITE:-bookworm}
mirror=${DEBIAN_MIRROR:-$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)}
mirror=${mirror:-http://deb.debian.org/debian}
deb_cache=${DEB_CACHE:-${GAMEDAY_CACHE:-/var/cache/gameday}/kind/debcache}
partial="$dest.partial"
debs="$dest.debs"

command -v debootstrap >/dev/null || { echo "rootfs.sh: debootstrap is not installed (apt-get install debootstrap)" >&2; exit 1; }
mkdir -p "$deb_cache"
rm -rf "$partial" "$debs"
cleanup() {
  for m in proc sys dev/pts dev; do umount -l "$partial/$m" 2>/dev/null || true; done
  rm -rf "$debs"
}
trap cleanup EXIT

# debootstrap downloads straight into its cache dir, so two builds sharing one dir read each other's
# half-written .debs and fail validation.  Each build gets its own dir of hard links (a .deb's name carries
# its version: same name, same bytes), and hands what it downloaded back by atomic renames.
shopt -s nullglob
mkdir -p "$debs"
find "$deb_cache" -maxdepth 1 -name '*.deb' -exec cp -l -t "$debs" {} + 2>/dev/null \
  || find "$deb_cache" -maxdepth 1 -name '*.deb' -exec cp -t "$debs" {} +
debootstrap --variant=minbase --include="$packages" --cache-dir="$debs" "$suite" "$partial" "$mirror"
for deb in "$debs"/*.deb; do
  name=${deb##*/}
  [[ -e "$deb_cache/$name" ]] && continue
  ln -f "$deb" "$deb_cache/.$name.$$" 2>/dev/null || cp "$deb" "$deb_cache/.$name.$$"
  mv -f "$deb_cache/.$name.$$" "$deb_cache/$name"
done

if [[ -n "$requirements" ]]; then
  # pip inside the chroot uses the host's network, resolver and CA bundle (a machine may reach PyPI through
  # a proxy with its own CA) for the build only; none of them stays in the image
  host_ca=${PIP_CERT:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}
  cp /etc/resolv.conf "$partial/etc/resolv.conf"
  cp "$host_ca" "$partial/tmp/build-ca.crt"
  mount -t proc proc "$partial/proc"
  cp "$requirements" "$partial/tmp/requirements.txt"
  # a clean environment: the host's PIP_*/REQUESTS_CA_BUNDLE/... point at files outside the chroot
  in_root() { env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 \
    chroot "$partial" "$@"; }
  in_root python3 -m venv /opt/venv
  in_root /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check -q --cert /tmp/build-ca.crt \
    -r /tmp/requirements.txt
  umount "$partial/proc"
  rm -f "$partial/tmp/requirements.txt" "$partial/tmp/build-ca.crt"
  : > "$partial/etc/resolv.conf"
fi

# what an image does not need
rm -rf "$partial"/var/cache/apt/archives/*.deb "$partial"/var/lib/apt/lists/* \
       "$partial"/usr/share/doc/* "$partial"/usr/share/man/* "$partial"/usr/share/info/* \
       "$partial"/var/log/*.log
rm -rf "$dest"
mv "$partial" "$dest"
echo "rootfs.sh: $dest ($(du -sh "$dest" | cut -f1))"
