# CPack .deb for flowtools: `cpack -G DEB` in the build directory writes
# flowtools_<version>_<arch>.deb. Depends is computed by dpkg-shlibdeps from the installed
# binaries (so it follows whatever libpcap/abseil the build linked), not written by hand.
set(CPACK_PACKAGE_NAME "flowtools")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_VENDOR "flowtools")
set(CPACK_PACKAGE_CONTACT "flowtools maintainers <flowtools@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "userspace NetFlow v9/IPFIX/v5 exporter (flowexport) and collector (flowcollect)")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "flowexport meters packets from a live interface or capture files into flows and\n exports them as NetFlow v9, IPFIX or NetFlow v5 over UDP. flowcollect receives\n NetFlow v5/v9 and IPFIX and writes CSV (raw records or aggregates) and/or ClickHouse.\n Includes man pages, systemd units and example configuration.")
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "${CPACK_PACKAGE_CONTACT}")
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_PRIORITY "optional")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Debug info stays in the build tree; the package ships stripped binaries.
set(CPACK_STRIP_FILES ON)
# Install under /usr: lib/systemd/system must land in /usr/lib or /lib, where systemd looks.
# The units' ExecStart paths follow this prefix (filled in at install time, docs/CMakeLists.txt).
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
# /etc/default/flowcollect is configuration: dpkg keeps the operator's edits on upgrade.
file(WRITE ${PROJECT_BINARY_DIR}/debian/conffiles "/etc/default/flowcollect\n")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_BINARY_DIR}/debian/conffiles")
set(CPACK_GENERATOR "DEB")
include(CPack)
