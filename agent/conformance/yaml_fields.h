#pragma once
// Reading the fields of a case file with yaml-cpp without its exceptions:
// every conversion returns a Result whose Error names the field
// ("steps[1].expect[0].port") and its line. Shared by both case formats.
//
// yaml-cpp reports a missing key or a value of the wrong type by throwing.
// Every conversion goes through scalar() below, which turns that into an
// Error; the parsers catch what is left (a syntax error, a subscript into a
// scalar) at their edge.
#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <string>
#include <type_traits>
#include <vector>

#include "policy/model/objects.h"
#include "proto/base/result.h"

namespace palisade::agent::conformance::fields {

/// " (line N)" for a node that came from the text, "" for one that did not.
std::string lineOf(const YAML::Node& node);
/// The node's 1-based line, 0 when it has none.
int lineNumber(const YAML::Node& node);

template <class T>
constexpr const char* typeName() {
  if constexpr (std::is_same_v<T, std::string>) {
    return "a string";
  } else if constexpr (std::is_same_v<T, int32_t>) {
    return "a 32-bit integer";
  } else {
    static_assert(std::is_same_v<T, bool>);
    return "true or false";
  }
}

template <class T>
Result<T> scalar(const YAML::Node& node, const std::string& field) {
  if (!node.IsDefined() || node.IsNull()) return Error(0, field + ": missing");
  if (!node.IsScalar()) return Error(0, field + lineOf(node) + ": expected " + typeName<T>());
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    return Error(0, field + lineOf(node) + ": expected " + typeName<T>() + ", got \"" +
                        node.Scalar() + "\"");
  }
}

/// Absent is an empty list; anything but a sequence is an error.
Status requireSequence(const YAML::Node& node, const std::string& field);
/// Absent is an empty mapping; anything but a mapping is an error.
Status requireMap(const YAML::Node& node, const std::string& field);

/// Items of a list, 0 when absent (size() of an absent node throws).
size_t length(const YAML::Node& node);

/// "field[i]"
std::string indexed(const std::string& field, size_t i);

Result<policy::Protocol> protocolAt(const YAML::Node& node, const std::string& field);
Result<std::vector<std::string>> stringsAt(const YAML::Node& node, const std::string& field);
/// A mapping of string keys to string values; absent is empty.
Result<policy::LabelMap> labelsAt(const YAML::Node& node, const std::string& field);

/// An object back to YAML text, so it is read exactly like a manifest file.
Result<std::string> emitYaml(const YAML::Node& node, const std::string& field);

}  // namespace palisade::agent::conformance::fields
