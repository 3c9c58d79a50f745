#include "datapath/nft/rule_digest.h"

#include <libnftnl/expr.h>

#include <array>
#include <cstring>

#include "datapath/nft/batch.h"

namespace palisade::datapath::nft {

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
      h = fnv1a(std::string_view(text.data(), std::min<size_t>(size_t(n), text.size())), h);
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
  for (const RuleModel& m : chain.rules)
    out.push_back(ruleDigest(buildRule(table, chain.name, m).get()));
  return out;
}

}  // namespace palisade::datapath::nft
