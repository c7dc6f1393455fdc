// The launch variables torchrun and Slurm wrappers set are read exactly, malformed ones are refused
// with the variable named, and shards cover a global batch once.
#include <doctest/doctest.h>

#include <map>
#include <set>
#include <string>

#include "scorelift/distributed/launch_environment.hpp"

using scorelift::distributed::read_launch_environment;
using scorelift::distributed::shard_of;

namespace {
auto from(const std::map<std::string, std::string>& variables) {
  return [variables](const char* name) -> const char* {
    const auto found = variables.find(name);
    return found == variables.end() ? nullptr : found->second.c_str();
  };
}
}  // namespace

TEST_CASE("launch environment: absent means one process, torchrun's variables are read") {
  CHECK_FALSE(read_launch_environment(from({})).has_value());
  const auto env = read_launch_environment(
      from({{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "10.0.0.7"}, {"MASTER_PORT", "29500"}}));
  REQUIRE(env.has_value());
  CHECK(env->world_size == 4);
  CHECK(env->rank == 3);
  CHECK(env->local_rank == 1);
  CHECK(env->master_address == "10.0.0.7");
  CHECK(env->master_port == 29500);
  // LOCAL_RANK defaults to RANK (one machine).
  CHECK(read_launch_environment(from({{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}))
            ->local_rank == 1);
}

TEST_CASE("launch environment: malformed or missing variables are refused by name") {
  const std::map<std::string, std::string> good{
      {"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "127.0.0.1"}, {"MASTER_PORT", "29500"}};
  const auto with = [&](const std::string& name, const std::string& value) {
    auto v = good;
    v[name] = value;
    return read_launch_environment(from(v));
  };
  const auto without = [&](const std::string& name) {
    auto v = good;
    v.erase(name);
    return read_launch_environment(from(v));
  };
  using scorelift::invalid_argument;
  CHECK_THROWS_WITH_AS(with("RANK", "2"), doctest::Contains("RANK=2 is outside [0, 1]"), invalid_argument);
  CHECK_THROWS_WITH_AS(with("RANK", "-1"), doctest::Contains("RANK=-1 is outside"), invalid_argument);
  CHECK_THROWS_WITH_AS(with("WORLD_SIZE", "two"), doctest::Contains("WORLD_SIZE='two' is not a whole number"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(with("WORLD_SIZE", "0"), doctest::Contains("WORLD_SIZE=0 is outside"), invalid_argument);
  CHECK_THROWS_WITH_AS(with("MASTER_PORT", "70000"), doctest::Contains("MASTER_PORT=70000 is outside [1, 65535]"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(with("MASTER_PORT", "29500x"), doctest::Contains("MASTER_PORT='29500x'"), invalid_argument);
  CHECK_THROWS_WITH_AS(without("MASTER_ADDR"), doctest::Contains("WORLD_SIZE is set but MASTER_ADDR is not"),
                       invalid_argument);
  CHECK_THROWS_WITH_AS(without("RANK"), doctest::Contains("but RANK is not"), invalid_argument);
}

TEST_CASE("shard_of covers a global batch once, shards differing by at most one sample") {
  for (int world : {1, 2, 3, 7}) {
    for (std::int64_t global : {7, 8, 64, 65}) {
      if (global < world) continue;
      std::int64_t next = 0;
      for (int rank = 0; rank < world; ++rank) {
        const auto s = shard_of(global, rank, world);
        CHECK(s.begin == next);
        CHECK(s.size() >= global / world);
        CHECK(s.size() <= global / world + 1);
        next = s.end;
      }
      CHECK(next == global);
    }
  }
  CHECK_THROWS_WITH_AS(shard_of(1, 0, 2), doctest::Contains("shard_of: argument 'global' is 1"), scorelift::invalid_argument);
  CHECK_THROWS_WITH_AS(shard_of(4, 2, 2), doctest::Contains("arguments 'rank' = 2 and 'world' = 2"),
                       scorelift::invalid_argument);
}

TEST_CASE("rank_seed gives every rank and seed its own stream") {
  std::set<std::uint64_t> seen;
  for (std::uint64_t seed : {0ULL, 1ULL, 2ULL})
    for (int rank = 0; rank < 64; ++rank) seen.insert(scorelift::distributed::rank_seed(seed, rank));
  CHECK(seen.size() == 3 * 64);
}
