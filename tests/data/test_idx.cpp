// The IDX reader: well-formed files (gzipped and plain) read back exactly; every kind of damage
// (missing, wrong magic / type / rank, zero extents, truncated, trailing bytes, corrupt gzip)
// throws scorelift::invalid_argument naming the file.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/idx_files.hpp"
#include "scorelift/data/idx.hpp"

using scorelift::invalid_argument;
using scorelift::data::read_idx_ubyte;
using namespace scorelift::test;

namespace {

std::vector<unsigned char> ramp(std::size_t n) {
  std::vector<unsigned char> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<unsigned char>((7 * i + 3) % 256);
  return v;
}

/// Bytes from a linear congruential generator: incompressible enough that the gzip stream of a
/// 20-image file is long enough to cut or corrupt in the middle.
std::vector<unsigned char> noisy_bytes(std::size_t n, std::uint32_t state) {
  std::vector<unsigned char> v(n);
  for (auto& b : v) b = static_cast<unsigned char>((state = state * 1664525U + 1013904223U) >> 24U);
  return v;
}

/// The message of the invalid_argument `read` throws ("" when it does not throw).
template <class F>
std::string message_of(F&& read) {
  try {
    read();
  } catch (const invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("read_idx_ubyte reads gzipped and plain files back exactly") {
  temp_directory dir;
  const auto values = ramp(3 * 4 * 5);
  write_gzip(dir.file("a.gz"), idx_bytes({3, 4, 5}, values));
  write_plain(dir.file("a"), idx_bytes({3, 4, 5}, values));
  for (const std::string name : {"a.gz", "a"}) {
    const auto array = read_idx_ubyte(dir.file(name), 3);
    CHECK(array.shape == std::vector<scorelift::index_t>{3, 4, 5});
    CHECK(array.values == values);
  }
  // A rank-1 file (labels) with a multi-byte extent checks the big-endian decoding: 300 = 0x012C.
  const auto labels = ramp(300);
  write_gzip(dir.file("labels.gz"), idx_bytes({300}, labels));
  const auto read = read_idx_ubyte(dir.file("labels.gz"), 1);
  CHECK(read.shape == std::vector<scorelift::index_t>{300});
  CHECK(read.values == labels);
}

TEST_CASE("read_idx_ubyte max_items keeps a prefix and still checks the whole length") {
  temp_directory dir;
  const auto values = ramp(6 * 2 * 2);
  write_gzip(dir.file("a.gz"), idx_bytes({6, 2, 2}, values));
  const auto head = read_idx_ubyte(dir.file("a.gz"), 3, 2);
  CHECK(head.shape == std::vector<scorelift::index_t>{2, 2, 2});
  CHECK(head.values == std::vector<unsigned char>(values.begin(), values.begin() + 8));
  CHECK(read_idx_ubyte(dir.file("a.gz"), 3, 100).shape[0] == 6);  // more than there are: all of them

  // Cut the last value: a prefix read must not hide the truncation.
  auto cut = idx_bytes({6, 2, 2}, values);
  cut.pop_back();
  write_gzip(dir.file("cut.gz"), cut);
  CHECK_THROWS_AS(read_idx_ubyte(dir.file("cut.gz"), 3, 2), invalid_argument);
  CHECK_THROWS_AS(read_idx_ubyte(dir.file("a.gz"), 3, -1), invalid_argument);
}

TEST_CASE("read_idx_ubyte rejects missing and malformed files, naming the file") {
  temp_directory dir;
  const auto values = ramp(2 * 3 * 3);

  SUBCASE("missing file") {
    const auto message = message_of([&] { read_idx_ubyte(dir.file("nope.gz"), 3); });
    CHECK(message.find("read_idx_ubyte") != std::string::npos);
    CHECK(message.find("nope.gz") != std::string::npos);
    CHECK(message.find("cannot open") != std::string::npos);
  }
  SUBCASE("empty file") {
    write_plain(dir.file("empty"), {});
    CHECK(message_of([&] { read_idx_ubyte(dir.file("empty"), 3); }).find("0 bytes") != std::string::npos);
  }
  SUBCASE("wrong magic bytes") {
    auto bytes = idx_bytes({2, 3, 3}, values);
    bytes[1] = 0x42;
    write_gzip(dir.file("magic.gz"), bytes);
    const auto message = message_of([&] { read_idx_ubyte(dir.file("magic.gz"), 3); });
    CHECK(message.find("magic") != std::string::npos);
    CHECK(message.find("magic.gz") != std::string::npos);
  }
  SUBCASE("wrong element type (0x0D = float)") {
    auto bytes = idx_bytes({2, 3, 3}, values);
    bytes[2] = 0x0D;
    write_gzip(dir.file("float.gz"), bytes);
    CHECK(message_of([&] { read_idx_ubyte(dir.file("float.gz"), 3); }).find("element type 0xd") != std::string::npos);
  }
  SUBCASE("wrong rank: a label file read as images") {
    write_gzip(dir.file("labels.gz"), idx_bytes({18}, values));
    const auto message = message_of([&] { read_idx_ubyte(dir.file("labels.gz"), 3); });
    CHECK(message.find("has 1 dimensions but 3 were expected") != std::string::npos);
  }
  SUBCASE("zero extent") {
    write_gzip(dir.file("zero.gz"), idx_bytes({0, 3, 3}, {}));
    CHECK(message_of([&] { read_idx_ubyte(dir.file("zero.gz"), 3); }).find("extent 0") != std::string::npos);
  }
  SUBCASE("header cut inside the extents") {
    auto bytes = idx_bytes({2, 3, 3}, {});
    bytes.resize(9);
    write_gzip(dir.file("header.gz"), bytes);
    CHECK(message_of([&] { read_idx_ubyte(dir.file("header.gz"), 3); }).find("ends inside its header") !=
          std::string::npos);
  }
  SUBCASE("payload truncated") {
    auto bytes = idx_bytes({2, 3, 3}, values);
    bytes.resize(bytes.size() - 5);
    write_gzip(dir.file("short.gz"), bytes);
    const auto message = message_of([&] { read_idx_ubyte(dir.file("short.gz"), 3); });
    CHECK(message.find("truncated") != std::string::npos);
    CHECK(message.find("[2, 3, 3] (18 values) but only 13 follow") != std::string::npos);
  }
  SUBCASE("trailing bytes") {
    auto bytes = idx_bytes({2, 3, 3}, values);
    bytes.push_back(1);
    write_plain(dir.file("long"), bytes);
    CHECK(message_of([&] { read_idx_ubyte(dir.file("long"), 3); }).find("trailing bytes") != std::string::npos);
  }
  SUBCASE("gzip stream cut in the middle (interrupted download)") {
    write_gzip(dir.file("full.gz"), idx_bytes({20, 28, 28}, noisy_bytes(20 * 28 * 28, 12345)));
    auto compressed = read_all(dir.file("full.gz"));
    compressed.resize(compressed.size() / 2);
    write_plain(dir.file("half.gz"), compressed);
    const auto message = message_of([&] { read_idx_ubyte(dir.file("half.gz"), 3); });
    CHECK(message.find("half.gz") != std::string::npos);
    CHECK((message.find("truncated") != std::string::npos || message.find("gzip") != std::string::npos));
  }
  SUBCASE("gzip stream with corrupted deflate data") {
    write_gzip(dir.file("ok.gz"), idx_bytes({20, 28, 28}, noisy_bytes(20 * 28 * 28, 777)));
    auto compressed = read_all(dir.file("ok.gz"));
    for (std::size_t i = compressed.size() / 3; i < compressed.size() / 3 + 64; ++i) compressed[i] ^= 0xA5U;
    write_plain(dir.file("bad.gz"), compressed);
    const auto message = message_of([&] { read_idx_ubyte(dir.file("bad.gz"), 3); });
    CHECK(message.find("bad.gz") != std::string::npos);
    CHECK(message.find("not a valid gzip stream") != std::string::npos);
  }
  SUBCASE("bad expected rank") { CHECK_THROWS_AS(read_idx_ubyte(dir.file("x"), 0), invalid_argument); }
}
