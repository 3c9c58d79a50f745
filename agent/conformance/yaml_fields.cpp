#include "agent/conformance/yaml_fields.h"

namespace palisade::agent::conformance::fields {

std::string lineOf(const YAML::Node& node) {
  const int line = lineNumber(node);
  return line == 0 ? "" : " (line " + std::to_string(line) + ")";
}

int lineNumber(const YAML::Node& node) {
  if (!node.IsDefined() || node.Mark().is_null()) return 0;
  return node.Mark().line + 1;
}

Status requireSequence(const YAML::Node& node, const std::string& field) {
  if (!node.IsDefined() || node.IsNull() || node.IsSequence()) return okStatus();
  return Error(0, field + lineOf(node) + ": expected a list");
}

Status requireMap(const YAML::Node& node, const std::string& field) {
  if (!node.IsDefined() || node.IsNull() || node.IsMap()) return okStatus();
  return Error(0, field + lineOf(node) + ": expected a mapping");
}

size_t length(const YAML::Node& node) {
  return node.IsDefined() && node.IsSequence() ? node.size() : 0;
}

std::string indexed(const std::string& field, size_t i) {
  return field + "[" + std::to_string(i) + "]";
}

Result<policy::Protocol> protocolAt(const YAML::Node& node, const std::string& field) {
  Result<std::string> text = scalar<std::string>(node, field);
  if (!text) return text.error();
  std::optional<policy::Protocol> p = policy::parseProtocol(*text);
  if (!p) return Error(0, field + lineOf(node) + ": unknown protocol \"" + *text + "\"");
  return *p;
}

Result<std::vector<std::string>> stringsAt(const YAML::Node& node, const std::string& field) {
  if (auto s = requireSequence(node, field); !s) return s.error();
  std::vector<std::string> out;
  for (size_t i = 0; i < length(node); ++i) {
    Result<std::string> v = scalar<std::string>(node[i], indexed(field, i));
    if (!v) return v.error();
    out.push_back(std::move(*v));
  }
  return out;
}

Result<policy::LabelMap> labelsAt(const YAML::Node& node, const std::string& field) {
  policy::LabelMap labels;
  if (auto s = requireMap(node, field); !s) return s.error();
  if (!node.IsDefined()) return labels;
  for (const auto& kv : node) {
    Result<std::string> key = scalar<std::string>(kv.first, field + " key");
    if (!key) return key.error();
    Result<std::string> value = scalar<std::string>(kv.second, field + "." + *key);
    if (!value) return value.error();
    labels[*key] = std::move(*value);
  }
  return labels;
}

Result<std::string> emitYaml(const YAML::Node& node, const std::string& field) {
  YAML::Emitter out;
  out << node;
  if (!out.good())
    return Error(0, field + lineOf(node) + ": cannot re-emit: " + out.GetLastError());
  return std::string(out.c_str()) + "\n";
}

}  // namespace palisade::agent::conformance::fields
