// scorelift/data/torch/images.hpp — an image_dataset as LibTorch tensors: pixels [N, H·W] float32
// in [0, 1] and labels [N] int64. One copy (the tensors own their memory, the dataset may go).
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "scorelift/data/fashion_mnist.hpp"

namespace scorelift::data {

struct image_tensors {
  torch::Tensor pixels;  // [N, H·W] float32
  torch::Tensor labels;  // [N] int64
};

inline image_tensors to_tensors(const image_dataset& data) {
  data.require_consistent("to_tensors");
  image_tensors out;
  // from_blob does not take ownership; clone() copies into tensor-owned memory.
  out.pixels = torch::from_blob(const_cast<float*>(data.pixels.data()), {data.count, data.dimension()},
                                torch::kFloat32)
                   .clone();
  out.labels = torch::from_blob(const_cast<std::uint8_t*>(data.labels.data()), {data.count}, torch::kUInt8)
                   .to(torch::kInt64);
  return out;
}

}  // namespace scorelift::data
