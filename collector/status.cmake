# nf::collectorstatus: flowcollect's periodic one-line status (-v) and exit summary. Included
# by collector/CMakeLists.txt after the flowcollect target, which it also wires up for
# --version and the progress bar.
nf_cc_library(NAME collectorstatus
  SRCS run_status.cc
  HDRS run_status.h
  DEPS nf::collectorstats nf::progress absl::strings)
target_link_libraries(flowcollect PRIVATE nf::collectorstatus nf::progress)
# --version: on the binary only, so a version bump rebuilds one file.
target_compile_definitions(flowcollect PRIVATE NF_VERSION="${PROJECT_VERSION}")
