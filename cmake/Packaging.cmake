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

# Packages: libedgert0 (runtime library), libedgert-builder0 (ONNX importer and builder library),
# libedgert-dev, edgert-tools (`edgert` run / bench / inspect: what a Jetson needs),
# edgert-builder (the builder commands of `edgert`), gstreamer1.0-edgert.
set(CPACK_COMPONENTS_ALL runtime builderlib dev tools builder)
if(EDGERT_WITH_GSTREAMER)
  list(APPEND CPACK_COMPONENTS_ALL gstreamer)
endif()
set(CPACK_STRIP_FILES ON)

# Debian's per-package documentation: copyright (machine-readable, from LICENSE) and the
# changelog of a native package, compressed reproducibly (gzip -n).
set(_deb_dir ${CMAKE_BINARY_DIR}/debian)
file(MAKE_DIRECTORY ${_deb_dir})
file(READ ${PROJECT_SOURCE_DIR}/LICENSE _license)
string(REGEX REPLACE "^MIT License\n\nCopyright \\(c\\) [^\n]*\n\n" "" _license "${_license}")
string(REGEX REPLACE "\n$" "" _license "${_license}")
string(REGEX REPLACE "\n\n" "\n.\n" _license "${_license}")
string(REGEX REPLACE "\n" "\n " _license "${_license}")
file(WRITE ${_deb_dir}/copyright
     "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"
     "Upstream-Name: edgert\nSource: ${CPACK_DEBIAN_PACKAGE_HOMEPAGE}\n\n"
     "Files: *\nCopyright: 2026 The edgert authors\nLicense: Expat\n ${_license}\n")
configure_file(${PROJECT_SOURCE_DIR}/cmake/debian/changelog.in ${_deb_dir}/changelog @ONLY)
execute_process(COMMAND gzip -9nf ${_deb_dir}/changelog)
foreach(_man edgert edgert-app)
  execute_process(COMMAND gzip -9nc ${PROJECT_SOURCE_DIR}/docs/man/${_man}.1
                  OUTPUT_FILE ${_deb_dir}/${_man}.1.gz)
endforeach()
set(_pkg_of_runtime libedgert${PROJECT_VERSION_MAJOR})
set(_pkg_of_builderlib libedgert-builder${PROJECT_VERSION_MAJOR})
set(_pkg_of_dev libedgert-dev)
set(_pkg_of_tools edgert-tools)
set(_pkg_of_builder edgert-builder)
set(_pkg_of_gstreamer gstreamer1.0-edgert)
foreach(_comp runtime builderlib dev tools builder gstreamer)
  string(TOUPPER ${_comp} _C)
  set(CPACK_DEBIAN_${_C}_PACKAGE_NAME ${_pkg_of_${_comp}})
  install(FILES ${_deb_dir}/copyright ${_deb_dir}/changelog.gz
          DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/${_pkg_of_${_comp}} COMPONENT ${_comp})
endforeach()
install(FILES ${_deb_dir}/edgert.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT tools)
install(FILES ${_deb_dir}/edgert-app.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1 COMPONENT gstreamer)

# Shared libraries: a shlibs file for the packages that link them, and ldconfig run by the
# trigger Debian policy asks for. CPack 3.25 also writes ldconfig postinst/postrm for them and
# has no switch to stop it (cross/lintian-overrides.txt). The modules without a soname (the CLI
# module, the GStreamer plugin) are left out of shlibs by CPack, with a dev warning.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
foreach(_C RUNTIME BUILDERLIB)
  set(CPACK_DEBIAN_${_C}_PACKAGE_CONTROL_EXTRA ${PROJECT_SOURCE_DIR}/cmake/debian/triggers)
endforeach()
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS_POLICY ">=")

set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "edgert runtime library\n libedgert runs edgert engines on the CPU backend everywhere and on\n NVIDIA GPUs (CUDA, cuDNN and cuBLASLt are loaded at run time when present).")
set(CPACK_DEBIAN_BUILDERLIB_PACKAGE_SECTION libs)
set(CPACK_COMPONENT_BUILDERLIB_DEPENDS runtime)
set(CPACK_COMPONENT_BUILDERLIB_DESCRIPTION
    "edgert engine builder library\n The ONNX importer, graph passes, INT8 calibration and engine writer of\n edgert, used by edgert-builder and by the GStreamer elements.")
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
set(CPACK_COMPONENT_DEV_DEPENDS runtime)
set(CPACK_COMPONENT_DEV_DESCRIPTION
    "edgert runtime library: development files\n The C++ headers of the edgert runtime API and the GStreamer result metadata.")
set(CPACK_DEBIAN_TOOLS_PACKAGE_SECTION utils)
set(CPACK_COMPONENT_TOOLS_DEPENDS runtime)
set(CPACK_COMPONENT_TOOLS_DESCRIPTION
    "edgert engine tools for devices\n edgert run, bench and inspect run, time and examine edgert engines. No ONNX\n importer: engines are built on a host (edgert-builder) for this device.")
set(CPACK_DEBIAN_BUILDER_PACKAGE_SECTION devel)
set(CPACK_COMPONENT_BUILDER_DEPENDS tools builderlib)
set(CPACK_COMPONENT_BUILDER_DESCRIPTION
    "edgert engine builder\n Adds edgert build, compare and ops: ONNX models to FP32, FP16 and calibrated\n INT8 engines for the host GPU, the CPU or Jetson Orin / Thor targets.")
set(CPACK_DEBIAN_GSTREAMER_PACKAGE_SECTION video)
set(CPACK_COMPONENT_GSTREAMER_DEPENDS runtime builderlib)
set(CPACK_COMPONENT_GSTREAMER_DESCRIPTION
    "edgert GStreamer elements and edge app runner\n edgertinfer, edgertoverlay, edgerttrack and edgertpublish run edgert engines\n in GStreamer pipelines; edgert-app runs whole edge apps from YAML.")
include(CPack)
