#pragma once
// `palisade explain -f PATH... --from NS/POD|IP --to NS/POD|IP|svc/NS/NAME
//  --port N [--protocol P] [-o text|json]`: the verdict of one flow and the
// reasons for both directions; through a Service, for each backend.
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}

namespace palisade::agent::cli {

struct ExplainOptions {
  std::vector<std::string> files;
  std::string from;
  std::string to;
  int32_t port = 0;
  std::string protocol = "TCP";
  std::string output = "text";
};

CLI::App* addExplainCommand(CLI::App& app, ExplainOptions& opts);

/// Returns 0 (whatever the verdict), 2 on an unknown pod/service or bad flag.
int runExplain(const ExplainOptions& opts, std::ostream& out, std::ostream& err);

/// The note explain adds when a pod talks to itself.
extern const char* const kSelfTrafficNote;

}  // namespace palisade::agent::cli
