// Writes small IDX files (gzipped or plain, well-formed or damaged on purpose) into a fresh
// temporary directory that is removed at the end of the test.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <unistd.h>
#include <vector>

namespace scorelift::test {

/// A directory under the system temp dir, unique per process and instance, removed on destruction.
class temp_directory {
 public:
  temp_directory() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("scorelift_data_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  temp_directory(const temp_directory&) = delete;
  temp_directory& operator=(const temp_directory&) = delete;
  ~temp_directory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (path_ / name).string(); }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

/// The bytes of an IDX file of unsigned bytes: magic 00 00 08 rank, big-endian extents, values.
inline std::vector<unsigned char> idx_bytes(const std::vector<std::uint32_t>& shape,
                                            const std::vector<unsigned char>& values) {
  std::vector<unsigned char> out{0, 0, 0x08, static_cast<unsigned char>(shape.size())};
  for (std::uint32_t e : shape)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>((e >> shift) & 0xFFU));
  out.insert(out.end(), values.begin(), values.end());
  return out;
}

inline void write_plain(const std::string& path, const std::vector<unsigned char>& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

inline void write_gzip(const std::string& path, const std::vector<unsigned char>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!bytes.empty()) gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

inline std::vector<unsigned char> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
}

/// count images of 28 × 28 whose pixel j of image i is (i + j) mod 256, and labels i mod 10.
inline void write_fashion_like(const std::string& directory, const std::string& prefix, std::uint32_t count) {
  std::vector<unsigned char> pixels(static_cast<std::size_t>(count) * 784);
  for (std::size_t i = 0; i < count; ++i)
    for (std::size_t j = 0; j < 784; ++j) pixels[i * 784 + j] = static_cast<unsigned char>((i + j) % 256);
  std::vector<unsigned char> labels(count);
  for (std::size_t i = 0; i < count; ++i) labels[i] = static_cast<unsigned char>(i % 10);
  write_gzip(directory + "/" + prefix + "-images-idx3-ubyte.gz", idx_bytes({count, 28, 28}, pixels));
  write_gzip(directory + "/" + prefix + "-labels-idx1-ubyte.gz", idx_bytes({count}, labels));
}

}  // namespace scorelift::test
