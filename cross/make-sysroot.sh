#!/usr/bin/env bash
# Builds a sysroot of Debian 12 packages for another architecture by extracting them (no
# dpkg database, no root, no multiarch on the host: some -dev packages, libonnx's among
# them, cannot be co-installed with the host's). apt resolves the dependency closure as if
# the machine were that architecture with nothing installed.
# Usage: cross/make-sysroot.sh ARCH DIR [extra packages...]
set -euo pipefail
ARCH="${1:?architecture, e.g. arm64}"; SYS="${2:?sysroot directory}"; shift 2
PKGS=(
  libc6-dev libstdc++-12-dev libgcc-12-dev
  libonnx-dev libprotobuf-dev libyaml-cpp-dev libflatbuffers-dev libxxhash-dev libfmt-dev
  libopenblas-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
  "$@"
)
STATE="$SYS.apt"
mkdir -p "$STATE/lists/partial" "$STATE/archives/partial" "$SYS"
: > "$STATE/status"
APT=(-o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH" -o "Dir::State=$STATE"
     -o "Dir::State::Lists=$STATE/lists" -o "Dir::State::status=$STATE/status"
     -o "Dir::Cache::Archives=$STATE/archives" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
echo "make-sysroot: resolving ${#PKGS[@]} packages for $ARCH"
apt-get "${APT[@]}" update -qq
apt-get "${APT[@]}" install -y -qq --download-only --no-install-recommends "${PKGS[@]}" >/dev/null
n=0
for deb in "$STATE"/archives/*.deb; do
  dpkg-deb -x "$deb" "$SYS"
  n=$((n + 1))
done
# Absolute symlinks point into the host: make them relative to the sysroot.
find "$SYS" -type l -lname '/*' | while read -r l; do
  t="$(readlink "$l")"
  ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$SYS$t")" "$l"
done
# What update-alternatives would link on a real install (OpenBLAS's pkg-config file).
for multi in "$SYS"/usr/lib/*-linux-gnu; do
  if [ -f "$multi/openblas-pthread/pkgconfig/openblas.pc" ]; then
    mkdir -p "$multi/pkgconfig"
    ln -sfn ../openblas-pthread/pkgconfig/openblas.pc "$multi/pkgconfig/openblas.pc"
  fi
done
echo "make-sysroot: $n packages extracted into $SYS ($(du -sh "$SYS" | cut -f1))"
