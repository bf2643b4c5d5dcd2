#!/usr/bin/env bash
# Builds a sysroot of Debian 12 packages for another architecture by extracting them (no
# dpkg database, no root, no multiarch on the host: some -dev packages, libonnx's among
# them, cannot be co-installed with the host's). apt resolves the dependency closure as if
# the machine were that architecture with nothing installed.
# Usage: cross/make-sysroot.sh ARCH DIR [extra packages or .deb files...]
set -euo pipefail
ARCH="${1:?architecture, e.g. arm64}"; SYS="${2:?sysroot directory}"; shift 2
# EDGERT_SYSROOT_DEV=0: only the packages named (a runtime root, as a device has).
DEV=(
  libc6-dev libstdc++-12-dev libgcc-12-dev
  libonnx-dev libprotobuf-dev libyaml-cpp-dev libflatbuffers-dev libxxhash-dev libfmt-dev
  libopenblas-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcli11-dev
)
PKGS=("$@")
[ "${EDGERT_SYSROOT_DEV:-1}" = 0 ] || PKGS+=("${DEV[@]}")
STATE="$SYS.apt"
# EDGERT_APT_ARCHIVES: a .deb cache shared between roots (CI's sysroot and package-test root
# download each package once); only the packages this root needs are extracted from it.
ARCHIVES="${EDGERT_APT_ARCHIVES:-$STATE/archives}"
mkdir -p "$STATE/lists/partial" "$ARCHIVES/partial" "$SYS"
: > "$STATE/status"
APT=(-o "APT::Architecture=$ARCH" -o "APT::Architectures=$ARCH" -o "Dir::State=$STATE"
     -o "Dir::State::Lists=$STATE/lists" -o "Dir::State::status=$STATE/status"
     -o "Dir::Cache::Archives=$ARCHIVES" -o "Debug::NoLocking=1" -o "APT::Sandbox::User=root")
echo "make-sysroot: resolving ${#PKGS[@]} packages for $ARCH"
apt-get "${APT[@]}" update -qq
apt-get "${APT[@]}" install -y -qq --download-only --no-install-recommends "${PKGS[@]}" >/dev/null
# What apt would install (name_version): the cache may hold more than this root needs.
declare -A wanted
while read -r p v; do wanted["${p}_${v}"]=1; done < <(
  apt-get "${APT[@]}" install -s --no-install-recommends "${PKGS[@]}" 2>/dev/null |
    sed -n 's/^Inst \([^ :]*\)[^ ]* (\([^ ]*\) .*/\1 \2/p')
# A dpkg database of what was extracted (var/lib/dpkg in the sysroot), with the file lists
# under the sysroot's own path: dpkg-shlibdeps, pointed at it through DPKG_ADMINDIR, then
# finds which arm64 package provides each library a cross-built binary needs, and its
# symbols file (cross/build-debs.sh).
DB="$SYS/var/lib/dpkg"
mkdir -p "$DB/info" "$DB/updates"
: > "$DB/status"
: > "$DB/available"
echo "$ARCH" > "$DB/arch"
echo 1 > "$DB/info/format"  # the multiarch layout of info/ (<pkg>:<arch>.list)
ctl="$(mktemp -d)"
n=0
# One pass over each package: its control files (cheap), then its data extracted and listed
# at once (dpkg-deb -X), so a package is decompressed once.
field() { sed -n "s/^$1: //p" "$ctl/control" | head -1; }
for deb in "$ARCHIVES"/*.deb; do
  rm -rf "${ctl:?}"/*
  dpkg-deb -e "$deb" "$ctl"
  pkg="$(field Package)"
  [ -n "${wanted["${pkg}_$(field Version)"]:-}" ] || continue
  name="$pkg"  # dpkg names a Multi-Arch: same package's files <pkg>:<arch>.*
  [ "$(field Multi-Arch)" = same ] && name="$pkg:$(field Architecture)"
  awk '/^(Package|Version|Architecture|Multi-Arch|Source|Depends|Provides|Maintainer|Description):/ {
         keep = 1; print; next } /^[ \t]/ { if (keep) print; next } { keep = 0 }' \
    "$ctl/control" >> "$DB/status"
  printf 'Status: install ok installed\n\n' >> "$DB/status"
  dpkg-deb -X "$deb" "$SYS" | sed -e 's|^\./|/|' -e 's|/$||' | grep -v '^/*$' |
    sed "s|^|$SYS|" > "$DB/info/$name.list"
  for f in shlibs symbols; do [ -f "$ctl/$f" ] && cp "$ctl/$f" "$DB/info/$name.$f"; done
  n=$((n + 1))
done
rm -rf "$ctl"
# Absolute symlinks point into the host: make them relative to the sysroot.
find "$SYS" -type l -lname '/*' | while read -r l; do
  t="$(readlink "$l")"
  ln -sfn "$(realpath -m --relative-to="$(dirname "$l")" "$SYS$t")" "$l"
done
# What update-alternatives would link on a real install: OpenBLAS's pkg-config file and the
# BLAS / LAPACK / OpenBLAS sonames (OpenCV needs libblas.so.3, libedgert libopenblas.so.0).
for multi in "$SYS"/usr/lib/*-linux-gnu; do
  if [ -f "$multi/openblas-pthread/pkgconfig/openblas.pc" ]; then
    mkdir -p "$multi/pkgconfig"
    ln -sfn ../openblas-pthread/pkgconfig/openblas.pc "$multi/pkgconfig/openblas.pc"
  fi
  for so in libblas.so.3 liblapack.so.3 libopenblas.so.0; do
    impl="$(ls "$multi"/openblas-pthread/"$so" "$multi"/*/"$so" 2>/dev/null | head -1 || true)"
    [ -e "$multi/$so" ] || [ -z "$impl" ] || ln -sfn "${impl#"$multi"/}" "$multi/$so"
  done
done
echo "make-sysroot: $n packages extracted into $SYS ($(du -sh "$SYS" | cut -f1))"
