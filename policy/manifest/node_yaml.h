#pragma once
// Adapter over a yaml-cpp node for the shared decoders. YAML scalars are
// untyped text, so plain scalars are resolved the way the API server's YAML
// to JSON conversion does (YAML 1.2 core schema): `80` is an integer, `"80"`
// a string, `true` a boolean, `~`/`null`/empty a null.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/manifest/node_kind.h"

namespace palisade::policy::manifest {

/// Classifies a plain (unquoted, untagged) scalar; sets `value` for integers.
NodeKind resolvePlainScalar(std::string_view text, int64_t& value);

class YamlNode {
 public:
  /// `line_offset`: the line (0-based) where the parsed chunk starts in its file.
  YamlNode(const YAML::Node& node, int line_offset);

  NodeKind kind() const { return kind_; }
  /// 1-based line of this node in its file; 0 when unknown.
  int line() const;
  /// YAML nodes know their own lines; kept for symmetry with JsonNode.
  const YamlNode& withLine(int /*line*/) const { return *this; }

  std::string_view str() const { return node_.Scalar(); }
  int64_t integer() const { return int_; }
  bool boolean() const { return bool_; }

  /// The member `key` of a mapping; nullopt when absent, null, or not a mapping.
  std::optional<YamlNode> get(std::string_view key) const;

  /// f(std::string_view key, const YamlNode& value) for each member of a mapping.
  template <class F>
  void forEachMember(F&& f) const {
    if (kind_ != NodeKind::Map) return;
    // Iterators yield key/value pairs by value: hold the pair, not references into it.
    for (const auto& kv : node_) {
      // Complex keys (`? [a, b]`) read as "" and then fail validation as an empty key.
      const std::string_view key_text =
          kv.first.IsScalar() ? std::string_view(kv.first.Scalar()) : std::string_view();
      f(key_text, YamlNode(kv.second, offset_));
    }
  }

  /// f(size_t index, const YamlNode& element) for each element of a list.
  template <class F>
  void forEachElement(F&& f) const {
    if (kind_ != NodeKind::Seq) return;
    size_t i = 0;
    for (const auto& element : node_) f(i++, YamlNode(element, offset_));
  }

 private:
  YAML::Node node_;
  int offset_;
  NodeKind kind_ = NodeKind::Null;
  int64_t int_ = 0;
  bool bool_ = false;
};

}  // namespace palisade::policy::manifest
