#include "datapath/nft/rule_digest.h"

#include <libnftnl/expr.h>
#include <linux/netfilter/nf_tables.h>

#include <array>
#include <cstring>

#include "datapath/nft/batch.h"

namespace palisade::datapath::nft {
namespace {

/// The kernel keeps one register file: 32-bit register NFT_REG32_00 + 4k is
/// 128-bit register NFT_REG_1 + k, and it lists such a register by its
/// 128-bit number. So "reg 8" we send comes back as "reg 1".
std::string canonicalRegisters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  constexpr std::string_view kReg = "reg ";
  size_t at = 0;
  while (at < text.size()) {
    size_t hit = text.find(kReg, at);
    if (hit == std::string_view::npos) break;
    size_t digits = hit + kReg.size(), end = digits;
    while (end < text.size() && text[end] >= '0' && text[end] <= '9') ++end;
    out.append(text.substr(at, digits - at));
    unsigned reg = 0;
    for (size_t i = digits; i < end && i < digits + 3; ++i)
      reg = reg * 10 + unsigned(text[i] - '0');
    if (end > digits && end - digits <= 3 && reg >= NFT_REG32_00 && (reg - NFT_REG32_00) % 4 == 0)
      out += std::to_string(NFT_REG_1 + (reg - NFT_REG32_00) / 4);
    else
      out.append(text.substr(digits, end - digits));
    at = end;
  }
  out.append(text.substr(std::min(at, text.size())));
  return out;
}

}  // namespace

uint64_t ruleDigest(const nftnl_rule* rule) {
  uint64_t h = fnv1a("rule");
  // Neither the iterator nor snprintf changes the rule; libnftnl's API is not const.
  auto* r = const_cast<nftnl_rule*>(rule);
  nftnl_expr_iter* it = nftnl_expr_iter_create(r);
  std::array<char, 4096> text{};
  for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
    const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
    h = fnv1a(name ? name : "?", h);
    h = fnv1a("|", h);
    if (name && std::strcmp(name, "counter") == 0) continue;  // its values are state
    int n = nftnl_expr_snprintf(text.data(), text.size(), e, NFTNL_OUTPUT_DEFAULT, 0);
    if (n > 0)
      h = fnv1a(canonicalRegisters(
                    std::string_view(text.data(), std::min<size_t>(size_t(n), text.size()))),
                h);
  }
  nftnl_expr_iter_destroy(it);
  uint32_t len = 0;
  const void* ud = nftnl_rule_get_data(r, NFTNL_RULE_USERDATA, &len);
  if (ud && len) h = fnv1a(std::string_view(static_cast<const char*>(ud), len), h ^ 0x5bd1e995);
  return h;
}

std::vector<uint64_t> expectedRuleDigests(const std::string& table, const ChainModel& chain) {
  std::vector<uint64_t> out;
  out.reserve(chain.rules.size());
  for (const RuleModel& m : chain.rules) {
    RulePtr rule = buildRule(table, chain.name, m);
    // The kernel always lists a lookup's flags; ours leave 0 unsaid.
    nftnl_expr_iter* it = nftnl_expr_iter_create(rule.get());
    for (nftnl_expr* e = nftnl_expr_iter_next(it); e; e = nftnl_expr_iter_next(it)) {
      const char* name = nftnl_expr_get_str(e, NFTNL_EXPR_NAME);
      if (name && std::strcmp(name, "lookup") == 0 &&
          !nftnl_expr_is_set(e, NFTNL_EXPR_LOOKUP_FLAGS))
        nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS, 0);
    }
    nftnl_expr_iter_destroy(it);
    out.push_back(ruleDigest(rule.get()));
  }
  return out;
}

}  // namespace palisade::datapath::nft
