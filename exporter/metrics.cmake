# Included at the end of exporter/CMakeLists.txt: flowexport --metrics (Prometheus).

# nf::exportmetrics: the flowexport_* metrics, published as snapshots from the capture loop.
nf_cc_library(NAME exportmetrics
  SRCS export_metrics.cc
  HDRS export_metrics.h
  DEPS nf::metrics_http)

if(TARGET flowexport)
  target_link_libraries(flowexport PRIVATE nf::exportmetrics)
endif()
