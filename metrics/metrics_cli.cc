#include "metrics/metrics_cli.h"

#include <cctype>
#include <cstddef>
#include <string>

namespace nf::metrics {

void AddMetricsOptions(CLI::App& app, MetricsServerOptions& options, const std::string& group,
                       HelpCase help_case) {
  auto help = [help_case](std::string text) {
    if (help_case == HelpCase::kCapitalized) {
      text[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(text[0])));
    }
    return text;
  };
  CLI::Option* listen =
      app.add_option("--metrics", options.listen,
                     help("serve Prometheus metrics at http://[ADDR:]PORT/metrics (bare PORT: all "
                          "IPv4 addresses; see docs/metrics.md)"))
          ->type_name("[ADDR:]PORT")
          ->group(group);
  // The type name says FILE; CLI11 would append the validator's own "FILE" to it.
  CLI::Validator existing_file = CLI::ExistingFile;
  existing_file.description("");
  CLI::Option* cert =
      app.add_option("--metrics-tls-cert", options.tls_cert_file,
                     help("with --metrics: serve https only, with this PEM certificate (chain)"))
          ->check(existing_file)
          ->type_name("FILE")
          ->needs(listen)
          ->group(group);
  CLI::Option* key = app.add_option("--metrics-tls-key", options.tls_key_file,
                                    help("the PEM private key of --metrics-tls-cert"))
                         ->check(existing_file)
                         ->type_name("FILE")
                         ->needs(listen, cert)
                         ->group(group);
  cert->needs(key);
  app.add_option("--metrics-max-connections", options.max_connections,
                 help("with --metrics: connections held at once; past it the oldest one still "
                      "waiting for its request is closed"))
      ->capture_default_str()
      ->check(CLI::Range(size_t{1}, size_t{65536}))
      ->type_name("N")
      ->needs(listen)
      ->group(group);
}

}  // namespace nf::metrics
