#pragma once
// A rule's digest: what it does, the same for the rule we send (batch.h's
// buildRule) and the rule the kernel lists back, so the drift check can tell
// a flushed chain, a foreign rule or an edited one from our own without
// parsing rules into RuleModels. It covers every expression with its
// attributes (as libnftnl prints them) and the comment; counter values and
// handles are state, not meaning, and are left out. It works because batch.cpp
// builds every rule in the form the kernel lists it (lookup flags said,
// registers by their 128-bit names where one starts).
#include <libnftnl/rule.h>

#include <cstdint>
#include <string>
#include <vector>

#include "datapath/nft/model.h"

namespace palisade::datapath::nft {

uint64_t ruleDigest(const nftnl_rule* rule);
/// The digests of `chain`'s rules as this build would program them.
std::vector<uint64_t> expectedRuleDigests(const std::string& table, const ChainModel& chain);

}  // namespace palisade::datapath::nft
