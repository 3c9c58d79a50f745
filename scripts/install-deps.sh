#!/usr/bin/env bash
# Installs every build and test dependency from Debian 12 packages, by name.
# Idempotent: packages already present are not touched, and apt is only asked
# when something is missing. Used by both `make demo` and `make test`.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  clang lld libclang-rt-14-dev clang-format clang-tidy
  protobuf-compiler libprotobuf-dev
  libyaml-cpp-dev libsimdjson-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  libnftnl-dev libmnl-dev libnetfilter-queue-dev
  libboost1.81-dev libboost-json1.81-dev libssl-dev
  nftables iproute2 conntrack procps
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing packages: ${missing[*]}" >&2
  echo "install-deps: run as root (or install them with apt-get) and try again" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}"
