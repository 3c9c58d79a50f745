// Streams, formats, line numbers, files and directories.
#include "policy/manifest/reader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "policy/manifest/decode_json.h"
#include "tests/policy/manifest/manifest_test_util.h"

namespace palisade::policy {
namespace {

using testing::formatted;
using testing::readYaml;
using Strings = std::vector<std::string>;
namespace fs = std::filesystem;

TEST(DiagnosticFormat, OmitsMissingParts) {
  Diagnostic d{{"pol.yaml", 12},
               "NetworkPolicy",
               "x/deny-all",
               "spec.ingress[0].from[1].ipBlock.cidr",
               "invalid CIDR \"10.0.0.0/33\""};
  EXPECT_EQ(d.format(),
            "pol.yaml:12: NetworkPolicy x/deny-all: "
            "spec.ingress[0].from[1].ipBlock.cidr: invalid CIDR \"10.0.0.0/33\"");
  d.location.line = 0;
  EXPECT_EQ(d.format(),
            "pol.yaml: NetworkPolicy x/deny-all: spec.ingress[0].from[1].ipBlock.cidr: "
            "invalid CIDR \"10.0.0.0/33\"");
  d.field.clear();
  EXPECT_EQ(d.format(), "pol.yaml: NetworkPolicy x/deny-all: invalid CIDR \"10.0.0.0/33\"");
  d.object.clear();
  EXPECT_EQ(d.format(), "pol.yaml: NetworkPolicy: invalid CIDR \"10.0.0.0/33\"");
  d.location.file.clear();
  EXPECT_EQ(d.format(), "NetworkPolicy: invalid CIDR \"10.0.0.0/33\"");
  d.kind.clear();
  EXPECT_EQ(d.format(), "invalid CIDR \"10.0.0.0/33\"");
  EXPECT_EQ((Diagnostic{{"a.yaml", 3}, "", "", "", "missing kind"}).format(),
            "a.yaml:3: missing kind");
}

TEST(Protocol, NamesRoundTrip) {
  for (Protocol p : {Protocol::TCP, Protocol::UDP, Protocol::SCTP}) {
    EXPECT_EQ(parseProtocol(protocolName(p)), p);
  }
  EXPECT_FALSE(parseProtocol("udp"));
  EXPECT_FALSE(parseProtocol("ICMP"));
  EXPECT_FALSE(parseProtocol(""));
}

TEST(Reader, MultiDocumentLinesAndEmptyDocuments) {
  ManifestSet set = readYaml(R"(---
# leading comment
apiVersion: v1
kind: Namespace
metadata:
  name: a
---
---
apiVersion: v1
kind: Pod
metadata:
  name: p
  namespace: a
status:
  podIP: nope
--- # trailing
)");
  ASSERT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(set.namespaces[0].meta.location.line, 3);
  EXPECT_EQ(formatted(set.errors),
            Strings{"pol.yaml:15: Pod a/p: status.podIP: invalid IP address \"nope\""});
}

TEST(Reader, BrokenDocumentDoesNotLoseOthers) {
  ManifestSet set = readYaml(
      "kind: Namespace\nmetadata: {name: a}\n---\nkind: [unclosed\n"
      "---\nkind: Namespace\nmetadata: {name: b}\n");
  EXPECT_EQ(set.namespaces.size(), 2u);
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].location.file, "pol.yaml");
  EXPECT_GE(set.errors[0].location.line, 4);
  EXPECT_TRUE(set.errors[0].message.starts_with("invalid YAML: ")) << set.errors[0].message;
}

TEST(Reader, DocumentShapeErrors) {
  EXPECT_EQ(
      formatted(readYaml("- a\n- b\n---\njust text\n---\nmetadata: {name: x}\n---\n"
                         "kind: {a: b}\n")
                    .errors),
      (Strings{"pol.yaml:1: document is not a mapping (got a list)",
               "pol.yaml:4: document is not a mapping (got a string)", "pol.yaml:6: missing kind",
               "pol.yaml:8: kind: expected a string, got a mapping"}));
}

