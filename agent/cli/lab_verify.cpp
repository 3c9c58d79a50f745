#include "agent/cli/lab_verify.h"

#include <algorithm>

namespace palisade::agent::cli {

char verifyMark(bool predicted, bool kernel, bool checked) {
  if (!checked) return '-';
  if (predicted != kernel) return '!';
  return predicted ? '.' : 'X';
}

std::string renderVerifyTable(const VerifyGrid& grid) {
  const size_t n = grid.names.size();
  const size_t num_width = std::to_string(std::max<size_t>(n, 1)).size();
  const size_t cell = std::max<size_t>(num_width, 2);  // "  1  2": one space between marks at least
  size_t name_width = 0;
  for (const std::string& name : grid.names) name_width = std::max(name_width, name.size());
  auto pad = [](const std::string& s, size_t w) {
    return std::string(w > s.size() ? w - s.size() : 0, ' ') + s;
  };
  const size_t prefix = num_width + 1 + name_width;
  std::string out = std::string(prefix, ' ');
  for (size_t j = 0; j < n; ++j) out += " " + pad(std::to_string(j + 1), cell);
  out += "\n";
  for (size_t i = 0; i < n; ++i) {
    out += pad(std::to_string(i + 1), num_width) + " " + grid.names[i] +
           std::string(name_width - grid.names[i].size(), ' ');
    for (size_t j = 0; j < n; ++j) {
      out += " " + pad(std::string(1, verifyMark(grid.predicted[i][j], grid.kernel[i][j],
                                                 grid.checked[i][j])),
                       cell);
    }
    out += "\n";
  }
  out +=
      "legend: . allowed  X denied (prediction and kernel agree)  ! they disagree (listed "
      "below)  - not checked\n";
  return out;
}

VerifyCount countVerify(const VerifyGrid& grid) {
  VerifyCount c;
  for (size_t i = 0; i < grid.names.size(); ++i) {
    for (size_t j = 0; j < grid.names.size(); ++j) {
      if (!grid.checked[i][j]) continue;
      ++c.checked;
      if (grid.predicted[i][j] != grid.kernel[i][j]) ++c.disagree;
    }
  }
  return c;
}

}  // namespace palisade::agent::cli
