#include "policy/model/diagnostic.h"

namespace palisade::policy {

std::string Diagnostic::format() const {
  std::string out;
  out.reserve(location.file.size() + kind.size() + object.size() + field.size() + message.size() +
              16);
  // Each present part is followed by ": " so absent parts leave no stray separators.
  if (!location.file.empty()) {
    out += location.file;
    if (location.line > 0) {
      out += ':';
      out += std::to_string(location.line);
    }
    out += ": ";
  }
  if (!kind.empty() || !object.empty()) {
    out += kind;
    if (!kind.empty() && !object.empty()) out += ' ';
    out += object;
    out += ": ";
  }
  if (!field.empty()) {
    out += field;
    out += ": ";
  }
  out += message;
  if (message.empty() && out.size() >= 2) out.resize(out.size() - 2);
  return out;
}

}  // namespace palisade::policy
