#include "agent/k8s/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "agent/k8s/line_assembler.h"

namespace palisade::agent::k8s {
namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    path = std::filesystem::temp_directory_path() /
           ("palisade-cfg-" + std::to_string(getpid()) + "-" + std::to_string(counter()++));
    std::filesystem::create_directories(path);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  static int& counter() {
    static int c = 0;
    return c;
  }
  std::string write(const std::string& name, const std::string& text) {
    auto p = path / name;
    std::ofstream(p) << text;
    return p.string();
  }
};

TEST(ConfigTest, InClusterReadsEnvTokenAndCa) {
  TempDir d;
  d.write("token", "abc\n");
  d.write("ca.crt", "CA");
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "6443", 1);
  auto c = inClusterConfig(d.path.string());
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->host, "10.96.0.1");
  EXPECT_EQ(c->port, "6443");
  EXPECT_EQ(c->token, "abc");
  EXPECT_EQ(c->ca_pem, "CA");
  unsetenv("KUBERNETES_SERVICE_HOST");
  EXPECT_FALSE(inClusterConfig(d.path.string()));
}

TEST(ConfigTest, KubeconfigWithDataFields) {
  TempDir d;
  auto path = d.write("config", R"(apiVersion: v1
kind: Config
current-context: b
clusters:
- name: a
  cluster: {server: "https://other:1"}
- name: cb
  cluster:
    server: https://[fd00::1]:6443
    certificate-authority-data: Q0EtREFUQQ==
users:
- name: ub
  user:
    client-certificate-data: Q0VSVA==
    client-key-data: S0VZ
contexts:
- name: b
  context: {cluster: cb, user: ub}
)");
  auto c = kubeconfigConfig(path);
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->host, "fd00::1");
  EXPECT_EQ(c->port, "6443");
  EXPECT_EQ(c->ca_pem, "CA-DATA");
  EXPECT_EQ(c->client_cert_pem, "CERT");
  EXPECT_EQ(c->client_key_pem, "KEY");
  EXPECT_TRUE(c->token.empty());
}

TEST(ConfigTest, KubeconfigWithFilesAndToken) {
  TempDir d;
  d.write("ca.pem", "CAFILE");
  d.write("tok", "t0k\n");
  auto path = d.write("config", R"(current-context: x
clusters: [{name: c, cluster: {server: "https://api.example.com", certificate-authority: ca.pem}}]
users: [{name: u, user: {tokenFile: tok}}]
contexts: [{name: x, context: {cluster: c, user: u}}]
)");
  auto c = kubeconfigConfig(path);
  ASSERT_TRUE(c) << c.error().str();
  EXPECT_EQ(c->host, "api.example.com");
  EXPECT_EQ(c->port, "443");
  EXPECT_EQ(c->ca_pem, "CAFILE");
  EXPECT_EQ(c->token, "t0k");
  EXPECT_EQ(c->token_file, (d.path / "tok").string());
}

TEST(ConfigTest, KubeconfigRejectsPlainHttp) {
  TempDir d;
  auto path = d.write("config", "clusters: [{name: c, cluster: {server: 'http://x'}}]\n");
  EXPECT_FALSE(kubeconfigConfig(path));
}

// Found by kubeconfig_fuzz: a server without host or with a port that is no
// number was accepted, and the client would have connected to "" or port "".
TEST(ConfigTest, KubeconfigRejectsServerWithoutHostOrPortNumber) {
  TempDir d;
  for (const char* server : {"https://", "https://:6443", "https://[]:6443", "https://api:",
                             "https://api:http", "https://api:70000", "https://[fd00::1]:"}) {
    auto path = d.write(
        "config", std::string("current-context: x\ncontexts: [{name: x, context: {cluster: c}}]\n"
                              "clusters:\n- name: c\n  cluster:\n    server: '") +
                      server + "'\n");
    auto c = kubeconfigConfig(path);
    ASSERT_FALSE(c) << server << " gave host '" << c->host << "' port '" << c->port << "'";
    EXPECT_NE(c.error().str().find(server), std::string::npos) << c.error().str();
  }
}

TEST(ConfigTest, TokenSourceRereadsAfterMaxAgeAndInvalidate) {
  TempDir d;
  auto file = d.write("token", "one");
  ClusterConfig c;
  c.token = "one";
  c.token_file = file;
  TokenSource src(c, std::chrono::milliseconds(50));
  EXPECT_EQ(src.token(), "one");
  d.write("token", "two");
  EXPECT_EQ(src.token(), "one");  // still fresh
  src.invalidate();
  EXPECT_EQ(src.token(), "two");
  d.write("token", "three");
  std::this_thread::sleep_for(std::chrono::milliseconds(60));
  EXPECT_EQ(src.token(), "three");
  std::filesystem::remove(file);
  src.invalidate();
  EXPECT_EQ(src.token(), "three");  // unreadable: keep the last one
}

TEST(LineAssemblerTest, ReassemblesLinesAcrossPieces) {
  LineAssembler la(1 << 20);
  std::vector<std::string> lines;
  auto on = [&](const char* p, size_t n) { lines.emplace_back(p, n); };
  std::string stream = "{\"a\":1}\n{\"b\":2}\r\n\n{\"c\":3}\n{\"d\"";
  for (char ch : stream) ASSERT_TRUE(la.feed(std::string_view(&ch, 1), on));
  EXPECT_EQ(lines, (std::vector<std::string>{"{\"a\":1}", "{\"b\":2}", "{\"c\":3}"}));
  EXPECT_EQ(la.pending(), 4u);
  la.feed(":4}\n", on);
  EXPECT_EQ(lines.back(), "{\"d\":4}");
}

TEST(LineAssemblerTest, RejectsOverlongLines) {
  LineAssembler la(8);
  EXPECT_FALSE(la.feed("0123456789", [](const char*, size_t) {}));
}

}  // namespace
}  // namespace palisade::agent::k8s
