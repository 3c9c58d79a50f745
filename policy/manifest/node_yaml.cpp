#include "policy/manifest/node_yaml.h"

#include <charconv>

namespace palisade::policy::manifest {
namespace {

bool isDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

bool looksLikeFloat(std::string_view s) {
  if (s == ".inf" || s == ".Inf" || s == ".INF" || s == ".nan" || s == ".NaN" || s == ".NAN" ||
      s == "-.inf" || s == "+.inf" || s == "-.Inf" || s == "+.Inf") {
    return true;
  }
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  const size_t e = s.find_first_of("eE");
  std::string_view mantissa = s.substr(0, e);
  if (e != std::string_view::npos) {
    std::string_view exp = s.substr(e + 1);
    if (!exp.empty() && (exp[0] == '-' || exp[0] == '+')) exp.remove_prefix(1);
    if (!isDigits(exp)) return false;
  }
  const size_t dot = mantissa.find('.');
  if (dot == std::string_view::npos) return isDigits(mantissa);
  const std::string_view whole = mantissa.substr(0, dot);
  const std::string_view frac = mantissa.substr(dot + 1);
  if (whole.empty() && frac.empty()) return false;
  return (whole.empty() || isDigits(whole)) && (frac.empty() || isDigits(frac));
}

}  // namespace

NodeKind resolvePlainScalar(std::string_view s, int64_t& value) {
  if (s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL") return NodeKind::Null;
  if (s == "true" || s == "True" || s == "TRUE" || s == "false" || s == "False" || s == "FALSE") {
    return NodeKind::Bool;
  }
  std::string_view digits = s;
  bool negative = false;
  if (digits[0] == '-' || digits[0] == '+') {
    negative = digits[0] == '-';
    digits.remove_prefix(1);
  }
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' && (digits[1] == 'x' || digits[1] == 'o')) {
    base = digits[1] == 'x' ? 16 : 8;
    digits.remove_prefix(2);
  } else if (!isDigits(digits)) {
    return looksLikeFloat(s) ? NodeKind::Float : NodeKind::String;
  }
  uint64_t magnitude = 0;
  auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), magnitude, base);
  if (end != digits.data() + digits.size()) return NodeKind::String;  // e.g. "0xZZ"
  // Out of int64 range: still a number, but no integer field can hold it.
  if (ec != std::errc() || magnitude > static_cast<uint64_t>(INT64_MAX)) return NodeKind::Float;
  value = negative ? -static_cast<int64_t>(magnitude) : static_cast<int64_t>(magnitude);
  return NodeKind::Int;
}

YamlNode::YamlNode(const YAML::Node& node, int line_offset) : node_(node), offset_(line_offset) {
  switch (node_.Type()) {
    case YAML::NodeType::Map:
      kind_ = NodeKind::Map;
      return;
    case YAML::NodeType::Sequence:
      kind_ = NodeKind::Seq;
      return;
    case YAML::NodeType::Scalar:
      break;
    default:
      kind_ = NodeKind::Null;
      return;
  }
  const std::string& tag = node_.Tag();
  const std::string& text = node_.Scalar();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") {  // quoted, or explicitly a string
    kind_ = NodeKind::String;
    return;
  }
  kind_ = resolvePlainScalar(text, int_);
  if (kind_ == NodeKind::Bool) bool_ = text[0] == 't' || text[0] == 'T';
}

int YamlNode::line() const {
  const YAML::Mark mark = node_.Mark();
  return mark.line < 0 ? 0 : mark.line + 1 + offset_;
}

std::optional<YamlNode> YamlNode::get(std::string_view key) const {
  if (kind_ != NodeKind::Map) return std::nullopt;
  // Iterators yield key/value pairs by value: hold the pair, not references into it.
  for (const auto& kv : node_) {
    if (kv.first.IsScalar() && kv.first.Scalar() == key) {
      YamlNode v(kv.second, offset_);
      if (v.kind() == NodeKind::Null) return std::nullopt;
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace palisade::policy::manifest
