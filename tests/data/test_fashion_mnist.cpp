// The Fashion-MNIST loader: directory resolution (argument > environment > Debian default),
// conversion to [0, 1], consistency checks between the image and label files, and the real
// Debian files checked against the dataset's published statistics.
#include <doctest/doctest.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <filesystem>
#include <numeric>
#include <string>

#include "data/idx_files.hpp"
#include "scorelift/data/fashion_mnist.hpp"

using scorelift::invalid_argument;
using scorelift::data::fashion_mnist_split;
using scorelift::data::load_fashion_mnist;
using namespace scorelift::test;

namespace {

/// Sets an environment variable for the scope of one test, restoring the previous value.
class scoped_env {
 public:
  scoped_env(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  scoped_env(const scoped_env&) = delete;
  scoped_env& operator=(const scoped_env&) = delete;
  ~scoped_env() {
    if (old_.empty()) ::unsetenv(name_);
    else ::setenv(name_, old_.c_str(), 1);
  }

 private:
  const char* name_;
  std::string old_;
};

std::string message_of_load(const std::string& directory) {
  try {
    load_fashion_mnist(fashion_mnist_split::train, directory);
  } catch (const invalid_argument& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("load_fashion_mnist reads a synthetic split and scales bytes to [0, 1]") {
  temp_directory dir;
  write_fashion_like(dir.str(), "train", 5);
  write_fashion_like(dir.str(), "t10k", 3);
  const auto train = load_fashion_mnist(fashion_mnist_split::train, dir.str());
  const auto test = load_fashion_mnist(fashion_mnist_split::test, dir.str());
  CHECK(train.count == 5);
  CHECK(test.count == 3);
  CHECK(train.dimension() == 784);
  REQUIRE(train.pixels.size() == 5 * 784);
  // Pixel j of image i was written as (i + j) mod 256.
  CHECK(train.image(2)[10] == doctest::Approx(12.0 / 255.0));
  CHECK(train.image(4)[300] == doctest::Approx(((4 + 300) % 256) / 255.0));
  CHECK(train.image(1)[254] == doctest::Approx(1.0));
  CHECK(train.labels[3] == 3);
  // max_items keeps the first images and labels.
  const auto head = load_fashion_mnist(fashion_mnist_split::train, dir.str(), 2);
  CHECK(head.count == 2);
  CHECK(head.labels.size() == 2);
  CHECK(head.pixels.size() == 2 * 784);
}

TEST_CASE("load_fashion_mnist finds the directory: argument, then SCORELIFT_FASHION_MNIST_DIR") {
  temp_directory from_env;
  temp_directory from_argument;
  write_fashion_like(from_env.str(), "train", 4);
  write_fashion_like(from_argument.str(), "train", 7);
  scoped_env env("SCORELIFT_FASHION_MNIST_DIR", from_env.str());
  CHECK(scorelift::data::fashion_mnist_directory() == from_env.str());
  CHECK(load_fashion_mnist(fashion_mnist_split::train).count == 4);
  CHECK(load_fashion_mnist(fashion_mnist_split::train, from_argument.str()).count == 7);
}

TEST_CASE("load_fashion_mnist falls back to unpacked files") {
  temp_directory dir;
  write_fashion_like(dir.str(), "train", 3);
  for (const std::string stem : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte"}) {
    gzFile f = gzopen(dir.file(stem + ".gz").c_str(), "rb");
    std::vector<unsigned char> bytes(1 << 20);
    const int n = gzread(f, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(f);
    bytes.resize(static_cast<std::size_t>(n));
    std::filesystem::remove(dir.file(stem + ".gz"));
    write_plain(dir.file(stem), bytes);
  }
  CHECK(load_fashion_mnist(fashion_mnist_split::train, dir.str()).count == 3);
}

TEST_CASE("load_fashion_mnist rejects inconsistent or missing files, naming them") {
  temp_directory dir;
  SUBCASE("missing directory") {
    const auto message = message_of_load(dir.file("does-not-exist"));
    CHECK(message.find("train-images-idx3-ubyte.gz") != std::string::npos);
    CHECK(message.find("SCORELIFT_FASHION_MNIST_DIR") != std::string::npos);
  }
  SUBCASE("labels missing") {
    write_fashion_like(dir.str(), "train", 3);
    std::filesystem::remove(dir.file("train-labels-idx1-ubyte.gz"));
    CHECK(message_of_load(dir.str()).find("train-labels-idx1-ubyte.gz") != std::string::npos);
  }
  SUBCASE("image and label counts differ") {
    write_fashion_like(dir.str(), "train", 3);
    write_gzip(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes({2}, {1, 2}));
    const auto message = message_of_load(dir.str());
    CHECK(message.find("holds 3 images") != std::string::npos);
    CHECK(message.find("holds 2 labels") != std::string::npos);
  }
  SUBCASE("images that are not 28 x 28") {
    write_fashion_like(dir.str(), "train", 2);
    write_gzip(dir.file("train-images-idx3-ubyte.gz"), idx_bytes({2, 4, 4}, std::vector<unsigned char>(32, 9)));
    CHECK(message_of_load(dir.str()).find("shape [2, 4, 4]") != std::string::npos);
  }
  SUBCASE("label out of range") {
    write_fashion_like(dir.str(), "train", 2);
    write_gzip(dir.file("train-labels-idx1-ubyte.gz"), idx_bytes({2}, {3, 10}));
    CHECK(message_of_load(dir.str()).find("label 10 at index 1") != std::string::npos);
  }
  SUBCASE("an images file that claims 2^28 images is refused from its header") {
    write_fashion_like(dir.str(), "train", 2);
    write_gzip(dir.file("train-images-idx3-ubyte.gz"), idx_bytes({1U << 28U, 28, 28}, {}));
    const auto message = message_of_load(dir.str());
    CHECK(message.find("train-images-idx3-ubyte.gz' declares shape [268435456, 28, 28]") != std::string::npos);
  }
  SUBCASE("image index out of range") {
    write_fashion_like(dir.str(), "train", 2);
    const auto data = load_fashion_mnist(fashion_mnist_split::train, dir.str());
    CHECK_THROWS_WITH_AS((void)data.image(2), doctest::Contains("image_dataset::image: argument 'i' is 2"),
                         invalid_argument);
    CHECK_THROWS_WITH_AS((void)data.image(-1), doctest::Contains("image_dataset::image: argument 'i' is -1"),
                         invalid_argument);
  }
  SUBCASE("negative max_items") {
    CHECK_THROWS_WITH_AS(load_fashion_mnist(fashion_mnist_split::test, dir.str(), -3),
                         doctest::Contains("load_fashion_mnist: argument 'max_items' is -3"), invalid_argument);
  }
}

TEST_CASE("the installed Fashion-MNIST matches the dataset's published statistics") {
  const std::string debian = "/usr/share/datasets/fashion-mnist";
  if (!std::filesystem::exists(debian + "/train-images-idx3-ubyte.gz")) {
    MESSAGE("SCORELIFT_TEST_SKIPPED: dataset-fashion-mnist is not installed, so the real files cannot be checked");
    return;
  }
  const auto train = load_fashion_mnist(fashion_mnist_split::train, debian);
  const auto test = load_fashion_mnist(fashion_mnist_split::test, debian);
  CHECK(train.count == 60000);
  CHECK(test.count == 10000);
  // Balanced classes: 6000 per class in train, 1000 in test.
  std::array<int, 10> train_counts{};
  std::array<int, 10> test_counts{};
  for (auto l : train.labels) ++train_counts[l];
  for (auto l : test.labels) ++test_counts[l];
  CHECK(std::all_of(train_counts.begin(), train_counts.end(), [](int c) { return c == 6000; }));
  CHECK(std::all_of(test_counts.begin(), test_counts.end(), [](int c) { return c == 1000; }));
  // The first training image is an ankle boot (label 9), as in the dataset's README figure.
  CHECK(train.labels[0] == 9);
  // The commonly quoted normalisation constant: mean pixel 0.2860 over the training set.
  const double mean = std::accumulate(train.pixels.begin(), train.pixels.end(), 0.0) /
                      static_cast<double>(train.pixels.size());
  CHECK(mean == doctest::Approx(0.2860).epsilon(5e-4));
  const auto [lo, hi] = std::minmax_element(train.pixels.begin(), train.pixels.end());
  CHECK(*lo == 0.0F);
  CHECK(*hi == 1.0F);
}
