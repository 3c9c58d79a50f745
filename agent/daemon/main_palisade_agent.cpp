// palisade-agent: the node daemon. See agent/daemon/agent.h.
#include "agent/daemon/agent.h"
#include "agent/daemon/flags.h"

int main(int argc, char** argv) {
  CLI::App app{"palisade-agent"};
  palisade::agent::AgentFlags flags;
  palisade::agent::addFlags(app, flags);
  CLI11_PARSE(app, argc, argv);
  return palisade::agent::runAgent(flags);
}
