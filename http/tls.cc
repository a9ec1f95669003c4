#include "http/tls.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <boost/asio/ip/address.hpp>

#include "absl/strings/str_cat.h"

namespace nf::http {
namespace ssl = boost::asio::ssl;

absl::StatusOr<std::unique_ptr<ssl::context>> MakeClientTlsContext(absl::string_view ca_file) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_client);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                   ec);
  ctx->set_verify_mode(ssl::verify_peer, ec);
  if (ca_file.empty()) {
    ctx->set_default_verify_paths(ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot load the system's CA certificates: ", ec.message()));
  } else {
    ctx->load_verify_file(std::string(ca_file), ec);
    if (ec) {
      return absl::InvalidArgumentError(
          absl::StrCat("cannot load CA certificates from ", ca_file, ": ", ec.message()));
    }
  }
  return ctx;
}

absl::StatusOr<std::unique_ptr<ssl::context>> MakeServerTlsContext(absl::string_view cert_file,
                                                                   absl::string_view key_file) {
  auto ctx = std::make_unique<ssl::context>(ssl::context::tls_server);
  boost::system::error_code ec;
  ctx->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                       ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                       ssl::context::no_tlsv1_1 | ssl::context::single_dh_use,
                   ec);
  ctx->use_certificate_chain_file(std::string(cert_file), ec);
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the TLS certificate ", cert_file, ": ", ec.message()));
  }
  ctx->use_private_key_file(std::string(key_file), ssl::context::pem, ec);
  // OpenSSL checks the key against the certificate while loading it; its words for a mismatch
  // ("key values mismatch") would not say which files disagree.
  const bool mismatch =
      ec && ec.category() == boost::asio::error::get_ssl_category() &&
      ERR_GET_REASON(static_cast<unsigned long>(ec.value())) == X509_R_KEY_VALUES_MISMATCH;
  if (mismatch || (!ec && SSL_CTX_check_private_key(ctx->native_handle()) != 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("the TLS key ", key_file, " does not match the certificate ", cert_file));
  }
  if (ec) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot load the TLS key ", key_file, ": ", ec.message()));
  }
  return ctx;
}

absl::Status PrepareClientSsl(SSL* ssl, const std::string& host) {
  boost::system::error_code ec;
  boost::asio::ip::make_address(host, ec);
  bool is_address = !ec;
  X509_VERIFY_PARAM* param = SSL_get0_param(ssl);
  X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
  if (is_address) {
    if (X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str()) != 1) {
      return absl::InternalError(absl::StrCat("cannot verify TLS for address ", host));
    }
  } else {
    if (SSL_set_tlsext_host_name(ssl, host.c_str()) != 1 ||
        X509_VERIFY_PARAM_set1_host(param, host.c_str(), host.size()) != 1) {
      return absl::InternalError(absl::StrCat("cannot verify TLS for host ", host));
    }
  }
  return absl::OkStatus();
}

std::string DescribeTlsError(SSL* ssl, const boost::system::error_code& ec) {
  long verify = ssl != nullptr ? SSL_get_verify_result(ssl) : X509_V_OK;
  if (verify != X509_V_OK) {
    return absl::StrCat("TLS handshake failed: certificate verification failed: ",
                        X509_verify_cert_error_string(verify));
  }
  return absl::StrCat("TLS handshake failed: ", ec.message());
}

}  // namespace nf::http
