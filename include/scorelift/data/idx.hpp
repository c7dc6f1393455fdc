// scorelift/data/idx.hpp — a reader for IDX files (the MNIST / Fashion-MNIST container), plain or
// gzip-compressed.
//
// Format (big-endian): two zero bytes, one type byte (0x08 = unsigned byte, the only type the
// image and label files use), one byte with the number of dimensions n, then n 32-bit extents,
// then exactly prod(extents) values. Every deviation is reported with the file's name: a missing
// or unreadable file, a corrupt gzip stream, a wrong magic number, zero or absurd extents, a
// payload that ends early (truncated download) or one that goes on after the last value.
//
// The header is checked against the file's size on disk before any value is allocated: a plain
// file must be exactly header + prod(extents) bytes long, and a gzip file cannot decode to more
// than 1032 × its size (byte_stream.hpp), so a 16-byte file that claims gigabytes is refused at
// once. Within that bound the values buffer still grows only as decoded bytes arrive, so peak
// memory follows the data actually present, not the claim. A gzip file may hold several members
// (decoded as one stream, as gzip(1) does); any other data after the gzip stream is refused.
// Link ZLIB::ZLIB (the `scorelift::data` component target).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "scorelift/data/byte_stream.hpp"
#include "scorelift/detail/checked_arithmetic.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::data {

/// The contents of one IDX file of unsigned bytes: its extents and its values in row-major order.
struct idx_array {
  std::vector<index_t> shape;
  std::vector<std::uint8_t> values;
};

