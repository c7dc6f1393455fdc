// scorelift/scorelift.hpp — the backend-free core in one include: concepts, errors, probes, every
// objective (value + input-gradients) and the residual-stack helpers. Add one backend header
// (scorelift/backends/eigen.hpp, xtensor.hpp, torch.hpp, ...) to use them.
#pragma once

#include "scorelift/concepts.hpp"
#include "scorelift/errors.hpp"
#include "scorelift/objectives/ism_dsm_comparison.hpp"
#include "scorelift/objectives/lifted.hpp"
#include "scorelift/objectives/residual_score_matching.hpp"
#include "scorelift/objectives/score_batch.hpp"
#include "scorelift/objectives/sliced_score_matching.hpp"
#include "scorelift/probes.hpp"
#include "scorelift/residual/score_estimate.hpp"
#include "scorelift/residual/sign_tracker.hpp"
