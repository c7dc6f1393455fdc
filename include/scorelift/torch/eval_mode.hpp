// scorelift/torch/eval_mode.hpp — evaluation mode for a scope. A measurement of a model (test-set
// metrics, sampling) wants eval() — dropout off, batch-norm on its running statistics — and must hand
// the model back in the mode it was given, also when the measurement throws: calling train() at the
// end would both skip that on an exception and switch on a model the caller had put in eval mode.
#pragma once

#include <torch/torch.h>

namespace scorelift::torch_ext {

class eval_mode_guard {
 public:
  explicit eval_mode_guard(torch::nn::Module& module) : module_(module), was_training_(module.is_training()) {
    module_.eval();
  }
  ~eval_mode_guard() { module_.train(was_training_); }
  eval_mode_guard(const eval_mode_guard&) = delete;
  eval_mode_guard& operator=(const eval_mode_guard&) = delete;

 private:
  torch::nn::Module& module_;
  bool was_training_;
};

}  // namespace scorelift::torch_ext