namespace detail {

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

/// The header of an IDX file of unsigned bytes: its extents, the number of values they declare,
/// and how many bytes the header itself takes (4 + 4 · rank).
struct idx_header {
  std::vector<index_t> shape;
  std::size_t value_count = 0;  // prod(shape)
  std::size_t header_bytes = 0;
};

namespace detail {

/// Reads and checks the header from `file`, then checks it against the file's size on disk — all
/// before anything of the size the header declares is allocated.
inline idx_header read_header(byte_stream& file, const std::string& path, index_t expected_rank, const char* where) {
  scorelift::detail::require(expected_rank >= 1 && expected_rank <= 4, where, "argument 'expected_rank' is ",
                             expected_rank, " but IDX files of MNIST-like data have rank 1 to 4");
  scorelift::detail::require(file.is_open(), where, "cannot open file '", path,
                             "' (missing or unreadable; set the directory by argument or "
                             "SCORELIFT_FASHION_MNIST_DIR)");
  std::array<unsigned char, 4> magic{};
  const std::size_t got = file.read(magic.data(), magic.size());
  scorelift::detail::require(got == magic.size(), where, "file '", path, "' has ", got,
                             " bytes but an IDX header needs at least 4");
  scorelift::detail::require(magic[0] == 0 && magic[1] == 0, where, "file '", path,
                             "' does not start with the IDX magic bytes 0x00 0x00 (got 0x", std::hex,
                             int{magic[0]}, " 0x", int{magic[1]}, std::dec, ")");
  scorelift::detail::require(magic[2] == 0x08, where, "file '", path, "' has IDX element type 0x", std::hex,
                             int{magic[2]}, std::dec, " but only 0x08 (unsigned byte) is supported");
  scorelift::detail::require(index_t{magic[3]} == expected_rank, where, "file '", path, "' has ", int{magic[3]},
                             " dimensions but ", expected_rank, " were expected");

  idx_header out;
  out.header_bytes = 4 + 4 * static_cast<std::size_t>(expected_rank);
  index_t total = 1;
  for (index_t d = 0; d < expected_rank; ++d) {
    std::array<unsigned char, 4> bytes{};
    scorelift::detail::require(file.read(bytes.data(), bytes.size()) == bytes.size(), where, "file '", path,
                               "' ends inside its header (dimension ", d, " of ", expected_rank, ")");
    const std::uint32_t extent = big_endian_u32(bytes);
    // 2^28 bounds any real IDX extent; the product is checked too (three extents of 2^28 wrap).
    scorelift::detail::require(extent >= 1 && extent <= (1U << 28U), where, "file '", path, "' has extent ",
                               extent, " in dimension ", d, " (must be between 1 and 2^28)");
    total = scorelift::detail::checked_multiply(total, static_cast<index_t>(extent), where,
                                                "the number of values declared by '" + path + "'");
    out.shape.push_back(static_cast<index_t>(extent));
  }
  out.value_count = static_cast<std::size_t>(total);

  // The size on disk bounds what the file can hold: exact for a plain file, 1032:1 for gzip.
  const std::uint64_t declared = std::uint64_t{out.header_bytes} + out.value_count;
  if (!file.compressed()) {
    const std::uint64_t present = file.file_size() - std::min<std::uint64_t>(file.file_size(), out.header_bytes);
    scorelift::detail::require(present >= out.value_count, where, "file '", path, "' is truncated: its header declares shape ",
                               shape_string(out.shape), " (", out.value_count, " values) but only ", present, " follow");
    scorelift::detail::require(present == out.value_count, where, "file '", path, "' has trailing bytes after the ",
                               out.value_count, " values its header declares (", present - out.value_count, " more)");
  } else {
    scorelift::detail::require(declared <= file.max_decoded_size(), where, "file '", path, "' declares shape ",
                               shape_string(out.shape), " (", out.value_count, " values) but its ", file.file_size(),
                               " compressed bytes decode to at most ", file.max_decoded_size(),
                               " (deflate's largest ratio is 1032:1): the file is truncated or corrupt");
  }
  return out;
}

}  // namespace detail

/// The header of an IDX file of unsigned bytes with `expected_rank` dimensions, checked (also against
/// the file's size) without reading its values: to check files against each other before loading.
inline idx_header read_idx_header(const std::string& path, index_t expected_rank) {
  detail::byte_stream file(path, "read_idx_header");
  return detail::read_header(file, path, expected_rank, "read_idx_header");
}

/// Reads an IDX file of unsigned bytes with `expected_rank` dimensions (3 for images, 1 for labels).
/// `max_items` > 0 keeps only the first `max_items` entries along the first dimension (the rest of
/// the file is still checked for its length, so a truncated file is never silently accepted).
inline idx_array read_idx_ubyte(const std::string& path, index_t expected_rank, index_t max_items = 0) {
  constexpr const char* where = "read_idx_ubyte";
  scorelift::detail::require(max_items >= 0, where, "argument 'max_items' is ", max_items, " but must be >= 0");
  detail::byte_stream file(path, where);
  const idx_header header = detail::read_header(file, path, expected_rank, where);
  const std::size_t total = header.value_count;

  idx_array out;
  out.shape = header.shape;
  const std::size_t item_size = total / static_cast<std::size_t>(out.shape[0]);
  const std::size_t keep_items = (max_items > 0 && max_items < out.shape[0]) ? static_cast<std::size_t>(max_items)
                                                                             : static_cast<std::size_t>(out.shape[0]);
  const std::size_t wanted = keep_items * item_size;
  // Grow geometrically from 1 MiB as bytes arrive: a gzip file that claims more than it holds costs
  // at most twice what it holds. A plain file's size was checked exactly, so it is read in one go.
  std::size_t kept = 0;
  while (kept < wanted) {
    const std::size_t next = file.compressed() ? std::min(wanted, std::max(2 * kept, std::size_t{1} << 20U)) : wanted;
    out.values.resize(next);
    const std::size_t n = file.read(out.values.data() + kept, next - kept);
    kept += n;
    if (kept < next) break;  // the data ends early: reported below
  }
  out.values.resize(kept);
  // Skip (but count) the rest, so that a truncated file is caught even when only a prefix is kept.
  std::size_t seen = kept;
  std::vector<unsigned char> scratch(std::size_t{1} << 16U);
  for (std::size_t n = 1; seen < total && n > 0 && kept == wanted;) {
    n = file.read(scratch.data(), std::min(scratch.size(), total - seen));
    seen += n;
  }
  scorelift::detail::require(seen == total, where, "file '", path, "' is truncated: its header declares shape ",
                             detail::shape_string(out.shape), " (", total, " values) but only ", seen, " follow");
  unsigned char extra = 0;
  scorelift::detail::require(file.read(&extra, 1) == 0, where, "file '", path,
                             "' has trailing bytes after the ", total, " values its header declares");
  if (keep_items < static_cast<std::size_t>(out.shape[0])) out.shape[0] = static_cast<index_t>(keep_items);
  return out;
}

}  // namespace scorelift::data