TEST(Reader, UnknownKindsAreNotes) {
  ManifestSet set = readYaml(R"(apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: x}
---
apiVersion: extensions/v1beta1
kind: NetworkPolicy
metadata: {name: old}
---
kind: ConfigMap
metadata: {name: cfg}
)");
  EXPECT_TRUE(set.errors.empty());
  EXPECT_TRUE(set.policies.empty());
  EXPECT_EQ(set.notes, (Strings{"pol.yaml:1: skipping kind Deployment apps/v1 x/web",
                                "pol.yaml:5: skipping kind NetworkPolicy extensions/v1beta1 old",
                                "pol.yaml:9: skipping kind ConfigMap cfg"}));
}

TEST(Reader, YamlList) {
  ManifestSet set = readYaml(R"(apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Namespace
  metadata: {name: a}
- apiVersion: v1
  kind: Pod
  metadata: {name: p, namespace: a}
  status: {podIP: bad}
- apiVersion: apps/v1
  kind: Deployment
  metadata: {name: d}
---
apiVersion: v1
kind: PodList
items:
- metadata: {name: q, namespace: a}
)");
  ASSERT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(set.namespaces[0].meta.location.line, 4);
  EXPECT_EQ(formatted(set.errors),
            Strings{"pol.yaml:10: Pod a/p: status.podIP: invalid IP address \"bad\""});
  EXPECT_EQ(set.notes, Strings{"pol.yaml:11: skipping kind Deployment apps/v1 d"});
  ASSERT_EQ(set.pods.size(), 1u);  // a PodList's items need no kind
  EXPECT_EQ(set.pods[0].meta.name, "q");
  EXPECT_EQ(set.pods[0].meta.location.line, 18);
}

TEST(Reader, ListItemsMustBeAList) {
  EXPECT_EQ(formatted(readYaml("kind: List\nitems: {a: b}\n").errors),
            Strings{"pol.yaml:1: items: expected a list, got a mapping"});
  EXPECT_TRUE(readYaml("kind: List\nitems: []\n").errors.empty());
}

TEST(Reader, JsonObjectWithLine) {
  ManifestSet set = readManifestText(R"(
  {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "NetworkPolicy",
    "metadata": {"name": "deny-all", "namespace": "x"},
    "spec": {"ingress": [{"from": [{"ipBlock": {"cidr": "10.0.0.0/33"}}]}]}
  })",
                                     "pol.json");
  EXPECT_EQ(formatted(set.errors),
            Strings{"pol.json:2: NetworkPolicy x/deny-all: spec.ingress[0].from[0].ipBlock.cidr: "
                    "invalid CIDR \"10.0.0.0/33\""});
}

TEST(Reader, JsonListItemLines) {
  const char* text = R"({"apiVersion": "v1", "kind": "List", "metadata": {"x": "]{"},
 "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a\"]"}},
  {"apiVersion": "v1", "kind": "Pod",
   "metadata": {"name": "p", "namespace": "a"}, "status": {"podIP": "bad"}},

  {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d", "namespace": "a"}},
  {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "ok", "namespace": "a"},
   "spec": {"containers": [{"ports": [{"containerPort": 80, "name": "http"}]}]}}
 ]}
)";
  // Auto-detected by the first character even without a .json name.
  ManifestSet set = readManifestText(text, "stdin");
  EXPECT_EQ(formatted(set.errors),
            (Strings{"stdin:3: Namespace a\"]: metadata.name: invalid name \"a\\\"]\": must be a "
                     "DNS-1123 label (at most 63 lowercase letters, digits or '-', starting and "
                     "ending with a letter or digit)",
                     "stdin:4: Pod a/p: status.podIP: invalid IP address \"bad\""}));
  // The namespace's object name is set before its name is validated.
  EXPECT_EQ(set.errors[0].object, "a\"]");
  EXPECT_EQ(set.notes, Strings{"stdin:7: skipping kind Deployment apps/v1 a/d"});
  ASSERT_EQ(set.pods.size(), 1u);
  EXPECT_EQ(set.pods[0].meta.location.line, 8);
  EXPECT_EQ(set.pods[0].ports.at(0).name, "http");
}

