// nf::http::Client over loopback against nf::http::Server: one connection kept alive across
// requests, a server restart between requests noticed before the next one is sent, what
// `may_have_arrived` says for each kind of failure, the response bound, and TLS that verifies
// the chain and the server's name or address.
#include "http/client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "http/server.h"
#include "http/url.h"
#include "tests/support/test_support.h"

namespace nf::http {
namespace {

std::unique_ptr<Server> StartServer(const std::string& listen, const std::string& body,
                                    const std::string& cert = "", const std::string& key = "") {
  ServerOptions o;
  o.listen = listen;
  o.tls_cert_file = cert;
  o.tls_key_file = key;
  auto server = Server::Start(o, [body](const ServerRequest& r) {
    ServerResponse out;
    out.body = absl::StrCat(body, r.path);
    return out;
  });
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? *std::move(server) : nullptr;
}

std::unique_ptr<Client> ClientFor(const std::string& url_text, ClientOptions o = {}) {
  auto url = ParseUrl(url_text);
  EXPECT_TRUE(url.ok()) << url.status();
  if (!url.ok()) return nullptr;
  auto client = Client::Create(*url, o);
  EXPECT_TRUE(client.ok()) << client.status();
  return client.ok() ? *std::move(client) : nullptr;
}

TEST(HttpClientTest, KeepsOneConnectionAndNoticesAServerRestart) {
  auto server = StartServer("127.0.0.1:0", "first");
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  auto client = ClientFor(absl::StrCat("http://127.0.0.1:", port, "/"));
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) {
    Result r = client->Get("/a");
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.code, 200);
    EXPECT_EQ(r.body, "first/a");
  }
  EXPECT_EQ(client->connections_opened(), 1u);

  // The server goes away and comes back on the same port: the idle connection is dead, and the
  // next request goes out on a new one instead of failing.
  server.reset();
  server = StartServer(absl::StrCat("127.0.0.1:", port), "second");
  ASSERT_NE(server, nullptr);
  Result r = client->Get("/b");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.body, "second/b");
  EXPECT_EQ(client->connections_opened(), 2u);
}

TEST(HttpClientTest, WithoutKeepAliveEveryRequestConnects) {
  auto server = StartServer("127.0.0.1:0", "x");
  ASSERT_NE(server, nullptr);
  ClientOptions o;
  o.keep_alive = false;
  auto client = ClientFor(absl::StrCat("http://127.0.0.1:", server->port(), "/"), o);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(client->Get("/").status.ok());
  EXPECT_EQ(client->connections_opened(), 3u);
}

TEST(HttpClientTest, RefusedConnectionCertainlyDidNotArrive) {
  const uint16_t port = ::nf::testing::FreeUdpPort();  // nothing listens on it over TCP
  auto client = ClientFor(absl::StrCat("http://127.0.0.1:", port, "/"));
  ASSERT_NE(client, nullptr);
  Result r = client->Post("/", {}, "data");
  EXPECT_FALSE(r.status.ok());
  EXPECT_FALSE(r.may_have_arrived);
  EXPECT_TRUE(absl::StrContains(r.status.message(), "connect to 127.0.0.1:")) << r.status;
}

TEST(HttpClientTest, SilentServerTimesOutAfterTheRequestMayHaveArrived) {
  // A listener that accepts (the kernel does) but never answers.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  ClientOptions o;
  o.io_timeout_ms = 300;
  auto client = ClientFor(absl::StrCat("http://127.0.0.1:", ntohs(a.sin_port), "/"), o);
  ASSERT_NE(client, nullptr);
  Result r = client->Post("/", {}, "data");
  EXPECT_TRUE(absl::IsDeadlineExceeded(r.status)) << r.status;
  EXPECT_TRUE(r.may_have_arrived);
  close(fd);
}

TEST(HttpClientTest, ResponseLargerThanTheBoundIsRefused) {
  auto server = StartServer("127.0.0.1:0", std::string(100'000, 'z'));
  ASSERT_NE(server, nullptr);
  ClientOptions o;
  o.max_response_bytes = 10'000;
  auto client = ClientFor(absl::StrCat("http://127.0.0.1:", server->port(), "/"), o);
  ASSERT_NE(client, nullptr);
  Result r = client->Get("/");
  EXPECT_TRUE(absl::IsResourceExhausted(r.status)) << r.status;
}

TEST(HttpClientTest, TlsVerifiesTheChainAndTheServerName) {
  if (!::nf::testing::HaveTool("openssl")) GTEST_SKIP() << "the openssl tool makes the certificates";
  ::nf::testing::TempDir dir;
  std::string error;
  ASSERT_TRUE(::nf::testing::MakeSelfSignedCertificate(dir.path(), "server", &error)) << error;
  ASSERT_TRUE(::nf::testing::MakeSelfSignedCertificate(dir.path(), "other", &error)) << error;
  // Listening on every loopback address lets the same server be reached as 127.0.0.2, an
  // address its certificate does not name.
  auto server = StartServer("0.0.0.0:0", "secure", dir.File("server.pem"), dir.File("server.key"));
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();

  ClientOptions trusted;
  trusted.ca_file = dir.File("server.pem");
  for (const char* host : {"localhost", "127.0.0.1"}) {
    auto client = ClientFor(absl::StrCat("https://", host, ":", port, "/"), trusted);
    ASSERT_NE(client, nullptr);
    Result r = client->Get("/ok");
    ASSERT_TRUE(r.status.ok()) << host << ": " << r.status;
    EXPECT_EQ(r.body, "secure/ok");
    EXPECT_TRUE(client->Get("/again").status.ok());
    EXPECT_EQ(client->connections_opened(), 1u);
  }

  ClientOptions wrong_ca;
  wrong_ca.ca_file = dir.File("other.pem");
  auto client = ClientFor(absl::StrCat("https://localhost:", port, "/"), wrong_ca);
  ASSERT_NE(client, nullptr);
  Result r = client->Get("/");
  EXPECT_FALSE(r.status.ok());
  EXPECT_FALSE(r.may_have_arrived);
  EXPECT_TRUE(absl::StrContains(r.status.message(), "certificate verification failed"))
      << r.status;

  auto system_store = ClientFor(absl::StrCat("https://localhost:", port, "/"));
  ASSERT_NE(system_store, nullptr);
  r = system_store->Get("/");
  EXPECT_TRUE(absl::StrContains(r.status.message(), "certificate verification failed"))
      << r.status;

  auto wrong_address = ClientFor(absl::StrCat("https://127.0.0.2:", port, "/"), trusted);
  ASSERT_NE(wrong_address, nullptr);
  r = wrong_address->Get("/");
  EXPECT_FALSE(r.status.ok());
  EXPECT_TRUE(absl::StrContains(r.status.message(), "certificate verification failed"))
      << r.status;

  // Plain HTTP to a TLS port gets no response, and says so.
  auto plain = ClientFor(absl::StrCat("http://127.0.0.1:", port, "/"));
  ASSERT_NE(plain, nullptr);
  EXPECT_FALSE(plain->Get("/").status.ok());

  // A CA bundle that cannot be read is refused when the client is made.
  auto url = ParseUrl(absl::StrCat("https://localhost:", port, "/"));
  ClientOptions missing;
  missing.ca_file = dir.File("missing.pem");
  EXPECT_FALSE(Client::Create(*url, missing).ok());
}

}  // namespace
}  // namespace nf::http
