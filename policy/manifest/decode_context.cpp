#include "policy/manifest/decode_context.h"

namespace palisade::policy::manifest {

std::string FieldPath::str() const {
  if (!parent && key.empty()) return {};  // the document itself
  std::string out = parent ? parent->str() : std::string();
  if (key.empty()) {
    out += '[';
    out += std::to_string(index);
    out += ']';
  } else {
    if (!out.empty()) out += '.';
    out += key;
  }
  return out;
}

void DecodeContext::setObject(std::string_view ns, std::string_view name) {
  object_.clear();
  if (name.empty()) return;  // a nameless object is named by kind alone
  if (!ns.empty()) {
    object_ += ns;
    object_ += '/';
  }
  object_ += name;
}

void DecodeContext::error(int line, const FieldPath* path, std::string message) {
  failed_ = true;
  Diagnostic d;
  d.location.file = location_.file;
  d.location.line = line > 0 ? line : location_.line;
  d.kind = std::string(kind_);
  d.object = object_;
  if (path) d.field = path->str();
  d.message = std::move(message);
  diags_.push_back(std::move(d));
}

}  // namespace palisade::policy::manifest
