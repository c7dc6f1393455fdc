// scorelift/nonparametric.hpp — every nonparametric score estimator and kernel in one include.
#pragma once

#include "scorelift/nonparametric/curl_free_kernel.hpp"
#include "scorelift/nonparametric/diagonal_kernel.hpp"
#include "scorelift/nonparametric/kernel_expansion.hpp"
#include "scorelift/nonparametric/landweber.hpp"
#include "scorelift/nonparametric/nu_method.hpp"
#include "scorelift/nonparametric/ssge.hpp"
#include "scorelift/nonparametric/stein.hpp"
#include "scorelift/nonparametric/tikhonov.hpp"
