// A bounded, seeded random sweep over the IDX reader: valid plain and gzip files, truncated, with
// flipped bytes, with corrupted headers and with trailing data, read back with matching and
// mismatching ranks and item limits. The contract: a valid result or scorelift::invalid_argument,
// nothing else — and for the raw IDX bytes a small reference model says which of the two it must be,
// so a corrupt file that is accepted (or a valid one that is refused) fails too. Corruptions of the
// gzip container itself (flipped bytes inside the compressed stream) may go either way (a flipped
// mtime byte is harmless), but must never crash, throw anything else, or return an inconsistent array.
// The sweep is fixed by its seed and runs in well under a second (a few seconds under ASan).
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "idx_files.hpp"
#include "scorelift/data/idx.hpp"

using scorelift::index_t;
using bytes = std::vector<unsigned char>;

namespace {

/// What the reader must return for the raw (decoded) bytes `raw` read with `rank` and `max_items`, or
/// nullopt when it must refuse them: the IDX format as documented in idx.hpp, written independently.
std::optional<scorelift::data::idx_array> reference_read(const bytes& raw, index_t rank, index_t max_items) {
  if (max_items < 0 || rank < 1 || rank > 4) return std::nullopt;
  if (raw.size() < 4 || raw[0] != 0 || raw[1] != 0 || raw[2] != 0x08 || raw[3] != rank) return std::nullopt;
  const std::size_t header = 4 + 4 * static_cast<std::size_t>(rank);
  if (raw.size() < header) return std::nullopt;
  scorelift::data::idx_array out;
  std::uint64_t total = 1;  // ≤ raw.size() before each product, so no wrap: extents ≥ 1 never shrink it
  for (index_t d = 0; d < rank; ++d) {
    std::uint32_t e = 0;
    for (std::size_t k = 0; k < 4; ++k) e = (e << 8U) | raw[4 + 4 * static_cast<std::size_t>(d) + k];
    if (e < 1 || e > (1U << 28U)) return std::nullopt;
    total *= e;
    if (total > raw.size()) return std::nullopt;
    out.shape.push_back(static_cast<index_t>(e));
  }
  if (total != raw.size() - header) return std::nullopt;
  const auto items = static_cast<std::size_t>(out.shape[0]);
  const std::size_t keep = max_items > 0 && static_cast<std::size_t>(max_items) < items ? static_cast<std::size_t>(max_items) : items;
  const std::size_t item_size = static_cast<std::size_t>(total) / items;
  out.shape[0] = static_cast<index_t>(keep);
  out.values.assign(raw.begin() + static_cast<std::ptrdiff_t>(header),
                    raw.begin() + static_cast<std::ptrdiff_t>(header + keep * item_size));
  return out;
}

bytes random_valid_idx(std::mt19937_64& gen) {
  std::uniform_int_distribution<int> rank_pick(1, 4), extent_pick(1, 6), byte_pick(0, 255);
  const int rank = rank_pick(gen);
  std::vector<std::uint32_t> shape;
  std::size_t total = 1;
  for (int d = 0; d < rank; ++d) {
    shape.push_back(static_cast<std::uint32_t>(extent_pick(gen)));
    total *= shape.back();
  }
  bytes values(total);
  for (auto& v : values) v = static_cast<unsigned char>(byte_pick(gen));
  return scorelift::test::idx_bytes(shape, values);
}

/// One of the header corruptions a damaged or hostile file shows: magic, type, rank, or an extent set
/// to 0, to 2^28 + 1, to 0xFFFFFFFF, to a value whose product with the others wraps, or to random bits.
void corrupt_header(bytes& raw, std::mt19937_64& gen) {
  std::uniform_int_distribution<int> kind(0, 6), byte_pick(0, 255);
  const std::size_t rank = raw.size() > 3 ? raw[3] : 0;
  std::uniform_int_distribution<std::size_t> dim_pick(0, rank > 0 ? rank - 1 : 0);
  const auto set_extent = [&](std::size_t d, std::uint32_t e) {
    for (std::size_t k = 0; k < 4 && 4 + 4 * d + k < raw.size(); ++k)
      raw[4 + 4 * d + k] = static_cast<unsigned char>((e >> (24 - 8 * k)) & 0xFFU);
  };
  switch (kind(gen)) {
    case 0: raw[static_cast<std::size_t>(byte_pick(gen)) % 2] = static_cast<unsigned char>(1 + byte_pick(gen) % 255); break;
    case 1: raw[2] = static_cast<unsigned char>(byte_pick(gen)); break;
    case 2: raw[3] = static_cast<unsigned char>(byte_pick(gen) % 8); break;
    case 3: set_extent(dim_pick(gen), 0); break;
    case 4: set_extent(dim_pick(gen), std::uniform_int_distribution<std::uint32_t>(1U << 28U, 0xFFFFFFFFU)(gen)); break;
    case 5:  // every extent 2^28: a product of 2^56..2^112 (wraps 64 bits at rank 3 and 4)
      for (std::size_t d = 0; d < rank; ++d) set_extent(d, 1U << 28U);
      break;
    default: set_extent(dim_pick(gen), static_cast<std::uint32_t>(gen())); break;
  }
}

struct sweep_counts {
  std::set<std::string> distinct;
  int tried = 0, bad = 0, refused_bad = 0, accepted_valid = 0, container_either = 0;
};

}  // namespace

