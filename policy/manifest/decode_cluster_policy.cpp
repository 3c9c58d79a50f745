#include "policy/manifest/decode_cluster_policy.h"

namespace palisade::policy::manifest {
namespace {

bool alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/// [a-zA-Z0-9]([-a-zA-Z0-9_]*[a-zA-Z0-9])?
bool validLabel(std::string_view label) {
  if (label.empty() || !alnum(label.front()) || !alnum(label.back())) return false;
  for (char c : label)
    if (!alnum(c) && c != '-' && c != '_') return false;
  return true;
}

}  // namespace

bool validDomainName(std::string_view name) {
  // The CRD's pattern, ^(\*\.)?(label\.)+label\.?$ (its [a-zA-z0-9] is taken
  // as the [a-zA-Z0-9] it means).
  if (name.starts_with("*.")) name.remove_prefix(2);
  if (name.ends_with('.')) name.remove_suffix(1);
  size_t labels = 0;
  while (true) {
    const size_t dot = name.find('.');
    if (!validLabel(name.substr(0, dot))) return false;
    ++labels;
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  return labels >= 2;
}

}  // namespace palisade::policy::manifest
