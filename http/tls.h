// nf::http TLS (OpenSSL through Boost.Asio): client contexts that verify the server's certificate
// chain (the system's trust store, or a CA bundle given by the user) and its name or address,
// server contexts from PEM files, and handshake errors that say why verification failed.
#ifndef NF_HTTP_TLS_H_
#define NF_HTTP_TLS_H_

#include <memory>
#include <string>

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace nf::http {

// Verification is always on. `ca_file` empty: the system's trust store.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(
    absl::string_view ca_file);
// TLS 1.2 and later, the certificate chain and key from PEM files (checked to match).
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeServerTlsContext(
    absl::string_view cert_file, absl::string_view key_file);

// Before a client handshake: SNI (names only, as RFC 6066 asks) and the name or IP address the
// server's certificate must carry.
absl::Status PrepareClientSsl(SSL* ssl, const std::string& host);

// A failed handshake in words; "certificate verification failed: <OpenSSL's reason>" when the
// peer's certificate was refused.
std::string DescribeTlsError(SSL* ssl, const boost::system::error_code& ec);

}  // namespace nf::http

#endif  // NF_HTTP_TLS_H_
