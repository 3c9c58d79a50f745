#pragma once
// A throwaway PKI for the fake API server, made with the openssl CLI once per
// test process: a cluster CA, a server certificate for 127.0.0.1/localhost, a
// client certificate, and an unrelated CA (for the untrusted-server case).
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>

namespace palisade::agent::testing {

struct TestPki {
  std::string dir;
  std::string ca_pem, server_cert_pem, server_key_pem, client_cert_pem, client_key_pem;
  std::string other_ca_pem;

  static const TestPki& get() {
    static TestPki pki = make();
    return pki;
  }

 private:
  static std::string slurp(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  }
  static void sh(const std::string& cmd) {
    if (std::system(cmd.c_str()) != 0) throw std::runtime_error("test PKI: " + cmd);
  }
  static TestPki make() {
    TestPki p;
    p.dir =
        (std::filesystem::temp_directory_path() / ("palisade-pki-" + std::to_string(::getpid())))
            .string();
    std::filesystem::create_directories(p.dir);
    const std::string d = p.dir;
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    const std::string q = " >/dev/null 2>&1";
    sh("cd " + d + " && openssl req -x509 " + key +
       " -keyout ca.key -out ca.crt -days 2 -subj /CN=palisade-test-ca" + q);
    sh("cd " + d + " && openssl req -x509 " + key +
       " -keyout other.key -out other.crt -days 2 -subj /CN=other-ca" + q);
    sh("cd " + d + " && printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext");
    sh("cd " + d + " && openssl req " + key +
       " -keyout server.key -out server.csr -subj /CN=localhost" + q +
       " && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
       " -out server.crt -days 2 -extfile san.ext" +
       q);
    sh("cd " + d + " && openssl req " + key +
       " -keyout client.key -out client.csr -subj /CN=system:node:test/O=system:nodes" + q +
       " && openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial"
       " -out client.crt -days 2" +
       q);
    p.ca_pem = slurp(d + "/ca.crt");
    p.other_ca_pem = slurp(d + "/other.crt");
    p.server_cert_pem = slurp(d + "/server.crt");
    p.server_key_pem = slurp(d + "/server.key");
    p.client_cert_pem = slurp(d + "/client.crt");
    p.client_key_pem = slurp(d + "/client.key");
    return p;
  }
};

}  // namespace palisade::agent::testing
