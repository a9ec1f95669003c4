// nf::http::Server over loopback: GET answered through the handler, other methods 405, an
// oversize head 400, several requests on one kept-alive connection, HEAD without a body, a
// half-sent request closed after the request timeout, and the connection bound that evicts the
// oldest connection still waiting for its request.
#include "http/server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "http/client.h"
#include "http/url.h"
#include "tests/support/test_support.h"

namespace nf::http {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using Clock = std::chrono::steady_clock;
using ::nf::testing::WaitUntil;

ServerResponse Echo(const ServerRequest& r) {
  ServerResponse out;
  if (r.path == "/missing") {
    out.code = 404;
    out.body = "not here\n";
    return out;
  }
  out.body = absl::StrCat(r.method, " path=", r.path, " target=", r.target, "\n");
  return out;
}

std::unique_ptr<Server> StartServer(ServerOptions o = {}) {
  if (o.listen.empty()) o.listen = "127.0.0.1:0";
  auto s = Server::Start(o, Echo);
  EXPECT_TRUE(s.ok()) << s.status();
  return s.ok() ? *std::move(s) : nullptr;
}

std::unique_ptr<Client> ClientFor(const Server& server) {
  auto url = ParseUrl(absl::StrCat("http://127.0.0.1:", server.port(), "/"));
  EXPECT_TRUE(url.ok()) << url.status();
  ClientOptions o;
  o.io_timeout_ms = 5000;
  auto c = Client::Create(*url, o);
  EXPECT_TRUE(c.ok()) << c.status();
  return c.ok() ? *std::move(c) : nullptr;
}

// A raw TCP connection, for what the client never sends (HEAD, half requests, idle sockets).
class RawConnection {
 public:
  explicit RawConnection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval bound{5, 0};  // connect and send never block longer
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &bound, sizeof(bound));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&a), sizeof(a)) != 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~RawConnection() {
    if (fd_ >= 0) close(fd_);
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool ok() const { return fd_ >= 0; }
  bool Send(const std::string& s) {
    return send(fd_, s.data(), s.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(s.size());
  }
  // Reads until the server closes the connection or `timeout_ms` passes; `closed` says which.
  std::string ReadUntilClosed(int timeout_ms, bool& closed) {
    std::string out;
    closed = false;
    const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
    char buf[4096];
    while (Clock::now() < deadline) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count()) + 1) <= 0) continue;
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) {
        closed = true;
        break;
      }
      out.append(buf, static_cast<size_t>(n));
    }
    return out;
  }
  // True when the server has closed the connection by now (no waiting).
  bool ClosedNow() {
    char c;
    ssize_t n = recv(fd_, &c, 1, MSG_DONTWAIT | MSG_PEEK);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
  }

 private:
  int fd_ = -1;
};

TEST(ServerTest, ParsesListenAddresses) {
  std::string host;
  uint16_t port = 0;
  ASSERT_TRUE(ParseListenAddress("9464", host, port).ok());
  EXPECT_EQ(host, "0.0.0.0");
  EXPECT_EQ(port, 9464);
  ASSERT_TRUE(ParseListenAddress("127.0.0.1:0", host, port).ok());
  EXPECT_EQ(host, "127.0.0.1");
  EXPECT_EQ(port, 0);
  ASSERT_TRUE(ParseListenAddress("[::1]:9100", host, port).ok());
  EXPECT_EQ(host, "::1");
  EXPECT_EQ(port, 9100);
  EXPECT_FALSE(ParseListenAddress("127.0.0.1:70000", host, port).ok());
  EXPECT_FALSE(ParseListenAddress("[::1]9100", host, port).ok());
  EXPECT_FALSE(ParseListenAddress("host:port", host, port).ok());
}

