#pragma once
// Kubernetes name and label syntax (apimachinery pkg/util/validation), as
// pure string checks. Each returns an empty string when valid, else the
// reason to append to a message.
#include <string>
#include <string_view>

namespace palisade::policy::manifest {

bool isDns1123Label(std::string_view s);      // namespaces
bool isDns1123Subdomain(std::string_view s);  // most object names
bool isDns1035Label(std::string_view s);      // services
bool isIanaSvcName(std::string_view s);       // named ports

/// Label key: optional DNS-subdomain prefix (<= 253) and '/', then a name of
/// <= 63 characters `[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?`.
std::string checkLabelKey(std::string_view key);
/// Label value: empty, or a name as above (<= 63 characters).
std::string checkLabelValue(std::string_view value);

/// `"text"` with control and non-ASCII bytes escaped, for messages.
std::string quote(std::string_view text);

}  // namespace palisade::policy::manifest
