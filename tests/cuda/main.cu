// doctest main for the CUDA tests: exits with 77 (CTest's "skipped") when no GPU is visible.
#define DOCTEST_CONFIG_IMPLEMENT
#include <cuda_runtime.h>
#include <doctest/doctest.h>

#include <cstdio>

int main(int argc, char** argv) {
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess || devices == 0) {
    std::puts("test_cuda: no CUDA device visible -> skipped");
    return 77;
  }
  return doctest::Context(argc, argv).run();
}
