// examples/common/data_parallel_run.hpp — what every example does once it has its process group: the
// ranks other than 0 print nothing (rank 0 reports for the job), and every rank checks at once that
// all were started with the same command line (a rank with other flags would train another model).
#pragma once

#include <iostream>
#include <sstream>

#include "scorelift/distributed/process_group.hpp"

namespace scorelift::examples {

inline void join_data_parallel_run(const distributed::process_group& group, int argc, char** argv) {
  if (!group.is_main()) std::cout.setstate(std::ios::failbit);
  std::ostringstream arguments;
  for (int i = 1; i < argc; ++i) arguments << argv[i] << ' ';
  group.require_same_configuration(arguments.str());
}

}  // namespace scorelift::examples
