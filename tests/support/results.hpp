// Every result field of two batch::ArrayResults the same bits: the fields of
// the table in result_fields.hpp, so a field added there is compared too.
#pragma once

#include <catch2/catch.hpp>

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

}  // namespace lmbatch::test
