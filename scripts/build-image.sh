#!/usr/bin/env bash
# Builds the sluice container image from the Dockerfile with buildah (no Docker engine needed),
# then checks it: `sluice --version`, `sluice validate` of the shipped config, and a short
# `sluice tail` of sample CRI logs inside a container of the image.
#
#   bash scripts/build-image.sh [--tag NAME] [--no-run] [--base IMAGE] [--refresh-base]
#
#   --tag NAME      image name (default sluice:dev; stored as localhost/sluice:dev)
#   --no-run        build only, skip the checks
#   --base IMAGE    base image for both stages, used as it is (pulled when not in local storage)
#   --refresh-base  make the locally built Debian base again (new debootstrap), see below
#
# Made for a Debian 12 machine as root, non-interactive (CI=true is fine): installs buildah (and
# debootstrap when needed) with apt-get if missing. The base, docker.io/library/debian:
# bookworm-slim, is pulled when a registry is reachable; where none is (a machine that only
# reaches Debian's mirrors) an equivalent is made with `debootstrap --variant=minbase bookworm`
# from the mirror in /etc/apt/sources.list(.d), trimmed like the slim image and stored as
# localhost/debian:bookworm-slim. The debootstrap tarball is cached in /var/cache/sluice-image
# (SLUICE_IMAGE_CACHE) and the image stays in buildah's storage, so later runs skip both.
#
# Isolation: buildah's chroot isolation (BUILDAH_ISOLATION=chroot) runs the Dockerfile's RUN
# steps without an OCI runtime (runc/crun) or user namespaces, so it works inside VMs and
# containers that lack them. Storage: overlay, or vfs where overlay cannot work (storage on
# overlayfs, no overlay module); STORAGE_DRIVER set by the caller wins.
set -Eeuo pipefail  # -E: the ERR trap below also fires inside functions
cd "$(dirname "$0")/.."

TAG=sluice:dev
RUN_CHECKS=1
BASE=""
REFRESH_BASE=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) [ $# -ge 2 ] || { echo "build-image: --tag needs a value" >&2; exit 2; }; TAG=$2; shift 2 ;;
    --tag=*) TAG=${1#--tag=}; shift ;;
    --no-run) RUN_CHECKS=0; shift ;;
    --base) [ $# -ge 2 ] || { echo "build-image: --base needs a value" >&2; exit 2; }; BASE=$2; shift 2 ;;
    --base=*) BASE=${1#--base=}; shift ;;
    --refresh-base) REFRESH_BASE=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done

REMOTE_BASE=docker.io/library/debian:bookworm-slim
LOCAL_BASE=localhost/debian:bookworm-slim
CACHE_DIR=${SLUICE_IMAGE_CACHE:-/var/cache/sluice-image}
export BUILDAH_ISOLATION=chroot
export DEBIAN_FRONTEND=noninteractive

# --- step bookkeeping: a clear message for whichever step fails, and the time each one took ---
STEP="start"
STEP_START=$(date +%s)
TIMES=()
step() {
  finish_step
  STEP=$1
  STEP_START=$(date +%s)
  echo "=== build-image: $STEP ==="
}
finish_step() {
  if [ "$STEP" != "start" ]; then TIMES+=("$(printf '%5ss  %s' $(($(date +%s) - STEP_START)) "$STEP")"); fi
}
die() {
  echo "build-image: FAILED in step \"$STEP\": $*" >&2
  exit 1
}
trap 'rc=$?; echo "build-image: FAILED in step \"$STEP\" (command exited $rc at line $LINENO)" >&2; exit $rc' ERR