TEST(ServerTest, RefusesBadOptions) {
  ServerOptions o;
  o.listen = "999.1.1.1:0";
  EXPECT_FALSE(Server::Start(o, Echo).ok());
  o.listen = "127.0.0.1:0";
  o.tls_cert_file = "/nonexistent/cert.pem";
  auto no_key = Server::Start(o, Echo);
  ASSERT_FALSE(no_key.ok());
  EXPECT_THAT(no_key.status().message(), HasSubstr("both a certificate and a key"));
  o.tls_key_file = "/nonexistent/key.pem";
  auto missing = Server::Start(o, Echo);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("/nonexistent/cert.pem"));
  o = ServerOptions{};
  o.listen = "127.0.0.1:0";
  o.max_connections = 0;
  EXPECT_FALSE(Server::Start(o, Echo).ok());
}

TEST(ServerTest, GetGoesThroughTheHandler) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  ASSERT_NE(client, nullptr);
  Result r = client->Get("/a/b?x=1&y=2");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(r.body, "GET path=/a/b target=/a/b?x=1&y=2\n");
  r = client->Get("/missing");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 404);
  EXPECT_EQ(r.body, "not here\n");
  EXPECT_EQ(server->counters().requests.load(), 2u);
}

TEST(ServerTest, OtherMethodsGet405WithAllow) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  ASSERT_NE(client, nullptr);
  Result r = client->Post("/metrics", {}, "x=1");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 405);
  // The handler never saw it.
  EXPECT_THAT(r.body, Not(HasSubstr("path=")));
  // Its body was not read, so that connection was closed; the client's next request opens
  // another.
  r = client->Get("/after");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(client->connections_opened(), 2u);

  RawConnection raw(server->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("DELETE /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  bool closed = false;
  std::string response = raw.ReadUntilClosed(5000, closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 405 ")) << response;
  EXPECT_THAT(response, HasSubstr("Allow: GET, HEAD\r\n"));
}

TEST(ServerTest, OversizeRequestHeadGets400) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  ASSERT_NE(client, nullptr);
  Result r = client->Get("/", {{"X-Padding", std::string(16 * 1024, 'a')}});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 400);
  // A request within the limit still works (on a new connection: the server closed that one).
  r = client->Get("/", {{"X-Padding", std::string(4 * 1024, 'a')}});
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(client->connections_opened(), 2u);
}

// A body is never read: a request announcing 100 MB is answered from its head and closed.
TEST(ServerTest, RequestBodiesAreAnsweredWithoutBeingRead) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  for (const char* method : {"POST", "GET"}) {
    RawConnection c(server->port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(c.Send(absl::StrCat(method, " /metrics HTTP/1.1\r\nHost: x\r\n"
                                    "Content-Length: 104857600\r\n\r\nsome")));
    bool closed = false;
    const std::string answer = c.ReadUntilClosed(3000, closed);
    EXPECT_TRUE(closed) << method;
    EXPECT_TRUE(absl::StartsWith(answer, std::string(method) == "POST" ? "HTTP/1.1 405"
                                                                      : "HTTP/1.1 400"))
        << answer;
  }
}

TEST(ServerTest, KeepAliveServesSeveralRequestsOnOneConnection) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  auto client = ClientFor(*server);
  ASSERT_NE(client, nullptr);
  for (int i = 0; i < 5; ++i) {
    Result r = client->Get(absl::StrCat("/n", i));
    ASSERT_TRUE(r.status.ok()) << r.status;
    EXPECT_EQ(r.code, 200);
    EXPECT_EQ(r.body, absl::StrCat("GET path=/n", i, " target=/n", i, "\n"));
  }
  EXPECT_EQ(client->connections_opened(), 1u);
  EXPECT_EQ(server->counters().accepted.load(), 1u);
  EXPECT_EQ(server->counters().requests.load(), 5u);
}

