#pragma once
// Shared helpers for the manifest reader tests.
#include <string>
#include <string_view>
#include <vector>

#include "policy/manifest/reader.h"

namespace palisade::policy::testing {

inline std::vector<std::string> formatted(const Diagnostics& diags) {
  std::vector<std::string> out;
  for (const Diagnostic& d : diags) out.push_back(d.format());
  return out;
}

inline ManifestSet readYaml(std::string_view text, std::string_view file = "pol.yaml") {
  return readManifestText(text, file);
}

/// A NetworkPolicy x/p whose spec body (indented two spaces) starts on line 7.
inline std::string policyWithSpec(std::string_view spec_body) {
  return std::string(
             "apiVersion: networking.k8s.io/v1\n"
             "kind: NetworkPolicy\n"
             "metadata:\n"
             "  name: p\n"
             "  namespace: x\n"
             "spec:\n") +
         std::string(spec_body);
}

/// The formatted errors for a policy built by policyWithSpec.
inline std::vector<std::string> policyErrors(std::string_view spec_body) {
  return formatted(readYaml(policyWithSpec(spec_body)).errors);
}

}  // namespace palisade::policy::testing
