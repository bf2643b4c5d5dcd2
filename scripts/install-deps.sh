#!/usr/bin/env bash
# Installs everything edgert needs to build and test on Debian 12 (idempotent).
# Used by the README, scripts/demo.sh, scripts/test.sh and CI.
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
PKGS=(
  build-essential cmake ninja-build ccache pkg-config clang-format clang libclang-rt-14-dev
  libonnx-dev libonnx-testdata libprotobuf-dev protobuf-compiler
  libflatbuffers-dev flatbuffers-compiler libxxhash-dev libopenblas-dev
  libcli11-dev libfmt-dev nlohmann-json3-dev libyaml-cpp-dev
  libgtest-dev libgmock-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly gstreamer1.0-libav
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev
  libmosquitto-dev mosquitto libgstrtspserver-1.0-dev
  python3 python3-venv python3-numpy python3-pil python3-torch python3-torchvision python3-onnx
  g++-aarch64-linux-gnu qemu-user file lintian
)
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PKGS[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