TEST(ServerTest, HeadGetsTheHeadersWithoutTheBody) {
  auto server = StartServer();
  ASSERT_NE(server, nullptr);
  RawConnection raw(server->port());
  ASSERT_TRUE(raw.ok());
  ASSERT_TRUE(raw.Send("HEAD /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
  bool closed = false;
  std::string response = raw.ReadUntilClosed(5000, closed);
  EXPECT_TRUE(closed);
  ASSERT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 ")) << response;
  // The length of the body a GET would get, and not a byte of it.
  const std::string get_body = "HEAD path=/h target=/h\n";
  EXPECT_THAT(response, HasSubstr(absl::StrCat("Content-Length: ", get_body.size(), "\r\n")));
  ASSERT_TRUE(absl::EndsWith(response, "\r\n\r\n")) << response;
}

TEST(ServerTest, HalfSentRequestIsClosedAfterTheRequestTimeout) {
  ServerOptions o;
  o.request_timeout_ms = 200;
  auto server = StartServer(o);
  ASSERT_NE(server, nullptr);
  RawConnection raw(server->port());
  ASSERT_TRUE(raw.ok());
  const auto start = Clock::now();
  ASSERT_TRUE(raw.Send("GET /metrics HTTP/1.1\r\nHost: x\r\n"));
  bool closed = false;
  std::string response = raw.ReadUntilClosed(5000, closed);
  const auto waited = Clock::now() - start;
  EXPECT_TRUE(closed) << "still open after 5 s";
  EXPECT_EQ(response, "");
  EXPECT_GE(waited, std::chrono::milliseconds(150));
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
  EXPECT_TRUE(WaitUntil([&] { return server->counters().timed_out.load() == 1; }));
  EXPECT_TRUE(WaitUntil([&] { return server->counters().open.load() == 0; }));

  // A kept-alive connection idle past the timeout is closed too.
  RawConnection idle(server->port());
  ASSERT_TRUE(idle.ok());
  ASSERT_TRUE(idle.Send("GET /x HTTP/1.1\r\nHost: x\r\n\r\n"));
  response = idle.ReadUntilClosed(5000, closed);
  EXPECT_TRUE(closed);
  EXPECT_TRUE(absl::StartsWith(response, "HTTP/1.1 200 ")) << response;
  EXPECT_TRUE(WaitUntil([&] { return server->counters().timed_out.load() == 2; }));
}

TEST(ServerTest, EvictsTheOldestWaitingConnectionPastTheBound) {
  ServerOptions o;
  o.max_connections = 4;
  auto server = StartServer(o);
  ASSERT_NE(server, nullptr);
  std::vector<std::unique_ptr<RawConnection>> idle;
  for (int i = 0; i < 10; ++i) {
    idle.push_back(std::make_unique<RawConnection>(server->port()));
    ASSERT_TRUE(idle.back()->ok());
    if (i % 2 == 0) {
      ASSERT_TRUE(idle.back()->Send("GET /half"));
    }
    // One at a time, so "oldest" is well defined.
    ASSERT_TRUE(WaitUntil([&] { return server->counters().accepted.load() == static_cast<uint64_t>(i) + 1; }));
  }
  EXPECT_EQ(server->counters().evicted.load(), 6u);
  EXPECT_TRUE(WaitUntil([&] { return server->counters().open.load() == 4; }));
  for (int i = 0; i < 10; ++i) {
    bool closed = false;
    if (i < 6) {
      idle[i]->ReadUntilClosed(2000, closed);
      EXPECT_TRUE(closed) << "connection " << i << " should have been evicted";
    } else {
      EXPECT_FALSE(idle[i]->ClosedNow()) << "connection " << i << " should still be open";
    }
  }
  // A real request still gets through, evicting one more idle connection.
  auto client = ClientFor(*server);
  ASSERT_NE(client, nullptr);
  Result r = client->Get("/real");
  ASSERT_TRUE(r.status.ok()) << r.status;
  EXPECT_EQ(r.code, 200);
  EXPECT_EQ(server->counters().evicted.load(), 7u);
  bool closed = false;
  idle[6]->ReadUntilClosed(2000, closed);
  EXPECT_TRUE(closed) << "the oldest waiting connection goes first";
  EXPECT_FALSE(idle[9]->ClosedNow());
}

}  // namespace
}  // namespace nf::http
