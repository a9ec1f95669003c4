# nf::exportstatus: flowexport's periodic one-line status (--verbose). Included by
# exporter/CMakeLists.txt after the flowexport target, which it also wires up for --version and
# the progress bar.
nf_cc_library(NAME exportstatus
  SRCS run_status.cc
  HDRS run_status.h
  DEPS nf::progress absl::strings)
target_link_libraries(flowexport PRIVATE nf::exportstatus nf::progress)
# --version: on the binary only, so a version bump rebuilds one file.
target_compile_definitions(flowexport PRIVATE
  NF_VERSION="${PROJECT_VERSION}" NF_PCAP_BUILD_VERSION="${PCAP_VERSION}")
