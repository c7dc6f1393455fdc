// libFuzzer target for the IDX reader (scorelift/data/idx.hpp): not built by default, not run in CI —
// see README.md here for the build and run commands.
//
// Input layout: byte 0 chooses how the rest reaches the reader — bit 0: gzip-compress the rest first
// (so that the fuzzer explores the IDX format behind a valid gzip stream; uncompressed, the rest may
// itself be a gzip container, recognised by its magic bytes); bits 1–3: the expected rank (0..7, the
// valid 1..4 most often); bits 4–7: max_items − 1 (−1..14). The contract checked: read_idx_header and
// read_idx_ubyte return a consistent array or throw scorelift::invalid_argument; any other exception,
// a crash, a sanitizer report, an inconsistent array or a large allocation is a finding.
#include <zlib.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

#include "scorelift/data/idx.hpp"

namespace {

/// One file per fuzzing process (libFuzzer's -jobs/-workers run several), rewritten for every input.
const std::string& scratch_path() {
  static const std::string path =
      (std::filesystem::temp_directory_path() / ("scorelift_fuzz_idx_" + std::to_string(::getpid()))).string();
  return path;
}

void write_file(const std::string& path, const std::uint8_t* data, std::size_t size, bool gzip) {
  if (gzip) {
    gzFile out = gzopen(path.c_str(), "wb");
    if (out == nullptr) std::abort();
    if (size > 0) gzwrite(out, data, static_cast<unsigned>(size));
    gzclose(out);
    return;
  }
  std::FILE* out = std::fopen(path.c_str(), "wb");
  if (out == nullptr) std::abort();
  if (size > 0) std::fwrite(data, 1, size, out);
  std::fclose(out);
}

void check_consistent(const scorelift::data::idx_array& a) {
  std::size_t product = 1;
  for (const scorelift::index_t e : a.shape) product *= static_cast<std::size_t>(e);
  if (a.shape.empty() || product != a.values.size()) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::uint8_t control = data[0];
  const bool gzip = (control & 1U) != 0;
  const auto rank = static_cast<scorelift::index_t>((control >> 1U) & 7U);
  const auto max_items = static_cast<scorelift::index_t>(control >> 4U) - 1;
  const std::string& path = scratch_path();
  write_file(path, data + 1, size - 1, gzip);
  try {
    (void)scorelift::data::read_idx_header(path, rank);
  } catch (const scorelift::invalid_argument&) {
  }
  try {
    check_consistent(scorelift::data::read_idx_ubyte(path, rank, max_items));
  } catch (const scorelift::invalid_argument&) {
  }
  return 0;
}
