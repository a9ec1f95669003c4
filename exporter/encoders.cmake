# Included at the end of exporter/CMakeLists.txt: the IPFIX and NetFlow v5 encoders
# (flowexport -v 10 / -v 5). Kept in their own file so the two modules build independently.

# nf::ipfixexport: template-driven IPFIX message encoder (RFC 7011); reuses the v9 field writer.
nf_cc_library(NAME ipfixexport
  SRCS ipfix_encoder.cc
  HDRS ipfix_encoder.h
  DEPS nf::common nf::templates nf::v9export absl::status absl::statusor absl::strings)

# nf::v5export: NetFlow v5 datagram encoder (IPv4 only, fixed 48-byte records).
nf_cc_library(NAME v5export
  SRCS v5_encoder.cc
  HDRS v5_encoder.h
  DEPS nf::common nf::v9export absl::status absl::statusor absl::strings)

# flowexport -v 10 / -v 5.
target_link_libraries(flowexport PRIVATE nf::ipfixexport nf::v5export)
