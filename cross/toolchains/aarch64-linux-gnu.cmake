# Cross-compiling for 64-bit Arm Linux (Jetson Orin / Thor userland, Debian 12 arm64) on an
# x86_64 Debian 12 host with Debian's g++-aarch64-linux-gnu, against a sysroot of extracted
# arm64 packages (cross/make-sysroot.sh). Host tools (protoc, flatc, nvcc) stay the host's:
# the kernels' fatbin is device code and does not depend on the host CPU.
#   cmake -DCMAKE_TOOLCHAIN_FILE=cross/toolchains/aarch64-linux-gnu.cmake \
#         -DEDGERT_SYSROOT=/path/to/sysroot-arm64 ...
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)
set(CMAKE_CXX_COMPILER aarch64-linux-gnu-g++)
set(CMAKE_LIBRARY_ARCHITECTURE aarch64-linux-gnu)
if(NOT EDGERT_SYSROOT)
  set(EDGERT_SYSROOT "$ENV{EDGERT_SYSROOT}")
endif()
set(ENV{EDGERT_SYSROOT} "${EDGERT_SYSROOT}")  # for try_compile's own configure
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES EDGERT_SYSROOT)
if(NOT EDGERT_SYSROOT)
  message(FATAL_ERROR "set EDGERT_SYSROOT (cross/make-sysroot.sh arm64 DIR makes one)")
endif()
set(CMAKE_SYSROOT "${EDGERT_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH "${EDGERT_SYSROOT}")
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)  # protoc, flatc, nvcc: the host's
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)
# pkg-config (GStreamer) reads the sysroot's .pc files and prefixes their paths.
set(ENV{PKG_CONFIG_SYSROOT_DIR} "${EDGERT_SYSROOT}")
set(ENV{PKG_CONFIG_LIBDIR}
    "${EDGERT_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${EDGERT_SYSROOT}/usr/share/pkgconfig")
# Tests run under qemu-aarch64 with the sysroot's libraries.
set(CMAKE_CROSSCOMPILING_EMULATOR qemu-aarch64;-L;${EDGERT_SYSROOT})
