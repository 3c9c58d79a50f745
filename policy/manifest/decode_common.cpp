#include "policy/manifest/decode_common.h"

#include "policy/manifest/decode_dispatch.h"

namespace palisade::policy::manifest {

std::optional<Protocol> checkProtocol(std::string_view text, int line, const FieldPath& path,
                                      DecodeContext& ctx) {
  auto p = parseProtocol(text);
  if (!p)
    ctx.error(line, path, "unsupported protocol " + quote(text) + ": must be TCP, UDP or SCTP");
  return p;
}

bool checkPortNumber(int64_t port, int line, const FieldPath& path, DecodeContext& ctx) {
  if (port >= 1 && port <= 65535) return true;
  ctx.error(line, path, "invalid port " + std::to_string(port) + ": must be between 1 and 65535");
  return false;
}

bool checkName(std::string_view name, NameRule rule, int line, const FieldPath& path,
               DecodeContext& ctx) {
  switch (rule) {
    case NameRule::Dns1123Label:
      if (isDns1123Label(name)) return true;
      ctx.error(line, path,
                "invalid name " + quote(name) +
                    ": must be a DNS-1123 label (at most 63 lowercase letters, digits "
                    "or '-', starting and ending with a letter or digit)");
      return false;
    case NameRule::Dns1123Subdomain:
      if (isDns1123Subdomain(name)) return true;
      ctx.error(line, path,
                "invalid name " + quote(name) +
                    ": must be a DNS-1123 subdomain (at most 253 lowercase letters, "
                    "digits, '-' or '.', starting and ending with a letter or digit)");
      return false;
    case NameRule::Dns1035Label:
      if (isDns1035Label(name)) return true;
      ctx.error(line, path,
                "invalid name " + quote(name) +
                    ": must be a DNS-1035 label (at most 63 lowercase letters, digits "
                    "or '-', starting with a letter and ending with a letter or digit)");
      return false;
  }
  return false;
}

std::optional<IpAddress> checkIp(std::string_view text, int line, const FieldPath& path,
                                 DecodeContext& ctx) {
  auto ip = IpAddress::parse(text);
  if (!ip) ctx.error(line, path, "invalid IP address " + quote(text));
  return ip;
}

std::string locationPrefix(const SourceLocation& loc) {
  if (loc.file.empty()) return {};
  std::string out = loc.file;
  if (loc.line > 0) out += ":" + std::to_string(loc.line);
  out += ": ";
  return out;
}

void documentError(const SourceLocation& loc, std::string message, Diagnostics& diags) {
  Diagnostic d;
  d.location = loc;
  d.message = std::move(message);
  diags.push_back(std::move(d));
}

}  // namespace palisade::policy::manifest