TEST(Reader, JsonBareArrayAndTypedList) {
  ManifestSet set = readManifestText(
      "[\n{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}},\n"
      "{\"kind\": \"PodList\", \"items\": [{\"metadata\": {\"name\": \"p\"}}]}\n]",
      "x.json");
  EXPECT_TRUE(set.errors.empty());
  ASSERT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(set.namespaces[0].meta.location.line, 2);
  ASSERT_EQ(set.pods.size(), 1u);
  EXPECT_EQ(set.pods[0].meta.location.line, 3);
}

TEST(Reader, InvalidJson) {
  ManifestSet set = readManifestText("{\"kind\": ", "bad.json");
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_TRUE(set.errors[0].format().starts_with("bad.json: invalid JSON: "))
      << set.errors[0].format();
}

TEST(Reader, ForcedFormat) {
  // JSON is also YAML: forcing YAML on JSON text works, with field-level lines.
  ManifestSet set = readManifestText("{\"kind\": \"Namespace\",\n \"metadata\": {\"name\": \"A\"}}",
                                     "x.txt", ManifestFormat::Yaml);
  ASSERT_EQ(set.errors.size(), 1u);
  EXPECT_EQ(set.errors[0].location.line, 2);
}

TEST(DecodeJson, DecodesOneParsedElement) {
  simdjson::dom::parser parser;
  simdjson::dom::element el;
  ASSERT_FALSE(parser
                   .parse(std::string(R"({"metadata": {"name": "p", "namespace": "x"},
      "status": {"podIPs": [{"ip": "10.0.0.1"}]}})"))
                   .get(el));
  Diagnostics diags;
  auto pod = decodeJson<Pod>(el, SourceLocation{}, diags);
  ASSERT_TRUE(pod);
  EXPECT_TRUE(diags.empty());
  EXPECT_EQ(pod->ips.at(0).toString(), "10.0.0.1");

  auto bad = decodeJson<Namespace>(el, SourceLocation{}, diags);
  EXPECT_TRUE(bad);  // namespace field ignored for cluster-scoped kinds

  ASSERT_FALSE(parser.parse(std::string(R"({"metadata": {"name": "Bad"}})")).get(el));
  diags.clear();
  EXPECT_FALSE(decodeJson<Service>(el, SourceLocation{}, diags));
  ASSERT_EQ(diags.size(), 1u);
  EXPECT_TRUE(diags[0].format().starts_with("Service default/Bad: metadata.name: invalid name"))
      << diags[0].format();

  ASSERT_FALSE(parser.parse(std::string("[1]")).get(el));
  diags.clear();
  EXPECT_FALSE(decodeJson<Node>(el, SourceLocation{"api", 0}, diags));
  EXPECT_EQ(formatted(diags), Strings{"api: Node: expected a mapping"});
}

TEST(DecodeJson, ApiListBody) {
  simdjson::dom::parser parser;
  simdjson::dom::element el;
  ASSERT_FALSE(parser
                   .parse(std::string(
                       R"({"kind": "EndpointSliceList", "apiVersion": "discovery.k8s.io/v1",
                       "items": [{"metadata": {"name": "s", "namespace": "x"},
                                  "addressType": "IPv6", "endpoints": [{"addresses": ["fd00::1"]}]}]})"))
                   .get(el));
  ManifestSet set;
  decodeJsonObject(el, SourceLocation{}, set);
  EXPECT_TRUE(set.errors.empty());
  ASSERT_EQ(set.endpoint_slices.size(), 1u);
  EXPECT_EQ(set.endpoint_slices[0].endpoints.at(0).addresses.at(0).toString(), "fd00::1");
}

