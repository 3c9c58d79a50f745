// Standalone mode's last good versions: which objects stay in force when a
// manifest document breaks, at which grain, and when they go.
#include "agent/daemon/manifest_last_good.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace palisade::agent {
namespace {

/// A NetworkPolicy document selecting app=`app` with `ports` ("[{port: 80}]"): readable diffs.
std::string policy(const std::string& name, const std::string& app = "db",
                   const std::string& port = "80") {
  return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name +
         ", namespace: web}\nspec:\n  podSelector: {matchLabels: {app: " + app +
         "}}\n  ingress: [{ports: [{port: " + port + "}]}]\n";
}
const std::string kSep = "---\n";
const std::string kInvalidYaml = "kind: NetworkPolicy\nmetadata: {name: [unclosed\n";
/// Identity readable (web/b), a field broken.
std::string brokenSpec(const std::string& name) {
  return "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: " + name +
         ", namespace: web}\nspec: 5\n";
}

/// One directory read: file name → text.
std::vector<FileManifests> read(const std::map<std::string, std::string>& files) {
  std::vector<FileManifests> out;
  out.reserve(files.size());
  for (const auto& [path, text] : files)
    out.push_back({path, policy::readManifestText(text, path, policy::ManifestFormat::Yaml)});
  return out;
}

/// "name:port" of every policy in force, sorted.
std::vector<std::string> policies(const ManifestMerge& m) {
  std::vector<std::string> out;
  for (const auto& p : m.in_force.policies) {
    std::string port;
    if (!p.ingress.empty() && !p.ingress[0].ports.empty() && p.ingress[0].ports[0].port)
      port = std::to_string(p.ingress[0].ports[0].port->number());
    out.push_back(p.meta.name + ":" + port);
  }
  std::sort(out.begin(), out.end());
  return out;
}

using Names = std::vector<std::string>;

TEST(ManifestLastGood, IdentifiedBrokenDocumentKeepsExactlyItsLastGoodVersion) {
  LastGoodManifests lg;
  auto m =
      lg.update(read({{"p.yaml", policy("a") + kSep + policy("b") + kSep + policy("c")}}), true);
  EXPECT_EQ(policies(m), (Names{"a:80", "b:80", "c:80"}));
  EXPECT_TRUE(m.stale.empty());
  // b breaks while c is deleted and a changes in the same edit: b's identity
  // is readable, so b keeps its last good version, c goes, a is the new one.
  m = lg.update(read({{"p.yaml", policy("a", "db", "81") + kSep + brokenSpec("b")}}), true);
  EXPECT_EQ(policies(m), (Names{"a:81", "b:80"}));
  ASSERT_EQ(m.rejected.size(), 1u);
  EXPECT_EQ(m.rejected[0].diagnostic.object, "web/b");
  EXPECT_EQ(m.rejected[0].diagnostic.field, "spec");
  EXPECT_EQ(m.rejected[0].diagnostic.location.file, "p.yaml");
  EXPECT_EQ(m.rejected[0].diagnostic.location.line, 11);
  EXPECT_EQ(m.rejected[0].outcome, "its last good version stays in force");
  ASSERT_EQ(m.stale.size(), 1u);
  EXPECT_EQ(m.stale[0].file, "p.yaml");
  EXPECT_EQ(m.stale[0].rejected, 1u);
  EXPECT_EQ(m.stale[0].kept, 1u);
  // Still broken on the next reload: still kept (the kept version is the last good now).
  m = lg.update(read({{"p.yaml", policy("a", "db", "81") + kSep + brokenSpec("b")}}), true);
  EXPECT_EQ(policies(m), (Names{"a:81", "b:80"}));
  // Fixed: the fixed version replaces the last good one.
  m = lg.update(read({{"p.yaml", policy("a", "db", "81") + kSep + policy("b", "db", "82")}}), true);
  EXPECT_EQ(policies(m), (Names{"a:81", "b:82"}));
  EXPECT_TRUE(m.stale.empty());
  EXPECT_TRUE(m.rejected.empty());
}

TEST(ManifestLastGood, UnidentifiableDocumentKeepsTheFilesUndefinedObjects) {
  LastGoodManifests lg;
  auto m = lg.update(read({{"p.yaml", policy("a") + kSep + policy("b") + kSep + policy("c")},
                           {"q.yaml", policy("d")}}),
                     true);
  EXPECT_EQ(policies(m).size(), 4u);
  // b becomes invalid YAML: nothing says which object it was, so every last
  // good object of p.yaml the new read does not define stays (b); q.yaml is
  // not touched.
  m = lg.update(
      read({{"p.yaml", policy("a") + kSep + kInvalidYaml + kSep + policy("c", "db", "90")},
            {"q.yaml", policy("d")}}),
      true);
  EXPECT_EQ(policies(m), (Names{"a:80", "b:80", "c:90", "d:80"}));
  ASSERT_EQ(m.rejected.size(), 1u);
  // The document is lines 8-9; yaml-cpp marks where it gave up (its end).
  EXPECT_GE(m.rejected[0].diagnostic.location.line, 8);
  EXPECT_LE(m.rejected[0].diagnostic.location.line, 10);
  EXPECT_NE(m.rejected[0].diagnostic.message.find("invalid YAML"), std::string::npos);
  EXPECT_NE(m.rejected[0].outcome.find("1 last good objects"), std::string::npos)
      << m.rejected[0].outcome;
  ASSERT_EQ(m.stale.size(), 1u);
  EXPECT_EQ(m.stale[0].kept, 1u);
  // The coarse side of it: a deletion in the same edit (a) waits for the fix.
  m = lg.update(
      read({{"p.yaml", kInvalidYaml + kSep + policy("c", "db", "90")}, {"q.yaml", policy("d")}}),
      true);
  EXPECT_EQ(policies(m), (Names{"a:80", "b:80", "c:90", "d:80"}));
  m = lg.update(read({{"p.yaml", policy("c", "db", "90")}, {"q.yaml", policy("d")}}), true);
  EXPECT_EQ(policies(m), (Names{"c:90", "d:80"}));
}

TEST(ManifestLastGood, BrokenNameIsNotTrustedAsAnIdentity) {
  LastGoodManifests lg;
  (void)lg.update(read({{"p.yaml", policy("a") + kSep + policy("b")}}), true);
  // b renamed to an invalid name in the same edit that breaks it: the name it
  // shows is not the one its last good version had, so the file's undefined
  // objects (b) stay.
  auto m = lg.update(read({{"p.yaml", policy("a") + kSep + policy("B_bad")}}), true);
  EXPECT_EQ(policies(m), (Names{"a:80", "b:80"}));
  ASSERT_EQ(m.rejected.size(), 1u);
  EXPECT_EQ(m.rejected[0].diagnostic.field, "metadata.name");
}

TEST(ManifestLastGood, BrokenAtStartContributesNothing) {
  LastGoodManifests lg;
  auto m = lg.update(read({{"p.yaml", policy("a") + kSep + brokenSpec("b") + kSep + kInvalidYaml}}),
                     true);
  EXPECT_EQ(policies(m), (Names{"a:80"}));
  ASSERT_EQ(m.rejected.size(), 2u);
  EXPECT_EQ(m.rejected[0].outcome, "no last good version: it contributes nothing");
  EXPECT_NE(m.rejected[1].outcome.find("nothing kept"), std::string::npos) << m.rejected[1].outcome;
  ASSERT_EQ(m.stale.size(), 1u);
  EXPECT_EQ(m.stale[0].rejected, 2u);
  EXPECT_EQ(m.stale[0].kept, 0u);
}

TEST(ManifestLastGood, DeletedFileRemovesItsObjectsEvenWhenStale) {
  LastGoodManifests lg;
  (void)lg.update(read({{"p.yaml", policy("a")}, {"q.yaml", policy("b")}}), true);
  auto m = lg.update(read({{"p.yaml", kInvalidYaml}, {"q.yaml", policy("b")}}), true);
  EXPECT_EQ(policies(m), (Names{"a:80", "b:80"}));
  m = lg.update(read({{"q.yaml", policy("b")}}), true);
  EXPECT_EQ(policies(m), (Names{"b:80"}));
  EXPECT_TRUE(m.stale.empty());
  EXPECT_EQ(lg.files(), 1u);
}

TEST(ManifestLastGood, IncompleteListingKeepsTheFilesItMissed) {
  LastGoodManifests lg;
  (void)lg.update(read({{"p.yaml", policy("a")}, {"sub/q.yaml", policy("b")}}), true);
  policy::Diagnostic listing;
  listing.location.file = "/m";
  listing.message = "cannot list directory: Permission denied";
  auto m = lg.update(read({{"p.yaml", policy("a")}}), false, {listing});
  EXPECT_EQ(policies(m), (Names{"a:80", "b:80"}));
  ASSERT_EQ(m.stale.size(), 1u);
  EXPECT_EQ(m.stale[0].file, "sub/q.yaml");
  ASSERT_EQ(m.rejected.size(), 1u);
  EXPECT_EQ(m.rejected[0].diagnostic.message, listing.message);
}

TEST(ManifestLastGood, AnObjectMovedToAnotherFileIsNotKeptTwice) {
  LastGoodManifests lg;
  (void)lg.update(read({{"p.yaml", policy("a") + kSep + policy("b")}}), true);
  // b moves to q.yaml while p.yaml breaks: q's b is the one in force.
  auto m = lg.update(
      read({{"p.yaml", policy("a") + kSep + kInvalidYaml}, {"q.yaml", policy("b", "db", "91")}}),
      true);
  EXPECT_EQ(policies(m), (Names{"a:80", "b:91"}));
  // A second definition of a valid object is a rejected duplicate, not a keep.
  m = lg.update(read({{"p.yaml", policy("a")}, {"q.yaml", policy("a", "db", "92")}}), true);
  EXPECT_EQ(policies(m), (Names{"a:80"}));
  ASSERT_EQ(m.rejected.size(), 1u);
  EXPECT_EQ(m.rejected[0].outcome, "another definition of the object is in force");
  EXPECT_EQ(m.rejected[0].diagnostic.location.file, "q.yaml");
}

}  // namespace
}  // namespace palisade::agent
