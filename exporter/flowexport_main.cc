// flowexport: meters packets (live interface or capture files) into flows and exports them as
// NetFlow v9, IPFIX or NetFlow v5 (-v 9|10|5) over UDP. This file is wiring only: the command
// line (exporter/app/export_cli.h adds the run's options) and the --ng-netflow mode; the run
// itself is nf::Run (exporter/app/export_runtime.h), and its statistics and --stats-json keys
// are described in exporter/app/export_stats.h.
#include <pcap/pcap.h>

#include <iostream>
#include <string>

#include "CLI/CLI.hpp"
#include "common/exit_status.h"
#include "exporter/app/export_cli.h"
#include "exporter/app/export_runtime.h"
#if NF_HAVE_NGNETFLOW
#include "ngnetflow/ng_setup.h"
#endif

int main(int argc, char** argv) {
  nf::ExportOptions o;
  CLI::App app{
      "flowexport: meter packets from an interface or capture files into flows and export them "
      "as NetFlow v9 (RFC 3954), IPFIX (RFC 7011) or NetFlow v5 over UDP.",
      "flowexport"};
  app.option_defaults()->always_capture_default();
  app.footer(
      "Signals: SIGINT/SIGTERM stop and export every flow; SIGUSR1 prints statistics; SIGHUP\n"
      "reloads --routes and --asn-db (the old data stays if a file is bad).\n"
      "\n"
      "Examples:\n"
      "  flowexport -i igb0 -c 10.0.0.5:1234\n"
      "      capture on igb0 and export NetFlow v9 to the collector at 10.0.0.5, UDP port 1234\n"
      "  flowexport -r trace.pcap -c 127.0.0.1:2055\n"
      "      export the flows of a capture file (its clock drives time) to a local collector\n"
      "  flowexport -i igb0 -c 10.0.0.5:1234 -T ng_netflow --routes /var/db/rib.mrt.bz2\n"
      "      fill SRC_AS/DST_AS and the prefix masks from a BGP RIB dump (docs/enrichment.md)\n"
      "  flowexport --ng-netflow -i igb0 -c 10.0.0.5:1234 --emit bootstrap\n"
      "      print a FreeBSD boot script that makes the kernel's ng_netflow do the same export");
  app.set_version_flag("--version",
                       std::string("flowexport " NF_VERSION "\nbuilt with libpcap " NF_PCAP_BUILD_VERSION
                                   ", running ") +
                           pcap_lib_version(),
                       "Print the version (and libpcap's) and exit");
  app.get_formatter()->column_width(40);

  nf::AddExportOptions(app, o);

#if NF_HAVE_NGNETFLOW
  nf::ng::SetupOptions ng;
  CLI::Option_group* ng_group = app.add_option_group(
      "ng_netflow setup", "FreeBSD in-kernel export instead of capturing (see docs/ng_netflow.md)");
  ng_group->add_flag("--ng-netflow", o.ng_netflow,
                     "Do not capture: generate (or --apply) a FreeBSD ng_netflow setup for -i/-c "
                     "and the timeout, --mtu and template options");
  nf::ng::AddCliOptions(*ng_group, ng);
#endif

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 109, ...) would hide that every one of these is a usage error.
    return app.exit(e) == 0 ? nf::kExitOk : nf::kExitUsage;
  }

#if NF_HAVE_NGNETFLOW
  if (o.ng_netflow) {
    if (o.enrichment.any()) {
      std::cerr << "flowexport: --routes and --asn-db do not apply to --ng-netflow: the kernel "
                   "exports, so enrich at the collector (flowcollect --routes ...)\n";
      return nf::kExitUsage;
    }
    // Shared options are copied only when given: ng_netflow has its own sensible defaults
    // (e.g. a 120 s active timeout, templates by time only) that flowexport's must not mask.
    ng.interfaces = o.interfaces;
    ng.collectors = o.collectors;
    if (app.count("--active-timeout") != 0) {
      ng.active_timeout_s = static_cast<int64_t>(o.active_timeout_s);
    }
    if (app.count("--inactive-timeout") != 0) {
      ng.inactive_timeout_s = static_cast<int64_t>(o.inactive_timeout_s);
    }
    if (app.count("--mtu") != 0) ng.mtu = o.mtu;
    if (app.count("--template-refresh-seconds") != 0) {
      ng.template_refresh_s = static_cast<int64_t>(o.template_refresh_seconds);
    }
    if (app.count("--template-refresh-packets") != 0) {
      ng.template_refresh_packets = o.template_refresh_packets;
    }
    return nf::ng::RunSetup(ng, std::cout, std::cerr);
  }
#endif

  o.template_given = app.count("--template") != 0;
  return nf::Run(o);
}
