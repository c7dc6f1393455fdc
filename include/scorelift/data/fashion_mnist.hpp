// scorelift/data/fashion_mnist.hpp — the Fashion-MNIST images and labels, as float pixels in [0, 1]
// (row-major N × 784, one image per row) and class labels 0..9. No tensor library involved: the
// torch example wraps the buffer with `torch::from_blob`, Eigen users with `Eigen::Map`.
//
// Where the files are looked for, first match wins:
//   1. the `directory` argument, when not empty;
//   2. the environment variable SCORELIFT_FASHION_MNIST_DIR;
//   3. /usr/share/datasets/fashion-mnist (Debian's `dataset-fashion-mnist`).
// In that directory: `{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz`, or the same names unpacked.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "scorelift/data/idx.hpp"
#include "scorelift/detail/checked_arithmetic.hpp"
#include "scorelift/errors.hpp"

namespace scorelift::data {

enum class fashion_mnist_split { train, test };

/// The ten classes, in label order.
inline constexpr std::array<const char*, 10> fashion_mnist_class_names = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

/// A set of grey-scale images with labels: `pixels` holds count × (height·width) floats in [0, 1].
struct image_dataset {
  index_t count = 0;
  index_t height = 0;
  index_t width = 0;
  std::vector<float> pixels;
  std::vector<std::uint8_t> labels;

  index_t dimension() const { return height * width; }
  /// The first pixel of image i (its row of the N × D matrix), 0 <= i < count.
  const float* image(index_t i) const {
    require_consistent("image_dataset::image");
    scorelift::detail::require(i >= 0 && i < count, "image_dataset::image", "argument 'i' is ", i,
                               " but the dataset holds images [0, ", count, ")");
    return pixels.data() + i * dimension();
  }
  /// The sizes agree with the vectors (a dataset edited by hand may not): what is read through
  /// raw pointers (image(), to_tensors) is then inside them.
  void require_consistent(std::string_view where) const {
    const bool extents = count >= 0 && height >= 0 && width >= 0;
    const index_t expected = extents ? scorelift::detail::checked_multiply(
                                           count, scorelift::detail::checked_multiply(height, width, where, "height × width"),
                                           where, "count × height × width")
                                     : -1;
    scorelift::detail::require(extents && static_cast<index_t>(pixels.size()) == expected &&
                                   static_cast<index_t>(labels.size()) == count,
                               where, "the dataset says count = ", count, ", height = ", height, ", width = ", width,
                               " but holds ", pixels.size(), " pixels and ", labels.size(), " labels");
  }
};

/// The directory the loader reads: `directory` if given, else $SCORELIFT_FASHION_MNIST_DIR, else
/// Debian's install location. Not checked here; the loader names the missing file.
inline std::string fashion_mnist_directory(const std::string& directory = "") {
  if (!directory.empty()) return directory;
  if (const char* from_env = std::getenv("SCORELIFT_FASHION_MNIST_DIR"); from_env != nullptr && *from_env != '\0')
    return from_env;
  return "/usr/share/datasets/fashion-mnist";
}

namespace detail {

/// `<dir>/<stem>.gz` when it exists, else `<dir>/<stem>` (unpacked); the .gz name when neither
/// exists, so that the "cannot open" message names the file a Debian install would have.
inline std::string locate_idx_file(const std::string& directory, const std::string& stem) {
  const std::filesystem::path gz = std::filesystem::path(directory) / (stem + ".gz");
  const std::filesystem::path plain = std::filesystem::path(directory) / stem;
  std::error_code ignored;
  if (!std::filesystem::exists(gz, ignored) && std::filesystem::exists(plain, ignored)) return plain.string();
  return gz.string();
}

}  // namespace detail

/// Loads one split. `max_items` > 0 keeps only the first `max_items` images (quick runs, tests).
inline image_dataset load_fashion_mnist(fashion_mnist_split split, const std::string& directory = "",
                                        index_t max_items = 0) {
  constexpr const char* where = "load_fashion_mnist";
  scorelift::detail::require(max_items >= 0, where, "argument 'max_items' is ", max_items, " but must be >= 0");
  const std::string dir = fashion_mnist_directory(directory);
  const std::string prefix = split == fashion_mnist_split::train ? "train" : "t10k";
  const std::string images_path = detail::locate_idx_file(dir, prefix + "-images-idx3-ubyte");
  const std::string labels_path = detail::locate_idx_file(dir, prefix + "-labels-idx1-ubyte");

  // Both headers first (each checked against its file's size): a wrong image shape or a count
  // mismatch is refused before either payload is read or allocated.
  const idx_header images_header = read_idx_header(images_path, 3);
  const idx_header labels_header = read_idx_header(labels_path, 1);
  scorelift::detail::require(images_header.shape[1] == 28 && images_header.shape[2] == 28, where, "file '",
                             images_path, "' holds images of shape ", detail::shape_string(images_header.shape),
                             " but Fashion-MNIST images are 28 × 28");
  scorelift::detail::require(images_header.shape[0] == labels_header.shape[0], where, "file '", images_path,
                             "' holds ", images_header.shape[0], " images but '", labels_path, "' holds ",
                             labels_header.shape[0], " labels");
  const idx_array images = read_idx_ubyte(images_path, 3, max_items);
  const idx_array labels = read_idx_ubyte(labels_path, 1, max_items);

  image_dataset out;
  out.count = images.shape[0];
  out.height = images.shape[1];
  out.width = images.shape[2];
  out.pixels.resize(images.values.size());
  // Bytes 0..255 to [0, 1]: the convention of torchvision's ToTensor.
  for (std::size_t i = 0; i < images.values.size(); ++i) out.pixels[i] = static_cast<float>(images.values[i]) / 255.0F;
  out.labels = labels.values;
  for (std::size_t i = 0; i < out.labels.size(); ++i)
    scorelift::detail::require(out.labels[i] < fashion_mnist_class_names.size(), where, "file '", labels_path,
                               "' has label ", int{out.labels[i]}, " at index ", i, " but classes are 0..9");
  return out;
}

}  // namespace scorelift::data