TEST(Reader, DuplicatesWithinAStream) {
  ManifestSet set = readYaml(
      "kind: Pod\nmetadata: {name: a}\n---\nkind: Pod\n"
      "metadata: {name: a, namespace: default}\n---\n"
      "kind: Namespace\nmetadata: {name: a}\n");
  EXPECT_EQ(set.pods.size(), 1u);
  EXPECT_EQ(set.namespaces.size(), 1u);  // other kinds do not collide
  EXPECT_EQ(formatted(set.errors),
            Strings{"pol.yaml:4: Pod default/a: duplicate Pod default/a (first defined at "
                    "pol.yaml:1)"});
}

class ReaderFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("palisade-reader-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string write(const std::string& rel, std::string_view text) {
    const fs::path p = dir_ / rel;
    fs::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }

  fs::path dir_;
};

TEST_F(ReaderFiles, DirectoriesRecursiveSortedFiltered) {
  write("b.yaml", "kind: Namespace\nmetadata: {name: b}\n");
  write("a.yml", "kind: Namespace\nmetadata: {name: a}\n");
  write("sub/c.json", "{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"c\"}}");
  write("sub/deeper/d.yaml", "kind: Namespace\nmetadata: {name: d}\n");
  write("README.md", "kind: Namespace\nmetadata: {name: readme}\n");
  write("e.yaml.bak", "kind: Namespace\nmetadata: {name: bak}\n");
  ManifestSet set = readManifests({dir_.string()});
  EXPECT_TRUE(set.errors.empty());
  Strings names;
  for (const Namespace& ns : set.namespaces) names.push_back(ns.meta.name);
  EXPECT_EQ(names, (Strings{"a", "b", "c", "d"}));
  EXPECT_EQ(set.namespaces[2].meta.location.file, (dir_ / "sub/c.json").string());
  EXPECT_EQ(set.namespaces[2].meta.location.line, 1);
}

TEST_F(ReaderFiles, ExplicitFilesAnyExtensionAndMissingPaths) {
  const std::string txt =
      write("policy.txt", "{\"kind\": \"Namespace\", \"metadata\": {\"name\": \"t\"}}");
  const std::string missing = (dir_ / "nope.yaml").string();
  ManifestSet set = readManifests({txt, missing});
  ASSERT_EQ(set.namespaces.size(), 1u);
  EXPECT_EQ(formatted(set.errors), Strings{missing + ": no such file or directory"});
}

TEST_F(ReaderFiles, DuplicatesAcrossFilesNameTheFirst) {
  const std::string a = write("a.yaml",
                              "# a\n# b\nkind: NetworkPolicy\n"
                              "metadata: {name: deny-all, namespace: x}\n");
  const std::string b = write("b.yaml",
                              "kind: NetworkPolicy\n"
                              "metadata: {name: deny-all, namespace: x}\n");
  ManifestSet set = readManifests({a, b});
  EXPECT_EQ(set.policies.size(), 1u);
  EXPECT_EQ(set.policies[0].meta.location.file, a);
  EXPECT_EQ(formatted(set.errors),
            Strings{b +
                    ":1: NetworkPolicy x/deny-all: duplicate NetworkPolicy x/deny-all "
                    "(first defined at " +
                    a + ":3)"});
}

TEST(ManifestSet, Merge) {
  ManifestSet a = readYaml("kind: Namespace\nmetadata: {name: a}\n");
  ManifestSet b = readYaml("kind: Pod\nmetadata: {name: p}\n---\nkind: Foo\n---\nkind: Pod\n");
  a.merge(std::move(b));
  EXPECT_EQ(a.namespaces.size(), 1u);
  EXPECT_EQ(a.pods.size(), 1u);
  EXPECT_EQ(a.notes.size(), 1u);
  EXPECT_EQ(a.errors.size(), 1u);
}

}  // namespace
}  // namespace palisade::policy
