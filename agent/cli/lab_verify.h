#pragma once
// `palisade lab verify`'s report: the prediction (the state evaluator, as
// `palisade reach`) and the kernel (real connections, `lab probe`) in ONE
// matrix, so a disagreement stands out instead of hiding in a cell-by-cell
// comparison of two grids. Pure: the numbers in, the text out.
#include <string>
#include <vector>

namespace palisade::agent::cli {

struct VerifyGrid {
  std::vector<std::string> names;            // "ns/pod", reach order
  std::vector<std::vector<bool>> predicted;  // [from][to]
  std::vector<std::vector<bool>> kernel;     // [from][to]
  std::vector<std::vector<bool>> checked;    // [from][to]: the kernel's answer is a verdict
};

/// '.' allowed and 'X' denied when both agree, '!' when they disagree, '-'
/// when the cell was not checked (whatever either side said).
char verifyMark(bool predicted, bool kernel, bool checked);

/// Rows "N ns/pod", columns by the same numbers (names would not fit 120
/// columns), one mark per cell, then a legend line:
///
///                      1  2  3
///   1 backend/api-1    .  X  -
///   2 backend/api-2    !  .  -
///   3 frontend/web-1   .  .  -
///   legend: ...
std::string renderVerifyTable(const VerifyGrid& grid);

/// Cells compared, and those that disagree.
struct VerifyCount {
  size_t checked = 0;
  size_t disagree = 0;
};
VerifyCount countVerify(const VerifyGrid& grid);

}  // namespace palisade::agent::cli
