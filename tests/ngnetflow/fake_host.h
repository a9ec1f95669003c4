// A simulated FreeBSD host for running the generated shell scripts on Linux (tests only).
//
// fake_freebsd is one binary installed under the names ngctl, kldstat, kldload, ifconfig,
// ipfw, uname and id in a directory put first on PATH. Each call rebuilds the host's netgraph
// model by replaying a journal kept in $NF_FAKE_STATE, runs the command against it and
// appends what changed. Tests then load the same journal to check the final graph.
//
// ngctl -f stops at the first failing line and exits 71 (EX_OSERR), like current FreeBSD
// (usr.sbin/ngctl/main.c ReadFile); with $NF_FAKE_STATE/ngctl_goes_on it reports the line and
// goes on, like the older versions the notes cite.
//
// Failure injection: if $NF_FAKE_STATE/fail holds an ngctl command line, that command fails
// once (then the file is renamed fail.used). With $NF_FAKE_STATE/fail_silent present the
// failure is silent: no message and exit status 0, as an old ngctl -f could behave, so only
// the scripts' verification step can notice it.
#ifndef NF_TESTS_NGNETFLOW_FAKE_HOST_H_
#define NF_TESTS_NGNETFLOW_FAKE_HOST_H_

#include <string>

#include "absl/status/statusor.h"
#include "tests/ngnetflow/netgraph_model.h"

namespace nf::ng::model {

// Journal lines: "iface NAME ether|other", "preload ipfw", "module M", "ngctl LINE",
// "ipfw ARG...".
absl::StatusOr<Netgraph> LoadHost(const std::string& state_dir);
void AppendJournal(const std::string& state_dir, const std::string& line);

}  // namespace nf::ng::model

#endif  // NF_TESTS_NGNETFLOW_FAKE_HOST_H_
