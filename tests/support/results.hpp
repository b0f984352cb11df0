// Every result field of two batch::ArrayResults the same bits: the fields of
// the table in result_fields.hpp, so a field added there is compared too.
#pragma once

#include <catch2/catch.hpp>
#include <cmath>
#include <type_traits>

#include "check.hpp"
#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/result_fields.hpp"

namespace lmbatch::test {

inline void check_same_results(const batch::ArrayResult& a, const batch::ArrayResult& b) {
  batch::for_each_result_field(true, [&](const auto& field) {
    INFO("result field " << field.name);
    CHECK(same_bits(a.*field.in_array, b.*field.in_array));
  });
}

// The same, except that a NaN in the full output's arrays (fvec, fjac, ...)
// may differ in sign or payload: where a solve diverged to NaN parameters,
// fvec and fjac are the model's values there, and which NaN operand an
// operation with two passes on (IEEE 754 leaves it open; the compiler may
// commute an addition) differs between a model's lane kernels and its
// scalar code. Everything else, NaNs included, stays bit for bit.
inline void check_same_results_but_nan_sign(const batch::ArrayResult& a,
                                            const batch::ArrayResult& b) {
  batch::for_each_result_field(true, [&](const auto& field) {
    INFO("result field " << field.name);
    const auto& u = a.*field.in_array;
    const auto& v = b.*field.in_array;
    if constexpr (std::is_same_v<typename std::decay_t<decltype(u)>::value_type, double>) {
      if (field.full_output_only) {
        bool same = u.size() == v.size();
        for (std::size_t i = 0; same && i < u.size(); ++i)
          same = same_bits(u[i], v[i]) || (std::isnan(u[i]) && std::isnan(v[i]));
        CHECK(same);
        return;
      }
    }
    CHECK(same_bits(u, v));
  });
}

}  // namespace lmbatch::test