# Work to undo on any exit: temporary directories, working containers, debootstrap's mounts.
CLEANUP_DIRS=()
CLEANUP_CTRS=()
# debootstrap mounts /proc and /sys in its target; an interrupted run can leave them there, and
# neither tar nor rm -rf may walk into them.
unmount_under() {
  findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | while read -r m; do
    umount -l "$m" || true
  done
}
cleanup() {
  set +e
  trap - ERR
  local c d
  for c in "${CLEANUP_CTRS[@]}"; do buildah rm "$c" >/dev/null 2>&1; done
  for d in "${CLEANUP_DIRS[@]}"; do
    unmount_under "$d"
    rm -rf --one-file-system "$d"
  done
  # The time of each step, also when one failed.
  if [ "$STEP" != done ]; then finish_step; fi
  if [ ${#TIMES[@]} -gt 0 ]; then printf '%s\n' "${TIMES[@]}"; fi
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || die "must run as root (buildah storage in /var/lib/containers, debootstrap)"

install_missing() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "build-image: installing ${missing[*]}"
  apt-get update -qq || die "apt-get update failed"
  # No recommends: buildah would pull in runc/crun, fuse-overlayfs, slirp4netns, none of which
  # chroot isolation as root uses.
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
    || die "apt-get install ${missing[*]} failed"
}

step "tools"
install_missing buildah
if [ -z "${STORAGE_DRIVER:-}" ]; then
  mkdir -p /var/lib/containers
  root_fs=$(findmnt -n -o FSTYPE --target /var/lib/containers || true)
  # overlay cannot stack on overlayfs; without the overlay filesystem vfs is the only choice.
  overlay_ok=1
  if [ "$root_fs" = overlay ]; then overlay_ok=0; fi
  if ! grep -qw overlay /proc/filesystems && ! modprobe overlay 2>/dev/null; then overlay_ok=0; fi
  if [ "$overlay_ok" = 0 ]; then
    export STORAGE_DRIVER=vfs
    echo "build-image: using the vfs storage driver (storage on $root_fs, overlay unusable)"
  fi
fi
buildah --version

# --- base image -------------------------------------------------------------------------------

# First URI in the APT sources serving the Debian suite $1 ("bookworm", "bookworm-security"),
# from one-line .list files and deb822 .sources files alike.
apt_uri_for_suite() {
  local suite=$1 f
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [ -r "$f" ] || continue
      # deb [options] URI suite components...; options may span several fields.
      awk -v s="$suite" '$1 == "deb" {
        i = 2
        if ($i ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ }
        if ($(i + 1) == s) print $i
      }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [ -r "$f" ] || continue
      # Stanzas separated by blank lines; comment lines ignored.
      awk -v s="$suite" 'BEGIN { RS = "" } {
        n = split($0, L, "\n"); types = ""; uris = ""; suites = ""; enabled = "yes"
        for (j = 1; j <= n; j++) {
          if (L[j] ~ /^[ \t]*#/) continue
          if (L[j] ~ /^Types:/) types = L[j]
          else if (L[j] ~ /^URIs:/) uris = L[j]
          else if (L[j] ~ /^Suites:/) suites = L[j]
          else if (L[j] ~ /^Enabled:/) enabled = tolower(L[j])
        }
        if (enabled ~ /no/ || types !~ /[ \t]deb([ \t]|$)/) next
        m = split(suites, S, /[ \t]+/)
        for (k = 2; k <= m; k++) if (S[k] == s) { split(uris, U, /[ \t]+/); print U[2]; break }
      }' "$f"
    done
  } | head -n 1
}

