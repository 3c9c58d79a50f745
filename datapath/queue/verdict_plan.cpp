#include "datapath/queue/verdict_plan.h"

namespace palisade::datapath::queue {

std::vector<VerdictMessage> planVerdicts(std::span<const Answer> answers,
                                         std::optional<uint32_t> lowest_held) {
  std::vector<VerdictMessage> out;
  size_t i = 0;
  while (i < answers.size()) {
    size_t j = i + 1;
    while (j < answers.size() && answers[j].accept == answers[i].accept) ++j;
    const uint32_t last = answers[j - 1].id;
    const bool safe = !lowest_held || *lowest_held > last;
    if (j - i > 1 && safe) {
      out.push_back({last, answers[i].accept, true});
    } else {
      for (size_t k = i; k < j; ++k) out.push_back({answers[k].id, answers[k].accept, false});
    }
    i = j;
  }
  return out;
}

}  // namespace palisade::datapath::queue
