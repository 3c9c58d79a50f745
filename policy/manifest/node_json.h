#pragma once
// Adapter over a simdjson DOM element for the shared decoders. Copies nothing:
// strings are views into the parser's buffer. DOM elements carry no position,
// so every node reports the line where its enclosing object started.
#include <simdjson.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "policy/manifest/node_kind.h"

namespace palisade::policy::manifest {

class JsonNode {
 public:
  JsonNode(simdjson::dom::element element, int line) : el_(element), line_(line) {}

  NodeKind kind() const {
    switch (el_.type()) {
      case simdjson::dom::element_type::ARRAY:
        return NodeKind::Seq;
      case simdjson::dom::element_type::OBJECT:
        return NodeKind::Map;
      case simdjson::dom::element_type::INT64:
        return NodeKind::Int;
      // Beyond int64: no Kubernetes integer field is that wide, so it is "a number".
      case simdjson::dom::element_type::UINT64:
      case simdjson::dom::element_type::DOUBLE:
        return NodeKind::Float;
      case simdjson::dom::element_type::STRING:
        return NodeKind::String;
      case simdjson::dom::element_type::BOOL:
        return NodeKind::Bool;
      case simdjson::dom::element_type::NULL_VALUE:
        return NodeKind::Null;
    }
    return NodeKind::Null;
  }
  int line() const { return line_; }
  /// This node, blamed on `line` (and so are its children).
  JsonNode withLine(int line) const { return JsonNode(el_, line); }

  // Valid only for the matching kind().
  std::string_view str() const {
    std::string_view s;
    return el_.get_string().get(s) ? std::string_view() : s;
  }
  int64_t integer() const {
    int64_t v = 0;
    return el_.get_int64().get(v) ? 0 : v;
  }
  bool boolean() const {
    bool b = false;
    return el_.get_bool().get(b) ? false : b;
  }

  /// The member `key` of a mapping; nullopt when absent, null, or not a mapping.
  std::optional<JsonNode> get(std::string_view key) const {
    simdjson::dom::object obj;
    if (el_.get_object().get(obj)) return std::nullopt;
    simdjson::dom::element v;
    if (obj.at_key(key).get(v) || v.is_null()) return std::nullopt;
    return JsonNode(v, line_);
  }

  /// f(std::string_view key, const JsonNode& value) for each member of a mapping.
  template <class F>
  void forEachMember(F&& f) const {
    simdjson::dom::object obj;
    if (el_.get_object().get(obj)) return;
    for (auto field : obj) f(field.key, JsonNode(field.value, line_));
  }

  /// f(size_t index, const JsonNode& element) for each element of a list.
  template <class F>
  void forEachElement(F&& f) const {
    simdjson::dom::array arr;
    if (el_.get_array().get(arr)) return;
    size_t i = 0;
    for (auto v : arr) f(i++, JsonNode(v, line_));
  }

  simdjson::dom::element element() const { return el_; }

 private:
  simdjson::dom::element el_;
  int line_;
};

}  // namespace palisade::policy::manifest
