// scorelift/data/idx.hpp — a reader for IDX files (the MNIST / Fashion-MNIST container), plain or
// gzip-compressed.
//
// Format (big-endian): two zero bytes, one type byte (0x08 = unsigned byte, the only type the
// image and label files use), one byte with the number of dimensions n, then n 32-bit extents,
// then exactly prod(extents) values. Every deviation is reported with the file's name: a missing
// or unreadable file, a corrupt gzip stream, a wrong magic number, zero or absurd extents, a
// payload that ends early (truncated download) or one that goes on after the last value.
//
// zlib's gzread reads both gzip-compressed and uncompressed files, so the same reader serves
// `train-images-idx3-ubyte.gz` and an unpacked `train-images-idx3-ubyte`. Link ZLIB::ZLIB
// (the `scorelift::data` component target).
#pragma once

#include <zlib.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "scorelift/errors.hpp"

namespace scorelift::data {

/// The contents of one IDX file of unsigned bytes: its extents and its values in row-major order.
struct idx_array {
  std::vector<index_t> shape;
  std::vector<std::uint8_t> values;
};

namespace detail {

/// An open gzip (or plain) file; closes itself.
class gz_file {
 public:
  explicit gz_file(const std::string& path) : handle_(gzopen(path.c_str(), "rb")) {}
  gz_file(const gz_file&) = delete;
  gz_file& operator=(const gz_file&) = delete;
  ~gz_file() {
    if (handle_ != nullptr) gzclose(handle_);
  }
  bool is_open() const { return handle_ != nullptr; }

  /// Reads up to `count` bytes; returns how many were read. A corrupt stream throws.
  std::size_t read(void* into, std::size_t count, const std::string& where, const std::string& path) {
    auto* out = static_cast<unsigned char*>(into);
    std::size_t done = 0;
    while (done < count) {
      // gzread takes an unsigned int: read in chunks of at most 1 GiB.
      const auto chunk = static_cast<unsigned>(std::min<std::size_t>(count - done, std::size_t{1} << 30U));
      const int got = gzread(handle_, out + done, chunk);
      if (got < 0) {
        int code = 0;
        const char* message = gzerror(handle_, &code);
        scorelift::detail::fail(where, "file '", path, "' is not a valid gzip stream (zlib: ",
                                message != nullptr ? message : "unknown error", ")");
      }
      if (got == 0) break;
      done += static_cast<std::size_t>(got);
    }
    return done;
  }

 private:
  gzFile handle_;
};

inline std::uint32_t big_endian_u32(const std::array<unsigned char, 4>& bytes) {
  return (std::uint32_t{bytes[0]} << 24U) | (std::uint32_t{bytes[1]} << 16U) | (std::uint32_t{bytes[2]} << 8U) |
         std::uint32_t{bytes[3]};
}

/// "[60000, 28, 28]" for an extent list of any length.
inline std::string shape_string(const std::vector<index_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
}

}  // namespace detail

/// Reads an IDX file of unsigned bytes with `expected_rank` dimensions (3 for images, 1 for labels).
/// `max_items` > 0 keeps only the first `max_items` entries along the first dimension (the rest of
/// the file is still checked for its length, so a truncated file is never silently accepted).
inline idx_array read_idx_ubyte(const std::string& path, index_t expected_rank, index_t max_items = 0) {
  constexpr const char* where = "read_idx_ubyte";
  scorelift::detail::require(expected_rank >= 1 && expected_rank <= 4, where, "argument 'expected_rank' is ",
                             expected_rank, " but IDX files of MNIST-like data have rank 1 to 4");
  scorelift::detail::require(max_items >= 0, where, "argument 'max_items' is ", max_items, " but must be >= 0");
  detail::gz_file file(path);
  scorelift::detail::require(file.is_open(), where, "cannot open file '", path,
                             "' (missing or unreadable; set the directory by argument or "
                             "SCORELIFT_FASHION_MNIST_DIR)");

  std::array<unsigned char, 4> magic{};
  const std::size_t got = file.read(magic.data(), magic.size(), where, path);
  scorelift::detail::require(got == magic.size(), where, "file '", path, "' has ", got,
                             " bytes but an IDX header needs at least 4");
  scorelift::detail::require(magic[0] == 0 && magic[1] == 0, where, "file '", path,
                             "' does not start with the IDX magic bytes 0x00 0x00 (got 0x", std::hex,
                             int{magic[0]}, " 0x", int{magic[1]}, std::dec, ")");
  scorelift::detail::require(magic[2] == 0x08, where, "file '", path, "' has IDX element type 0x", std::hex,
                             int{magic[2]}, std::dec, " but only 0x08 (unsigned byte) is supported");
  scorelift::detail::require(index_t{magic[3]} == expected_rank, where, "file '", path, "' has ", int{magic[3]},
                             " dimensions but ", expected_rank, " were expected");

  idx_array out;
  std::size_t total = 1;
  for (index_t d = 0; d < expected_rank; ++d) {
    std::array<unsigned char, 4> bytes{};
    scorelift::detail::require(file.read(bytes.data(), bytes.size(), where, path) == bytes.size(), where, "file '",
                               path, "' ends inside its header (dimension ", d, " of ", expected_rank, ")");
    const std::uint32_t extent = detail::big_endian_u32(bytes);
    // 2^28 bounds any real IDX extent and keeps the product from overflowing size_t.
    scorelift::detail::require(extent >= 1 && extent <= (1U << 28U), where, "file '", path, "' has extent ",
                               extent, " in dimension ", d, " (must be between 1 and 2^28)");
    scorelift::detail::require(total <= std::numeric_limits<std::size_t>::max() / extent / 2, where, "file '",
                               path, "' declares too many values");
    total *= extent;
    out.shape.push_back(static_cast<index_t>(extent));
  }

  const std::size_t item_size = total / static_cast<std::size_t>(out.shape[0]);
  const std::size_t keep_items = (max_items > 0 && max_items < out.shape[0]) ? static_cast<std::size_t>(max_items)
                                                                             : static_cast<std::size_t>(out.shape[0]);
  out.values.resize(keep_items * item_size);
  const std::size_t kept = file.read(out.values.data(), out.values.size(), where, path);
  // Skip (but count) the rest, so that a truncated file is caught even when only a prefix is kept.
  std::size_t seen = kept;
  std::vector<unsigned char> scratch(std::size_t{1} << 16U);
  for (std::size_t n = 1; seen < total && n > 0;) {
    n = file.read(scratch.data(), std::min(scratch.size(), total - seen), where, path);
    seen += n;
  }
  scorelift::detail::require(seen == total, where, "file '", path, "' is truncated: its header declares shape ",
                             detail::shape_string(out.shape), " (", total, " values) but only ", seen, " follow");
  unsigned char extra = 0;
  scorelift::detail::require(file.read(&extra, 1, where, path) == 0, where, "file '", path,
                             "' has trailing bytes after the ", total, " values its header declares");
  if (keep_items < static_cast<std::size_t>(out.shape[0])) out.shape[0] = static_cast<index_t>(keep_items);
  return out;
}

}  // namespace scorelift::data
