# Included at the end of exporter/CMakeLists.txt: the multi-core flow meter (flowexport
# --threads N). Kept in its own file so the module builds independently of the others.

# nf::shardedmeter: N FlowTable shards on N worker threads, fed and drained over SPSC rings
# (exporter/spsc_ring.h, header-only).
nf_cc_library(NAME shardedmeter
  SRCS sharded_meter.cc
  HDRS sharded_meter.h spsc_ring.h
  DEPS nf::flowtable nf::packet nf::common Threads::Threads absl::status absl::statusor
       absl::strings absl::function_ref)

# flowexport --threads N / --ring-full block|drop.
if(TARGET flowexport)
  target_link_libraries(flowexport PRIVATE nf::shardedmeter)
endif()
