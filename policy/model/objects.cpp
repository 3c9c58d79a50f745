#include "policy/model/objects.h"

namespace palisade::policy {

const char* protocolName(Protocol p) {
  switch (p) {
    case Protocol::TCP:
      return "TCP";
    case Protocol::UDP:
      return "UDP";
    case Protocol::SCTP:
      return "SCTP";
  }
  return "?";
}

std::optional<Protocol> parseProtocol(std::string_view text) {
  // Case-sensitive, as the API server: "tcp" is rejected.
  if (text == "TCP") return Protocol::TCP;
  if (text == "UDP") return Protocol::UDP;
  if (text == "SCTP") return Protocol::SCTP;
  return std::nullopt;
}

}  // namespace palisade::policy
