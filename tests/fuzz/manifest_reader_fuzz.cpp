// libFuzzer target: arbitrary bytes through the manifest reader (format
// sniffed), which must never crash, hang or throw. Also checks the reader's
// own invariants on what it accepts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "policy/manifest/reader.h"

using palisade::policy::ManifestFormat;
using palisade::policy::ManifestSet;
using palisade::policy::readManifestText;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  ManifestSet set = readManifestText(text, "fuzz", ManifestFormat::Auto);
  for (const auto& policy : set.policies) {
    // Accepted ipBlocks keep their promise: every except is strictly inside the cidr.
    for (const auto* rules : {&policy.ingress, &policy.egress}) {
      for (const auto& rule : *rules) {
        for (const auto& peer : rule.peers) {
          if (!peer.ip_block) continue;
          for (const auto& except : peer.ip_block->except) {
            if (!peer.ip_block->cidr.contains(except) ||
                except.prefixLen() <= peer.ip_block->cidr.prefixLen()) {
              std::abort();
            }
          }
        }
      }
    }
  }
  for (const auto& d : set.errors) (void)d.format();
  return 0;
}
