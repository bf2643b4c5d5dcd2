# Debian packages (cross/build-debs.sh): one per component, named as Debian names them, with
# Depends computed by dpkg-shlibdeps for the target architecture (a cross build points it at
# the sysroot's dpkg database through DPKG_ADMINDIR, see cross/make-sysroot.sh).
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME edgert)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "edgert")
set(CPACK_PACKAGE_CONTACT "edgert developers <edgert@lists.edgert.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "edge inference SDK: ONNX to optimized engines, CUDA and CPU runtime")
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
set(CPACK_DEBIAN_PACKAGE_HOMEPAGE "https://github.com/edgert/edgert")
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_ENABLE_COMPONENT_DEPENDS ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
if(CMAKE_SYSTEM_PROCESSOR MATCHES "aarch64|arm64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE arm64)
elseif(CMAKE_SYSTEM_PROCESSOR MATCHES "x86_64|AMD64")
  set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE amd64)
endif()
# Libraries of this build that dpkg-shlibdeps must find before the system's.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS ${CMAKE_BINARY_DIR}/runtime ${CMAKE_BINARY_DIR}/builder)
if(CMAKE_CROSSCOMPILING AND CMAKE_SYSROOT)
  # The target's libraries are in the sysroot, not in the host's multiarch directories.
  list(APPEND CPACK_DEBIAN_PACKAGE_SHLIBDEPS_PRIVATE_DIRS
       ${CMAKE_SYSROOT}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}
       ${CMAKE_SYSROOT}/lib/${CMAKE_LIBRARY_ARCHITECTURE}
       ${CMAKE_SYSROOT}/usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-pthread)
endif()

set(CPACK_COMPONENTS_ALL runtime dev builder)
if(EDGERT_WITH_GSTREAMER)
  list(APPEND CPACK_COMPONENTS_ALL gstreamer)
endif()
set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME libedgert${PROJECT_VERSION_MAJOR})
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "edgert runtime library\n libedgert runs edgert engines on the CPU backend everywhere and on\n NVIDIA GPUs (CUDA, cuDNN and cuBLASLt are loaded at run time when present).")
set(CPACK_DEBIAN_DEV_PACKAGE_NAME libedgert-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "edgert runtime library: development files\n The C++ headers of the edgert runtime API and the GStreamer result metadata.")
set(CPACK_DEBIAN_BUILDER_PACKAGE_NAME edgert-builder)
set(CPACK_DEBIAN_BUILDER_PACKAGE_SECTION devel)
set(CPACK_COMPONENT_BUILDER_DEPENDS runtime)
set(CPACK_COMPONENT_BUILDER_DESCRIPTION
    "edgert engine builder and command-line tools\n edgert build turns ONNX models into engines (FP32, FP16) for the host GPU, the CPU\n or Jetson targets; edgert run, bench and inspect run and examine them.")
set(CPACK_DEBIAN_GSTREAMER_PACKAGE_NAME gstreamer1.0-edgert)
set(CPACK_DEBIAN_GSTREAMER_PACKAGE_SECTION video)
set(CPACK_COMPONENT_GSTREAMER_DEPENDS runtime builder)
set(CPACK_COMPONENT_GSTREAMER_DESCRIPTION
    "edgert GStreamer elements and edge app runner\n edgertinfer, edgertoverlay, edgerttrack and edgertpublish run edgert engines in\n GStreamer pipelines; edgert-app runs whole edge apps from YAML.")
include(CPack)
