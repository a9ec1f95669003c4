// The --metrics options' rules, checked through each tool's whole command line: both tools add
// them with metrics::AddMetricsOptions, and this is what each must still accept and refuse.
#ifndef NF_TESTS_METRICS_METRICS_CLI_CHECKS_H_
#define NF_TESTS_METRICS_METRICS_CLI_CHECKS_H_

#include <algorithm>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include "CLI/CLI.hpp"
#include "gtest/gtest.h"
#include "metrics/metrics_cli.h"
#include "tests/support/test_support.h"

namespace nf::metrics {

// Parses `args` (no program name) into fresh `Options` through `add_options`, the tool's own
// option set; CLI11's message, or "" when the line is accepted.
template <class Options>
std::string ParseToolArgs(void (*add_options)(CLI::App&, Options&), std::vector<std::string> args,
                          Options& o) {
  CLI::App app;
  add_options(app, o);
  std::reverse(args.begin(), args.end());  // CLI11 parses a reversed vector
  try {
    app.parse(args);
  } catch (const CLI::ParseError& e) {
    return e.what();
  }
  return "";
}

// --metrics-tls-cert and --metrics-tls-key go together, and only with --metrics, as does
// --metrics-max-connections (1 to 65536, 256 by default); a full line lands in
// Options::metrics. `listen` is a --metrics value the tool accepts; `help_case` is how the
// tool's help texts begin.
template <class Options>
void ExpectMetricsOptionRules(void (*add_options)(CLI::App&, Options&), const std::string& listen,
                              HelpCase help_case) {
  ::nf::testing::TempDir dir;
  const std::string cert = dir.File("cert.pem");
  const std::string key = dir.File("key.pem");
  std::ofstream(cert) << "only its existence is checked here\n";
  std::ofstream(key) << "only its existence is checked here\n";
  auto parse = [add_options](std::vector<std::string> args) {
    Options o;
    return ParseToolArgs(add_options, std::move(args), o);
  };
  EXPECT_EQ(parse({"--metrics", listen, "--metrics-tls-cert", cert}),
            "--metrics-tls-cert requires --metrics-tls-key");
  EXPECT_EQ(parse({"--metrics", listen, "--metrics-tls-key", key}),
            "--metrics-tls-key requires --metrics-tls-cert");
  EXPECT_EQ(parse({"--metrics-tls-cert", cert, "--metrics-tls-key", key}),
            "--metrics-tls-cert requires --metrics");
  EXPECT_EQ(parse({"--metrics-max-connections", "10"}),
            "--metrics-max-connections requires --metrics");
  EXPECT_EQ(parse({"--metrics", listen, "--metrics-max-connections", "0"})
                .find("--metrics-max-connections"),
            0u);

  Options o;
  EXPECT_EQ(ParseToolArgs(add_options,
                          {"--metrics", listen, "--metrics-tls-cert", cert, "--metrics-tls-key",
                           key, "--metrics-max-connections", "64"},
                          o),
            "");
  EXPECT_EQ(o.metrics.listen, listen);
  EXPECT_EQ(o.metrics.tls_cert_file, cert);
  EXPECT_EQ(o.metrics.tls_key_file, key);
  EXPECT_EQ(o.metrics.max_connections, 64u);
  o = Options{};
  EXPECT_EQ(ParseToolArgs(add_options, {"--metrics", listen}, o), "");
  EXPECT_EQ(o.metrics.listen, listen);
  EXPECT_TRUE(o.metrics.tls_cert_file.empty());
  EXPECT_EQ(o.metrics.max_connections, 256u);

  CLI::App app;
  Options unused;
  add_options(app, unused);
  const std::string help = app.help();
  EXPECT_NE(help.find("--metrics [ADDR:]PORT"), std::string::npos) << help;
  EXPECT_NE(help.find(help_case == HelpCase::kCapitalized ? "Serve Prometheus metrics"
                                                           : "serve Prometheus metrics"),
            std::string::npos)
      << help;
}

}  // namespace nf::metrics

#endif  // NF_TESTS_METRICS_METRICS_CLI_CHECKS_H_
