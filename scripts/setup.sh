#!/usr/bin/env bash
# Installs everything Hangar and its test suite need on a fresh Debian 12 machine:
# Debian packages (apt-get update first), then the npm dependencies from the lockfile.
# Safe to run again: apt and npm ci are idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the tests use. Keep this list the only place they are named.
DEBIAN_PACKAGES=(
  ca-certificates
  procps            # ps/pgrep used by process-driver tests to prove nothing is left behind
  crun runc         # the crun runtime driver (runc as its fallback)
  iproute2 nftables # 6PN: netns, veth, bridges, routes; network isolation
  gcc libc6-dev      # builds hangar-init, the crun driver's warm-container init (static C)
  busybox-static    # tests build their OCI images from it
  docker-registry   # CNCF Distribution: tests serve their images from it on loopback
  nginx-light haproxy wrk  # bench/proxy baselines and load generator
)

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null 2>&1; then sudo "$@"; else
    echo "setup: need root (or sudo) to install Debian packages: ${DEBIAN_PACKAGES[*]}" >&2; return 1; fi
}

if command -v apt-get >/dev/null 2>&1; then
  export DEBIAN_FRONTEND=noninteractive
  as_root apt-get update -qq
  as_root apt-get install -y -qq --no-install-recommends "${DEBIAN_PACKAGES[@]}" >/dev/null
else
  echo "setup: apt-get not found; install these yourself: ${DEBIAN_PACKAGES[*]}" >&2
fi

npm ci --no-audit --no-fund --loglevel=error
