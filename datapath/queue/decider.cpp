#include "datapath/queue/decider.h"

namespace palisade::datapath::queue {

const char* verdictName(Verdict v) {
  switch (v) {
    case Verdict::Accept:
      return "accept";
    case Verdict::Drop:
      return "drop";
    case Verdict::Hold:
      return "hold";
  }
  return "?";
}

}  // namespace palisade::datapath::queue
