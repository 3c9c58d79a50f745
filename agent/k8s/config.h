#pragma once
// Where the API server is and how to authenticate to it: in-cluster (the
// service-account token and CA mounted into every pod) or a kubeconfig file.
// The token is re-read from its file every minute and after a 401, because
// projected service-account tokens rotate under a running process.
#include <chrono>
#include <mutex>
#include <optional>
#include <string>

#include "proto/base/result.h"

namespace palisade::agent::k8s {

struct ClusterConfig {
  std::string host;  // name or address, as written (no brackets for IPv6)
  std::string port = "443";
  std::string ca_pem;           // PEM bundle the server certificate must chain to
  std::string token;            // bearer token (static), or the first read of token_file
  std::string token_file;       // when set, the token is re-read from here
  std::string client_cert_pem;  // client certificate authentication (kubeconfig)
  std::string client_key_pem;
};

/// KUBERNETES_SERVICE_HOST/PORT plus /var/run/secrets/kubernetes.io/serviceaccount/{token,ca.crt}.
/// `sa_dir` is overridable for tests.
Result<ClusterConfig> inClusterConfig(
    const std::string& sa_dir = "/var/run/secrets/kubernetes.io/serviceaccount");

/// The current context of a kubeconfig: server, certificate-authority(-data),
/// token / tokenFile, client-certificate(-data) / client-key(-data).
Result<ClusterConfig> kubeconfigConfig(const std::string& path);

/// The bearer token, re-read from `token_file` when older than `max_age` or
/// after invalidate() (a 401). Thread-safe.
class TokenSource {
 public:
  explicit TokenSource(const ClusterConfig& config,
                       std::chrono::milliseconds max_age = std::chrono::minutes(1));
  std::string token();
  void invalidate();

 private:
  std::mutex mu_;
  std::string token_;
  std::string file_;
  std::chrono::milliseconds max_age_;
  std::chrono::steady_clock::time_point read_at_{};
  bool stale_ = true;
};

/// Reads a whole file; Error on failure.
Result<std::string> readFile(const std::string& path);
/// Standard base64 (kubeconfig *-data fields).
std::optional<std::string> base64Decode(std::string_view in);

}  // namespace palisade::agent::k8s
