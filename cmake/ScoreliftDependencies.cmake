# Finds the optional backends and turns each SCORELIFT_WITH_* option off, with a message, when
# its dependency is missing. Eigen is needed by the tests, examples and nonparametric estimators,
# not by the core headers.
include(ScoreliftComponents)

find_package(Eigen3 3.3 NO_MODULE)
# zlib reads the gzipped IDX files of the data loaders (scorelift::data).
find_package(ZLIB QUIET)

# The system BLAS with its C interface (Debian: libblas-dev; at run time libblas.so.3 is whichever BLAS
# the alternatives system selects, OpenBLAS after scripts/install-deps.sh).
if(SCORELIFT_WITH_BLAS)
  find_package(BLAS QUIET)
  include(CheckIncludeFileCXX)
  check_include_file_cxx(cblas.h SCORELIFT_HAVE_CBLAS_H)
  if(NOT BLAS_FOUND OR NOT SCORELIFT_HAVE_CBLAS_H)
    message(STATUS "scorelift: BLAS or cblas.h not found -> scorelift::blas OFF (apt install libblas-dev)")
    set(SCORELIFT_WITH_BLAS OFF CACHE BOOL "" FORCE)
  endif()
endif()

if(SCORELIFT_WITH_XTENSOR)
  find_package(xtensor QUIET)
  if(NOT xtensor_FOUND)
    message(STATUS "scorelift: xtensor not found -> xtensor backend OFF (apt install xtensor-dev)")
    set(SCORELIFT_WITH_XTENSOR OFF CACHE BOOL "" FORCE)
  endif()
endif()

if(SCORELIFT_WITH_TORCH)
  find_package(Torch QUIET)
  if(NOT Torch_FOUND)
    message(STATUS "scorelift: LibTorch not found -> torch backend OFF (apt install libtorch-dev, or set Torch_DIR)")
    set(SCORELIFT_WITH_TORCH OFF CACHE BOOL "" FORCE)
  else()
    message(STATUS "scorelift: LibTorch ${Torch_VERSION} found at ${Torch_DIR}")
    # Does this LibTorch carry CUDA? (Debian's does not; the PyTorch wheel's does.)
    set(SCORELIFT_TORCH_HAS_CUDA OFF)
    if(TARGET torch_cuda OR CUDA_FOUND OR CAFFE2_USE_CUDA)
      set(SCORELIFT_TORCH_HAS_CUDA ON)
    endif()
  endif()
endif()

if(SCORELIFT_WITH_THRUST)
  find_package(Thrust QUIET CONFIG HINTS /usr/share/cmake/thrust /usr/lib/cmake/thrust)
  if(NOT Thrust_FOUND)
    message(STATUS "scorelift: Thrust not found -> thrust backend OFF (apt install libthrust-dev)")
    set(SCORELIFT_WITH_THRUST OFF CACHE BOOL "" FORCE)
  endif()
endif()

# GPU code for the GPU this machine has ("native", CMake >= 3.24). Without one, the CUDA units are only
# compile-checked: PTX for compute_80 (nvcc's front end and optimiser, no ptxas pass), which the driver
# JIT-compiles for any GPU from the A100 on. Two SASS targets (80;90) had cost 186 s for one file.
set(scorelift_default_cuda_architectures "80-virtual")
find_program(SCORELIFT_NVIDIA_SMI nvidia-smi)
if(SCORELIFT_NVIDIA_SMI AND CMAKE_VERSION VERSION_GREATER_EQUAL 3.24)
  execute_process(COMMAND "${SCORELIFT_NVIDIA_SMI}" -L OUTPUT_VARIABLE scorelift_gpus RESULT_VARIABLE scorelift_smi_status
                  ERROR_QUIET)
  if(scorelift_smi_status EQUAL 0 AND scorelift_gpus MATCHES "GPU 0")
    set(scorelift_default_cuda_architectures "native")
  endif()
endif()
set(SCORELIFT_CUDA_ARCHITECTURES "${scorelift_default_cuda_architectures}" CACHE STRING
    "GPU architectures of the CUDA translation units (default: this machine's GPU, else PTX for compute_80)")
if(SCORELIFT_WITH_CUDA)
  include(CheckLanguage)
  check_language(CUDA)
  if(CMAKE_CUDA_COMPILER)
    enable_language(CUDA)
    find_package(CUDAToolkit REQUIRED)
    message(STATUS "scorelift: nvcc found (${CMAKE_CUDA_COMPILER}) -> CUDA translation units ON")
  else()
    message(STATUS "scorelift: no CUDA compiler -> CUDA translation units OFF")
    set(SCORELIFT_WITH_CUDA OFF CACHE BOOL "" FORCE)
  endif()
endif()

macro(scorelift_define_backend_targets)
  if(TARGET Eigen3::Eigen)
    scorelift_add_component_target(eigen scorelift Eigen3::Eigen)
  endif()
  if(SCORELIFT_WITH_BLAS AND TARGET Eigen3::Eigen)
    # Eigen plus SCORELIFT_USE_BLAS: the dense factorisations of the nonparametric estimators on the BLAS.
    scorelift_add_component_target(blas scorelift Eigen3::Eigen BLAS::BLAS)
    set_property(TARGET scorelift_blas APPEND PROPERTY INTERFACE_COMPILE_DEFINITIONS SCORELIFT_USE_BLAS=1)
  endif()
  if(TARGET ZLIB::ZLIB)
    scorelift_add_component_target(data scorelift ZLIB::ZLIB)
  endif()
  if(SCORELIFT_WITH_XTENSOR)
    scorelift_add_component_target(xtensor scorelift xtensor)
  endif()
  if(SCORELIFT_WITH_TORCH)
    scorelift_add_component_target(torch scorelift ${TORCH_LIBRARIES})
  endif()
  if(SCORELIFT_WITH_THRUST)
    # Thrust's CPP device system: the fused kernels run as plain C++ loops, which the tests use.
    thrust_create_target(scorelift_thrust_cpp HOST CPP DEVICE CPP)
    scorelift_add_component_target(thrust scorelift scorelift_thrust_cpp)
  endif()
  if(SCORELIFT_WITH_CUDA)
    # The fused lifted-loss kernels compiled once by nvcc (the toolkit's own Thrust/CUB), callable
    # from g++-compiled code through scorelift/cuda/lifted_on_stream.cuh. Build tree only.
    add_library(scorelift_fused_cuda STATIC "${PROJECT_SOURCE_DIR}/include/scorelift/cuda/lifted_on_stream.cu")
    target_link_libraries(scorelift_fused_cuda PUBLIC scorelift CUDA::cudart)
    set_target_properties(scorelift_fused_cuda PROPERTIES POSITION_INDEPENDENT_CODE ON
                          CUDA_ARCHITECTURES "${SCORELIFT_CUDA_ARCHITECTURES}")
    # -std=c++20 by hand: CMake 3.25 does not know nvcc 13's C++20 flag (CUDA_STANDARD 20 fails).
    target_compile_options(scorelift_fused_cuda PUBLIC $<$<COMPILE_LANGUAGE:CUDA>:-std=c++20>
      PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra $<$<BOOL:${SCORELIFT_WERROR}>:-Werror=all-warnings>>)
    if(SCORELIFT_WITH_TORCH AND SCORELIFT_TORCH_HAS_CUDA)
      # torch/fused_dispatch.hpp hands CUDA tensors to the fused kernels.
      target_link_libraries(scorelift_torch INTERFACE scorelift_fused_cuda)
      target_compile_definitions(scorelift_torch INTERFACE SCORELIFT_WITH_FUSED_CUDA=1)
    endif()
  endif()
endmacro()
