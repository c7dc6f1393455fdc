// scorelift/errors.hpp — the one exception type the library throws for bad input, and the
// helpers that build its messages. Every check names the function, the argument and its shape,
// so that "lifted_loss: target has shape [7, 3] but modes[0] has shape [7, 4]" is what a user reads.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>

namespace scorelift {

/// Signed index type used for batch sizes, dimensions and levels (Eigen's convention).
using index_t = std::ptrdiff_t;

/// Thrown for every violated precondition on user input (shape, dtype, device, values).
class invalid_argument : public std::invalid_argument {
 public:
  using std::invalid_argument::invalid_argument;
};

namespace detail {

/// "[7, 3]" — the shape notation used in every message.
inline std::string shape_string(std::initializer_list<index_t> extents) {
  std::ostringstream out;
  out << '[';
  bool first = true;
  for (index_t e : extents) {
    out << (first ? "" : ", ") << e;
    first = false;
  }
  out << ']';
  return out.str();
}

/// Concatenates the pieces with operator<< and throws scorelift::invalid_argument.
template <class... Pieces>
[[noreturn]] void fail(std::string_view where, const Pieces&... pieces) {
  std::ostringstream out;
  out << where << ": ";
  (out << ... << pieces);
  throw invalid_argument(out.str());
}

/// Throws with the given message pieces when `condition` is false.
template <class... Pieces>
void require(bool condition, std::string_view where, const Pieces&... pieces) {
  if (!condition) fail(where, pieces...);
}

/// Rows [begin, end) of a matrix of `rows` rows: what every view's slice_rows checks before it
/// offsets a pointer.
inline void require_row_range(index_t begin, index_t end, index_t rows, std::string_view where) {
  require(0 <= begin && begin <= end && end <= rows, where, "rows [", begin, ", ", end, ") are outside [0, ", rows, ")");
}

}  // namespace detail
}  // namespace scorelift