TEST_CASE("fuzz: the IDX reader returns a valid array or throws scorelift::invalid_argument, nothing else") {
  const scorelift::test::temp_directory dir;
  std::mt19937_64 gen(0x1D5EED);
  sweep_counts counts;
  const auto start = std::chrono::steady_clock::now();
  constexpr int iterations = 1500;
  for (int it = 0; it < iterations; ++it) {
    // Safety bound only: the sweep is fixed by the seed and normally finishes far sooner.
    if (std::chrono::steady_clock::now() - start > std::chrono::seconds(20)) break;
    const bytes valid = random_valid_idx(gen);
    bytes raw = valid;
    std::uniform_int_distribution<int> mutation(0, 7);
    const int m = mutation(gen);
    std::uniform_int_distribution<std::size_t> position(0, raw.size() - 1);
    switch (m) {
      case 0: break;  // unchanged
      case 1: raw.resize(std::uniform_int_distribution<std::size_t>(0, raw.size() - 1)(gen)); break;  // truncated
      case 2: raw[position(gen)] ^= static_cast<unsigned char>(1 + gen() % 255); break;               // byte flip
      case 3:
      case 4: corrupt_header(raw, gen); break;
      case 5:  // trailing bytes
        for (std::size_t k = 1 + gen() % 5; k > 0; --k) raw.push_back(static_cast<unsigned char>(gen()));
        break;
      default:  // several flips anywhere
        for (int k = 0; k < 3; ++k) raw[position(gen)] = static_cast<unsigned char>(gen());
        break;
    }
    // How the bytes reach the reader: plain, gzip of the mutated bytes, or a damaged gzip container
    // (the valid file gzipped, then its compressed bytes truncated, flipped or followed by junk).
    std::uniform_int_distribution<int> container_pick(0, 3);
    const int container = container_pick(gen);
    const std::string path = dir.file("fuzz_" + std::to_string(it) + (container == 0 ? ".idx" : ".idx.gz"));
    bool container_damaged = false, container_must_fail = false;
    if (container == 0) {
      scorelift::test::write_plain(path, raw);
    } else {
      scorelift::test::write_gzip(path, raw);
      if (container == 3) {
        bytes gz = scorelift::test::read_all(path);
        container_damaged = true;
        switch (gen() % 3) {
          case 0:  // an interrupted download: ends inside the member
            gz.resize(std::uniform_int_distribution<std::size_t>(0, gz.size() - 1)(gen));
            container_must_fail = true;
            break;
          case 1: gz[std::uniform_int_distribution<std::size_t>(0, gz.size() - 1)(gen)] ^= static_cast<unsigned char>(1 + gen() % 255); break;
          default:  // junk after the member that is not another gzip member (no 1f 8b)
            gz.push_back(static_cast<unsigned char>(gen() % 0x1F));
            for (std::size_t k = gen() % 8; k > 0; --k) gz.push_back(static_cast<unsigned char>(gen()));
            container_must_fail = true;
            break;
        }
        scorelift::test::write_plain(path, gz);
      }
    }
    const int actual_rank = valid[3];
    const index_t rank = gen() % 6 == 0 ? static_cast<index_t>(gen() % 7) - 1 : actual_rank;  // sometimes wrong (−1..5)
    const index_t max_items = gen() % 4 == 0 ? static_cast<index_t>(gen() % 9) - 2 : 0;         // sometimes −2..6
    const std::optional<scorelift::data::idx_array> expected =
        container_must_fail ? std::nullopt : reference_read(raw, rank, max_items);
    const bool must_refuse = container_must_fail || (!container_damaged && !expected);
    // Bad: what the reader must refuse. (A flip inside the values gives another valid file; a flip
    // inside the compressed stream may be harmless: neither is counted as bad.)
    const bool is_bad = must_refuse;

    const bytes on_disk = scorelift::test::read_all(path);
    const std::string key = std::to_string(rank) + "/" + std::to_string(max_items) + "/" +
                            std::string(on_disk.begin(), on_disk.end());
    if (!counts.distinct.insert(key).second) continue;  // the same input again: not counted twice
    ++counts.tried;
    counts.bad += is_bad ? 1 : 0;
    CAPTURE(it);
    CAPTURE(m);
    CAPTURE(container);
    CAPTURE(rank);
    CAPTURE(max_items);
    for (const bool header_only : {false, true}) {
      if (header_only && max_items != 0) continue;  // read_idx_header has no item limit
      std::optional<scorelift::data::idx_array> got;
      bool refused = false;
      try {
        if (header_only) {
          const auto h = scorelift::data::read_idx_header(path, rank);
          got = scorelift::data::idx_array{h.shape, {}};
        } else {
          got = scorelift::data::read_idx_ubyte(path, rank, max_items);
        }
      } catch (const scorelift::invalid_argument& e) {
        refused = true;
        CHECK(std::string_view(e.what()).find(header_only ? "read_idx_header" : "read_idx_ubyte") == 0);
      } catch (const std::exception& e) {
        FAIL("an exception other than scorelift::invalid_argument: ", e.what());
      }
      if (header_only) {
        // The header alone cannot see every damage (a gzip payload is not inflated to its end), so it
        // may accept a file read_idx_ubyte refuses, but never refuse a valid one.
        if (expected && !container_damaged) CHECK_FALSE(refused);
        if (got && expected) CHECK(got->shape.size() == expected->shape.size());
        continue;
      }
      if (refused) {
        if (is_bad) ++counts.refused_bad;
        if (expected && !container_damaged) FAIL("a valid file was refused");
        continue;
      }
      // Accepted: consistent, and equal to the reference where the container was intact.
      std::size_t product = 1;
      for (const index_t e : got->shape) product *= static_cast<std::size_t>(e);
      CHECK(product == got->values.size());
      if (must_refuse) FAIL("a corrupt input was accepted");
      if (container_damaged) {
        ++counts.container_either;
      } else {
        ++counts.accepted_valid;
        REQUIRE(expected.has_value());
        CHECK(got->shape == expected->shape);
        CHECK(got->values == expected->values);
      }
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("[fuzz idx] %d distinct inputs in %.2f s: %d bad (header, truncation, trailing bytes, wrong rank or "
              "item limit, truncated or junk-followed gzip), %d of them refused with scorelift::invalid_argument; %d "
              "read as valid; %d with a flipped compressed byte accepted (harmless, e.g. the gzip header's mtime)\n",
              counts.tried, seconds, counts.bad, counts.refused_bad, counts.accepted_valid, counts.container_either);
  MESSAGE("fuzz idx: ", counts.tried, " distinct inputs, ", counts.bad, " bad, ", counts.refused_bad, " refused clearly");
  CHECK(counts.tried > 1000);
  CHECK(counts.bad > 500);
  CHECK(counts.refused_bad == counts.bad);
}
