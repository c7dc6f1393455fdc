// scorelift/distributed/launch_environment.hpp — where a process stands in a data-parallel job, read
// from the variables torchrun, Slurm wrappers and scripts/launch.sh set:
//     MASTER_ADDR, MASTER_PORT   the rendezvous (rank 0 serves a c10d TCPStore there)
//     RANK, WORLD_SIZE           this process's rank in [0, WORLD_SIZE)
//     LOCAL_RANK                 its rank on this machine (the CUDA device it uses); default RANK
// Without WORLD_SIZE the process runs alone, exactly as a program that knows nothing of distribution.
// Malformed values are refused with the variable named (a typo must not start a one-process job that
// silently trains on a fraction of the data). No LibTorch here: the parsing is tested on its own.
#pragma once

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

#include "scorelift/errors.hpp"

namespace scorelift::distributed {

struct launch_environment {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_address = "127.0.0.1";
  std::uint16_t master_port = 0;
};

namespace detail {

/// A whole decimal number in [low, high], or an error naming the variable and what it holds.
inline long long parse_integer(std::string_view name, std::string_view text, long long low, long long high) {
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  scorelift::detail::require(error == std::errc() && end == text.data() + text.size() && !text.empty(),
                             "launch_environment", "variable ", name, "='", text, "' is not a whole number");
  scorelift::detail::require(low <= value && value <= high, "launch_environment", "variable ", name, "=", value,
                             " is outside [", low, ", ", high, "]");
  return value;
}

}  // namespace detail

/// The process's place in the job, from `lookup` (the environment by default); std::nullopt when
/// WORLD_SIZE is unset (a single process). Every other variable is then required and checked.
inline std::optional<launch_environment> read_launch_environment(
    const std::function<const char*(const char*)>& lookup = [](const char* name) { return std::getenv(name); }) {
  const char* world = lookup("WORLD_SIZE");
  if (world == nullptr) return std::nullopt;
  const auto required = [&](const char* name) -> std::string_view {
    const char* value = lookup(name);
    scorelift::detail::require(value != nullptr && *value != '\0', "launch_environment", "WORLD_SIZE is set but ", name,
                               " is not: set MASTER_ADDR, MASTER_PORT, RANK and WORLD_SIZE (as torchrun does), or none");
    return value;
  };
  launch_environment env;
  env.world_size = static_cast<int>(detail::parse_integer("WORLD_SIZE", world, 1, 1 << 20));
  env.rank = static_cast<int>(detail::parse_integer("RANK", required("RANK"), 0, env.world_size - 1));
  const char* local = lookup("LOCAL_RANK");
  env.local_rank = local == nullptr ? env.rank : static_cast<int>(detail::parse_integer("LOCAL_RANK", local, 0, 1 << 20));
  env.master_address = std::string(required("MASTER_ADDR"));
  env.master_port = static_cast<std::uint16_t>(detail::parse_integer("MASTER_PORT", required("MASTER_PORT"), 1, 65535));
  return env;
}

/// A seed for this rank's own stream (data order, noise, probes) derived from one job seed: the
/// splitmix64 finaliser of (seed, rank), so neighbouring ranks and seeds give unrelated streams.
inline std::uint64_t rank_seed(std::uint64_t seed, int rank) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (static_cast<std::uint64_t>(rank) + 1);
  z = (z ^ (z >> 30U)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27U)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31U);
}

/// Rows [begin, end) of a global batch of `global` samples that rank `rank` of `world` holds: the
/// first global % world ranks take one sample more (every sample is used once, shards differ by ≤ 1).
struct shard {
  std::int64_t begin = 0, end = 0;
  std::int64_t size() const { return end - begin; }
};
inline shard shard_of(std::int64_t global, int rank, int world) {
  scorelift::detail::require(world >= 1 && rank >= 0 && rank < world, "shard_of", "arguments 'rank' = ", rank,
                             " and 'world' = ", world, " must satisfy 0 <= rank < world");
  scorelift::detail::require(global >= world, "shard_of", "argument 'global' is ", global,
                             " but a global batch must give each of world = ", world, " ranks a sample");
  const std::int64_t base = global / world, extra = global % world;
  const std::int64_t begin = rank * base + std::min<std::int64_t>(rank, extra);
  return {begin, begin + base + (rank < extra ? 1 : 0)};
}

}  // namespace scorelift::distributed
