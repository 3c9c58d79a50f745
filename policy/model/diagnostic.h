#pragma once
// A validation error or note about one object, formatted the way `palisade
// check` prints it:
//   FILE:LINE: NetworkPolicy x/deny-all: spec.ingress[0].from[1].ipBlock.cidr: invalid CIDR
//   "10.0.0.0/33"
#include <string>
#include <vector>

#include "policy/model/objects.h"

namespace palisade::policy {

struct Diagnostic {
  SourceLocation location;  // file and line of the offending field (or object)
  std::string kind;         // "NetworkPolicy"
  std::string object;       // "x/deny-all" (namespace/name, or name when cluster-scoped)
  std::string field;        // "spec.ingress[0].from[1].ipBlock.cidr"; empty for the whole object
  std::string message;      // `invalid CIDR "10.0.0.0/33"`

  /// "FILE:LINE: KIND OBJECT: FIELD: MESSAGE", omitting absent parts.
  std::string format() const;
};

using Diagnostics = std::vector<Diagnostic>;

}  // namespace palisade::policy
