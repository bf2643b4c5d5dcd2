#!/usr/bin/env bash
# Builds edgert's Debian packages for ARCH into dist/: arm64 cross-compiled on this x86_64
# Debian 12 host against a sysroot of arm64 packages (cross/make-sysroot.sh), amd64 natively.
# Depends come from dpkg-shlibdeps for the target (for arm64 through the sysroot's dpkg
# database); the script then checks each package's architecture and that every ELF file in
# it is built for ARCH, and runs lintian on them (cross/lintian-overrides.txt lists the
# accepted tags, each with its reason).   Usage: cross/build-debs.sh arm64|amd64
# EDGERT_DEB_BUILD_DIR: package from that existing build folder (CI reuses its test builds;
# it is reconfigured for /usr and Debian's multiarch libdir, which recompiles one file).
set -euo pipefail
cd "$(dirname "$0")/.."
ARCH="${1:?usage: cross/build-debs.sh arm64|amd64}"
JOBS="${EDGERT_JOBS:-$(nproc)}"
B="${EDGERT_DEB_BUILD_DIR:-build-deb-$ARCH}"
args=(-DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr)
[ -n "${EDGERT_DEB_BUILD_DIR:-}" ] || args+=(-DEDGERT_WITH_TESTS=OFF)
case "$ARCH" in
  arm64)
    SYS="${EDGERT_SYSROOT:-$PWD/build-arm64-sysroot}"
    [ -f "$SYS/var/lib/dpkg/info/format" ] || bash cross/make-sysroot.sh arm64 "$SYS"
    args+=(-DCMAKE_TOOLCHAIN_FILE=cross/toolchains/aarch64-linux-gnu.cmake -DEDGERT_SYSROOT="$SYS")
    export DPKG_ADMINDIR="$SYS/var/lib/dpkg"
    multiarch=aarch64-linux-gnu
    elf="ARM aarch64" ;;
  amd64)
    [ "$(dpkg --print-architecture)" = amd64 ] || { echo "build-debs: amd64 packages build natively on amd64"; exit 1; }
    multiarch=x86_64-linux-gnu
    elf="x86-64" ;;
  *) echo "build-debs: unknown architecture '$ARCH' (arm64 or amd64)"; exit 1 ;;
esac
# GNUInstallDirs picks Debian's multiarch libdir only for native builds: say it.
args+=(-DCMAKE_INSTALL_LIBDIR="lib/$multiarch")
cmake -S . -B "$B" -G Ninja "${args[@]}" >/dev/null
cmake --build "$B" -j "$JOBS"
rm -f "$B"/*.deb
(cd "$B" && cpack -G DEB >/dev/null)
mkdir -p dist
rm -f dist/*_"$ARCH".deb
mv "$B"/*_"$ARCH".deb dist/
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
for deb in dist/*_"$ARCH".deb; do
  [ "$(dpkg-deb -f "$deb" Architecture)" = "$ARCH" ] || { echo "build-debs: $deb is not $ARCH"; exit 1; }
  rm -rf "$tmp/x" && dpkg-deb -x "$deb" "$tmp/x"
  while IFS= read -r f; do
    if file "$f" | grep -q ELF && ! file "$f" | grep -q "$elf"; then
      echo "build-debs: $f in $deb is not a $ARCH binary"; exit 1
    fi
  done < <(find "$tmp/x" -type f)
  echo "$(basename "$deb"): $(dpkg-deb -f "$deb" Depends)"
done
# The device package must not pull the ONNX importer in.
tools="$(ls dist/edgert-tools_*_"$ARCH".deb)"
if dpkg-deb -f "$tools" Depends | grep -qE "onnx|protobuf|edgert-builder"; then
  echo "build-debs: $tools depends on the builder: $(dpkg-deb -f "$tools" Depends)"; exit 1
fi
if command -v lintian >/dev/null; then
  # Tags accepted on purpose, one per line with its reason (cross/lintian-overrides.txt).
  suppress="$( (grep -v "^#" cross/lintian-overrides.txt || true) | cut -d" " -f1 | paste -sd, -)"
  lintian --fail-on error,warning --suppress-tags "$suppress" dist/*_"$ARCH".deb
  echo "build-debs: lintian clean (accepted: $suppress)"
else
  echo "build-debs: lintian not installed: packages not checked (apt-get install lintian)"
fi
