// flowcollect: a NetFlow v5 / v9 / IPFIX collector that writes CSV, -A aggregates, ClickHouse
// rows and an HTML report. Wiring only: the command line becomes CollectorOptions
// (collector/app/collector_cli.h) and the runtime (collector/app/collector_runtime.h) runs it.
// Exit statuses (common/exit_status.h): 0 success, 1 failed run, 2 usage error.
#include "CLI/CLI.hpp"
#include "collector/app/collector_cli.h"
#include "collector/app/collector_options.h"
#include "collector/app/collector_runtime.h"
#include "common/exit_status.h"

int main(int argc, char** argv) {
  nf::CollectorOptions options;
  CLI::App app{
      "flowcollect: collect NetFlow v5, v9, IPFIX and sFlow v5 export datagrams (UDP, IPFIX "
      "also over TCP, or capture files) and write flow records or aggregates as CSV; keep the "
      "datagrams in a store and query it.",
      "flowcollect"};
  app.get_formatter()->column_width(34);
  app.set_version_flag("--version", "flowcollect " NF_VERSION, "print the version and exit");
  app.footer(
      "Signals: SIGINT/SIGTERM flush everything and exit; SIGUSR1 prints every counter;\n"
      "SIGHUP reloads the enrichment files (--routes, --asn-db, --geo-db, --interfaces).\n"
      "\n"
      "Examples:\n"
      "  flowcollect -l 2055 -A src_addr -t 300 --top 10\n"
      "      receive on UDP port 2055; when stopped, print (CSV) the 10 sources with the most bytes\n"
      "      in each 5-minute bin\n"
      "  flowcollect -l 2055 --routes rib.mrt.gz --geo-db GeoLite2-Country.mmdb "
      "-A dst_country,dst_port\n"
      "      add origin AS, prefix lengths and countries to every record (from a BGP table dump\n"
      "      and a MaxMind database; kill -HUP reloads them); bytes per destination country\n"
      "      and port\n"
      "  flowcollect -l 2055 --store /var/db/flows --store-compress --store-retention 30d\n"
      "      keep every datagram, raw, in 5-minute zstd pcap files for 30 days\n"
      "  flowcollect -r /var/db/flows --from -1h 'proto tcp and dst port 443' -A src_addr --top 10\n"
      "      the 10 sources with the most HTTPS bytes in the last hour (nfdump's filter language)");
  nf::AddCollectorOptions(app, options);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // CLI11's own codes (105, 109, ...) would hide that every one of these is a usage error.
    return app.exit(e) == 0 ? nf::kExitOk : nf::kExitUsage;
  }
  nf::NoteGivenOptions(app, options);
  return nf::RunCollector(options);
}