# Makes $LOCAL_BASE: Debian 12 minbase (apt, dpkg, coreutils, bash: what debian:bookworm-slim
# holds) with docs, man pages and locales dropped like the slim image. The rootfs tarball is
# cached; the image is made from it with `buildah from scratch` + a mounted copy + commit
# (buildah has no `import`).
make_local_base() {
  local arch tarball mirror security rootfs ctr mnt
  arch=$(dpkg --print-architecture)
  tarball=$CACHE_DIR/debian-bookworm-minbase-$arch.tar
  mkdir -p "$CACHE_DIR"
  if [ "$REFRESH_BASE" = 1 ] || [ ! -s "$tarball" ]; then
    install_missing debootstrap debian-archive-keyring
    mirror=${SLUICE_DEBIAN_MIRROR:-$(apt_uri_for_suite bookworm)}
    mirror=${mirror:-http://deb.debian.org/debian}
    security=$(apt_uri_for_suite bookworm-security)
    security=${security:-http://deb.debian.org/debian-security}
    echo "build-image: debootstrap bookworm (minbase) from $mirror"
    rootfs=$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")
    CLEANUP_DIRS+=("$rootfs")
    debootstrap --variant=minbase --arch="$arch" bookworm "$rootfs" "$mirror" \
      >"$CACHE_DIR/debootstrap.log" 2>&1 \
      || { tail -20 "$CACHE_DIR/debootstrap.log" >&2; die "debootstrap failed (log: $CACHE_DIR/debootstrap.log)"; }

    # The same sources as the official image (updates and security too), from this mirror.
    rm -f "$rootfs/etc/apt/sources.list"
    cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $mirror
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # Slim: packages installed later in the image skip documentation and translations (copyright
    # files are kept), and apt keeps no downloaded .debs or package caches in image layers.
    cat >"$rootfs/etc/dpkg/dpkg.cfg.d/sluice-slim" <<'EOF'
# Container image: no documentation, manuals or translations.
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
    cat >"$rootfs/etc/apt/apt.conf.d/sluice-slim" <<'EOF'
// Container image: nothing cached by apt survives into a layer.
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
Acquire::GzipIndexes "true";
EOF
    # What the packages debootstrap installed already put there, and this machine's leftovers:
    # the runtime provides /dev, resolv.conf and the hostname.
    find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
    find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
    rm -rf "$rootfs"/usr/share/{man,groff,info,lintian,linda,locale}/* \
      "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/* "$rootfs"/var/cache/debconf/*-old \
      "$rootfs"/var/log/* "$rootfs"/tmp/* "$rootfs"/dev/* \
      "$rootfs/etc/hostname" "$rootfs/etc/resolv.conf"
    unmount_under "$rootfs"
    tar --numeric-owner --xattrs -C "$rootfs" -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf --one-file-system "$rootfs"
  else
    echo "build-image: using the cached rootfs $tarball"
  fi

  ctr=$(buildah from scratch)
  CLEANUP_CTRS+=("$ctr")
  mnt=$(buildah mount "$ctr")
  tar --numeric-owner --same-owner --same-permissions --xattrs -C "$mnt" -xf "$tarball"
  buildah umount "$ctr" >/dev/null
  buildah config --os linux --arch "$arch" \
    --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --cmd '["bash"]' \
    --label org.opencontainers.image.description="Debian 12 (bookworm) minbase made by sluice's scripts/build-image.sh" \
    "$ctr"
  buildah commit -q --rm "$ctr" "$LOCAL_BASE" >/dev/null
  CLEANUP_CTRS=()
}

have_image() { buildah inspect --type image "$1" >/dev/null 2>&1; }

step "base image"
if [ -n "$BASE" ]; then
  have_image "$BASE" || buildah pull -q "$BASE" >/dev/null || die "cannot pull the base image $BASE"
elif [ "$REFRESH_BASE" = 0 ] && have_image "$REMOTE_BASE"; then
  BASE=$REMOTE_BASE
elif [ "$REFRESH_BASE" = 0 ] && have_image "$LOCAL_BASE"; then
  BASE=$LOCAL_BASE
elif [ "$REFRESH_BASE" = 0 ] && timeout 120 buildah pull --retry 0 -q "$REMOTE_BASE" >/dev/null 2>&1; then
  BASE=$REMOTE_BASE
else
  echo "build-image: $REMOTE_BASE cannot be pulled here; making $LOCAL_BASE with debootstrap"
  make_local_base
  BASE=$LOCAL_BASE
fi
echo "build-image: base $BASE"

# --- build ----------------------------------------------------------------------------------

step "build"
version=$(sed -n 's/^project(sluice VERSION \([^ )]*\).*/\1/p' CMakeLists.txt)
revision=$(git rev-parse HEAD 2>/dev/null || true)
if [ -n "$revision" ] && ! git diff --quiet HEAD 2>/dev/null; then revision="$revision-dirty"; fi
# --layers keeps each step's result, so a rebuild after a source edit reuses the package layers;
# --pull=never because the base is in local storage now (a registry may not even be reachable).
# The labels that vary are also given with --label: buildah 1.28's layer cache keys a LABEL step
# on its text before ARG substitution, so with --layers the Dockerfile's LABEL would keep the
# revision of the first build; --label is applied when the image is committed.
buildah bud --isolation chroot --layers --pull=never \
  --build-arg BASE_IMAGE="$BASE" \
  --build-arg VERSION="$version" \
  --build-arg REVISION="$revision" \
  --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  --label org.opencontainers.image.base.name="$BASE" \
  -f Dockerfile -t "$TAG" . \
  || die "buildah bud failed"
size=$(buildah images --format '{{.Size}}' "$TAG" | head -n 1)
echo "build-image: built $TAG ($size)"

# --- checks ---------------------------------------------------------------------------------

if [ "$RUN_CHECKS" = 1 ]; then
  step "checks"
  ctr=$(buildah from --pull=never "$TAG")
  CLEANUP_CTRS+=("$ctr")
  run() { buildah run --isolation chroot "$ctr" -- "$@"; }

  out=$(run sluice --version) || die "sluice --version failed"
  echo "$out"
  [[ $out == *sluice* ]] || die "sluice --version printed \"$out\""
  if run ldd /usr/bin/sluice | grep 'not found'; then die "shared libraries missing in the image"; fi
  run sluice validate /etc/sluice/config.alloy || die "the shipped config does not validate"

  # A kubelet-style pod log directory: a full line per stream and a partial line in two pieces.
  sample=$(mktemp -d)
  CLEANUP_DIRS+=("$sample")
  dir=$sample/pods/default_image-check_0d6c5c4e-9a1b-4f3e-8c2d-7b6a5f4e3d2c/app
  mkdir -p "$dir"
  cat >"$dir/0.log" <<'EOF'
2026-01-02T03:04:05.000000001Z stdout F hello from the sluice image
2026-01-02T03:04:06.000000002Z stderr F second line on stderr
2026-01-02T03:04:07.000000003Z stdout P joined from
2026-01-02T03:04:07.000000004Z stdout F  two pieces
EOF
  buildah copy -q "$ctr" "$sample/pods" /tmp/pods >/dev/null
  # Without --url entries go to stdout as JSON lines. timeout sends SIGTERM after 3 s; sluice
  # then delivers, saves positions and exits 0 (--preserve-status keeps that exit code).
  # --foreground: otherwise timeout signals its process group as well, and a second SIGTERM
  # that arrives after sluice handled the first makes it exit at once (status 1), by design.
  tail_out=$(run timeout --foreground --preserve-status -s TERM 3 \
    sluice tail /tmp/pods --storage.path /tmp/sluice-state) \
    || die "sluice tail exited non-zero: $tail_out"
  echo "$tail_out"
  for want in '"line":"hello from the sluice image"' '"line":"second line on stderr"' \
              '"line":"joined from two pieces"' '"namespace":"default"' '"pod":"image-check"' \
              '"container":"app"' '"stream":"stderr"'; do
    grep -qF "$want" <<<"$tail_out" || die "sluice tail output lacks $want"
  done
  [ "$(grep -c '"line":' <<<"$tail_out")" -eq 3 ] || die "sluice tail printed $(grep -c '"line":' <<<"$tail_out") entries, want 3"
fi

finish_step
STEP="done"
echo "=== build-image: $TAG ready ($size, base $BASE) ==="
