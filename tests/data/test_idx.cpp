// The IDX reader: well-formed files (gzipped and plain, also multi-member gzip) read back exactly;
// every kind of damage (missing, wrong magic / type / rank, zero extents, truncated, trailing bytes,
// trailing data after the gzip stream, corrupt gzip) throws scorelift::invalid_argument naming the
// file; a header that claims more than the file can hold is refused before anything is allocated.
#include <doctest/doctest.h>

#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <vector>

#include "data/idx_files.hpp"
#include "scorelift/data/idx.hpp"

using scorelift::invalid_argument;
using scorelift::data::read_idx_header;
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

/// The process's peak resident memory so far, in MiB (Linux reports ru_maxrss in KiB).
double peak_memory_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
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
  CHECK_THROWS_WITH_AS(read_idx_ubyte(dir.file("cut.gz"), 3, 2),
                       doctest::Contains("cut.gz' is truncated: its header declares shape [6, 2, 2] (24 values) but only 23 follow"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(read_idx_ubyte(dir.file("a.gz"), 3, -1), doctest::Contains("argument 'max_items' is -1"),
                       invalid_argument);
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
  SUBCASE("bad expected rank") {
    CHECK_THROWS_WITH_AS(read_idx_ubyte(dir.file("x"), 0), doctest::Contains("argument 'expected_rank' is 0"),
                         invalid_argument);
  }
}

TEST_CASE("read_idx_ubyte refuses a header that claims more than the file holds, before allocating it") {
  temp_directory dir;
  const double peak_before = peak_memory_mib();
  // 16 bytes that claim [2^28, 4, 1] = 1 GiB of values: the old reader zero-filled 1 GiB first.
  const auto claim = idx_bytes({1U << 28U, 4, 1}, {});
  REQUIRE(claim.size() == 16);
  write_plain(dir.file("claim"), claim);
  write_gzip(dir.file("claim.gz"), claim);
  const auto plain = message_of([&] { read_idx_ubyte(dir.file("claim"), 3); });
  CHECK(plain.find(std::string("'") + dir.file("claim") + "' is truncated: its header declares shape [268435456, 4, 1] "
                   "(1073741824 values) but only 0 follow") != std::string::npos);
  const auto gzip = message_of([&] { read_idx_ubyte(dir.file("claim.gz"), 3); });
  const auto compressed = read_all(dir.file("claim.gz")).size();
  CAPTURE(gzip);
  CHECK(gzip.find(std::string("declares shape [268435456, 4, 1] (1073741824 values) but its ") + std::to_string(compressed) +
                  " compressed bytes decode to at most " + std::to_string(1032 * compressed)) != std::string::npos);
  CHECK(gzip.find("1032:1") != std::string::npos);
  // The header alone is refused the same way (it is what load_fashion_mnist checks first).
  CHECK_THROWS_WITH_AS(read_idx_header(dir.file("claim.gz"), 3), doctest::Contains("read_idx_header: file '"),
                       invalid_argument);

  // Within deflate's bound a gzip file can still claim far more than it holds: 4 MiB of
  // incompressible values under a header that claims 1 GiB. The buffer grows only as bytes arrive.
  const auto values = noisy_bytes(std::size_t{4} << 20U, 99);
  auto bytes = idx_bytes({1U << 28U, 4, 1}, values);
  write_gzip(dir.file("liar.gz"), bytes);
  const auto liar = message_of([&] { read_idx_ubyte(dir.file("liar.gz"), 3); });
  CHECK(liar.find("is truncated: its header declares shape [268435456, 4, 1] (1073741824 values) but only 4194304 "
                  "follow") != std::string::npos);
  // Peak memory: 2 × 4 MiB of buffer at most, nowhere near the 1 GiB claimed.
  CHECK(peak_memory_mib() - peak_before < 64.0);

  // Three extents of 2^28 (2^84 values) overflow index_t: an error, not a wrapped size.
  write_plain(dir.file("wrap"), idx_bytes({1U << 28U, 1U << 28U, 1U << 28U}, {}));
  CHECK(message_of([&] { read_idx_ubyte(dir.file("wrap"), 3); }).find("overflows index_t") != std::string::npos);
  // A plain file with the right length is accepted; one byte more is named with the excess.
  write_plain(dir.file("long"), idx_bytes({2, 2}, {1, 2, 3, 4, 5, 6}));
  CHECK(message_of([&] { read_idx_ubyte(dir.file("long"), 2); }).find("trailing bytes after the 4 values its header "
                                                                      "declares (2 more)") != std::string::npos);
}

TEST_CASE("read_idx_ubyte: concatenated gzip members are one stream, other data after the stream is refused") {
  temp_directory dir;
  const auto values = ramp(5 * 6);
  const auto bytes = idx_bytes({5, 6}, values);
  // Members split inside the header and inside the values (`cat a.gz b.gz`, pigz): read as one file.
  write_gzip(dir.file("a.gz"), std::vector<unsigned char>(bytes.begin(), bytes.begin() + 6));
  write_gzip(dir.file("b.gz"), std::vector<unsigned char>(bytes.begin() + 6, bytes.begin() + 20));
  write_gzip(dir.file("c.gz"), std::vector<unsigned char>(bytes.begin() + 20, bytes.end()));
  auto joined = read_all(dir.file("a.gz"));
  for (const char* part : {"b.gz", "c.gz"}) {
    const auto more = read_all(dir.file(part));
    joined.insert(joined.end(), more.begin(), more.end());
  }
  write_plain(dir.file("joined.gz"), joined);
  const auto array = read_idx_ubyte(dir.file("joined.gz"), 2);
  CHECK(array.shape == std::vector<scorelift::index_t>{5, 6});
  CHECK(array.values == values);

  // Trailing garbage after a complete gzip stream (gzread ignored it): refused, with its offset.
  write_gzip(dir.file("whole.gz"), bytes);
  auto junk = read_all(dir.file("whole.gz"));
  const std::size_t stream_end = junk.size();
  junk.insert(junk.end(), {'j', 'u', 'n', 'k'});
  write_plain(dir.file("junk.gz"), junk);
  const auto message = message_of([&] { read_idx_ubyte(dir.file("junk.gz"), 2); });
  CAPTURE(message);
  CHECK(message.find(std::string("junk.gz' has trailing data after its gzip stream (at byte ") + std::to_string(stream_end) + " of " +
                     std::to_string(junk.size())) != std::string::npos);
  // Zero padding and a single stray byte are trailing data too.
  auto padded = read_all(dir.file("whole.gz"));
  padded.push_back(0);
  write_plain(dir.file("padded.gz"), padded);
  CHECK(message_of([&] { read_idx_ubyte(dir.file("padded.gz"), 2); }).find("trailing data after its gzip stream") !=
        std::string::npos);
  // And when only a prefix is kept, the rest of the stream is still checked to the end.
  CHECK(message_of([&] { read_idx_ubyte(dir.file("junk.gz"), 2, 1); }).find("trailing data") != std::string::npos);
}

TEST_CASE("read_idx_header reads the extents without the values") {
  temp_directory dir;
  write_gzip(dir.file("a.gz"), idx_bytes({3, 4, 5}, ramp(60)));
  const auto header = read_idx_header(dir.file("a.gz"), 3);
  CHECK(header.shape == std::vector<scorelift::index_t>{3, 4, 5});
  CHECK(header.value_count == 60);
  CHECK(header.header_bytes == 16);
  CHECK(message_of([&] { read_idx_header(dir.str(), 3); }).find("is not a regular file") != std::string::npos);
}
