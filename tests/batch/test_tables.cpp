// The engine's one-place tables: status texts, result fields, options; and
// the progress of a resumed run (rate from this call's work only).
#include <catch2/catch.hpp>
#include <cmath>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "lmbatch/batch/engine.hpp"
#include "lmbatch/batch/option_fields.hpp"
#include "lmbatch/batch/result_codec.hpp"
#include "lmbatch/batch/result_fields.hpp"
#include "lmbatch/batch/status.hpp"

namespace batch = lmbatch::batch;
using lmbatch::models::Model;

TEST_CASE("every status code has its own label and a sentence with the tolerances as given",
          "[batch][status]") {
  lmbatch::leastsq::Options o;  // ftol = xtol = 1.49012e-08, gtol = 0
  std::set<std::string> labels;
  for (int ier = batch::kLowestStatus; ier <= batch::kHighestStatus; ++ier) {
    const std::string label = batch::status_label(ier);
    CHECK(label.rfind(std::to_string(ier) + ": ", 0) == 0);
    CHECK(label.find("unknown") == std::string::npos);
    labels.insert(label);
    const std::string text = batch::status_text(ier, o, 600);
    CHECK(text.find("%") == std::string::npos);
    CHECK(text.find('\n') == std::string::npos);  // one line: log lines and tables
    CHECK(text.find("0.000000") == std::string::npos);
  }
  CHECK(labels.size() ==
        static_cast<std::size_t>(batch::kHighestStatus - batch::kLowestStatus + 1));
  CHECK_THAT(batch::status_text(1, o, 600), Catch::Contains("ftol = 1.49012e-08"));
  CHECK_THAT(batch::status_text(3, o, 600),
             Catch::Contains("ftol = 1.49012e-08") && Catch::Contains("xtol = 1.49012e-08"));
  CHECK_THAT(batch::status_text(5, o, 600), Catch::Contains("maxfev = 600"));
  CHECK(batch::status_label(99) == "99: unknown");
  // scipy's own mesg keeps its %f: lmbatch.leastsq is a drop-in.
  CHECK_THAT(lmbatch::leastsq::message(lmbatch::leastsq::Status::ftol_reached, o, 600),
             Catch::Contains("0.000000"));
  // One converged(): scipy's LEASTSQ_SUCCESS.
  for (int ier = batch::kLowestStatus; ier <= 8; ++ier)
    CHECK(batch::converged(ier) == (ier >= 1 && ier <= 4));
  const std::string table = batch::status_table(o, 600);
  CHECK(std::count(table.begin(), table.end(), '\n') ==
        batch::kHighestStatus - batch::kLowestStatus + 1);
}

TEST_CASE("the result table covers every result buffer of a chunk", "[batch][results]") {
  // The codec's bytes are the table's fields: a buffer the table missed would not travel
  // through the journal or to the writing rank.
  for (bool full : {false, true}) {
    const int m = 7, n = 3;
    std::size_t per_problem = 0;
    batch::for_each_result_field(full, [&](const auto& field) {
      per_problem += batch::values_per_problem(field.extent, m, n) * sizeof(field.fill);
    });
    CHECK(batch::encoded_result_bytes(5, m, n, full) == 5 * per_problem);
    batch::Chunk c;
    c.reserve(5, m, n, full);
    CHECK(c.x_out.size() == 5 * n);
    CHECK(c.cov_x.size() == 5 * n * n);
    CHECK(c.fjac.size() == (full ? std::size_t{5 * n * m} : 0));
  }
  std::set<std::string> names;
  batch::for_each_result_field(true,
                               [&](const auto& field) { names.insert(std::string(field.name)); });
  CHECK(names == std::set<std::string>{"x", "cov_x", "cost", "stderr", "nfev", "njev", "ier",
                                       "m_valid", "pegged", "start", "fvec", "fjac", "ipvt",
                                       "qtf"});
}

TEST_CASE("options have unique names, and validate names the bad one", "[batch][options]") {
  batch::BatchOptions o;
  std::set<std::string> names;
  batch::for_each_option(o, [&](const batch::OptionInfo& info, const auto&) {
    CHECK(names.insert(std::string(info.name)).second);
    CHECK_FALSE(info.help.empty());
  });
  CHECK(names.count("ftol") == 1);
  CHECK(names.count("threads") == 1);
  CHECK_NOTHROW(o.validate(4));
  auto fails = [](batch::BatchOptions bad, const char* words) {
    CHECK_THROWS_WITH(bad.validate(4), Catch::Contains(words));
  };
  batch::BatchOptions bad;
  bad.threads = -1;
  fails(bad, "threads must be >= 1 (or 0 for every core)");
  bad = {};
  bad.solver.maxfev = -1;
  fails(bad, "maxfev must be >= 0");
  bad = {};
  bad.diag = {1.0, 2.0};
  fails(bad, "diag has 2 values; the model has 4 parameters");
  bad = {};
  bad.diag = {1.0, 0.0, 1.0, 1.0};
  fails(bad, "diag entries must be finite and > 0");
  CHECK(batch::parse_jacobian("forward") == batch::JacobianMode::forward);
  CHECK_FALSE(batch::parse_jacobian("central").has_value());
}

TEST_CASE("diag owned by the options gives scipy's mode-2 scaling", "[batch][options]") {
  const Model model = Model::parse("linear");
  std::vector<double> y(20);
  for (std::size_t i = 0; i < y.size(); ++i) y[i] = 0.5 * static_cast<double>(i) + 1.0;
  batch::ArrayInput in;
  in.y = y;
  in.count = 1;
  in.m = 20;
  batch::BatchOptions a, b;
  a.diag = {1.0, 2.0};
  const std::vector<double> diag{1.0, 2.0};
  b.solver.diag = diag;  // the solver's span, as library callers set it
  const auto ra = batch::fit(model, in, a), rb = batch::fit(model, in, b);
  CHECK(ra.x == rb.x);
  CHECK(ra.nfev == rb.nfev);
  batch::BatchOptions both = a;
  both.solver.diag = diag;
  CHECK_THROWS_WITH(batch::fit(model, in, both), Catch::Contains("diag is given twice"));
}

namespace {

// Problems 0..count-1, all of them gaussian+constant on 32 samples.
class Source final : public batch::ProblemSource {
 public:
  explicit Source(std::size_t count) : count_(count) {}
  std::size_t problem_count() const override { return count_; }
  int samples() const override { return 32; }
  void read(std::size_t first, int count, batch::Chunk& c) override {
    for (int k = 0; k < count; ++k)
      for (int i = 0; i < 32; ++i)
        c.y[static_cast<std::size_t>(k) * 32 + static_cast<std::size_t>(i)] =
            std::exp(-0.5 * (i - 16.0 - 0.001 * static_cast<double>(first + k)) * (i - 16.0) /
                     9.0) +
            0.1;
  }

 private:
  std::size_t count_;
};

class NullSink final : public batch::ResultSink {
 public:
  void write(const batch::Chunk&) override {}
};

}  // namespace

TEST_CASE("a resumed run counts its progress from the range and its rate from this call",
          "[batch][progress]") {
  // A shard [100, 400) resumed at 250: progress counts 150 of 300 done at the start.
  const Model model = Model::parse("gaussian+constant");
  Source source(500);
  NullSink sink;
  batch::BatchOptions o;
  o.threads = 1;
  o.chunk_size = 50;
  o.range_begin = 100;
  o.first_problem = 250;
  o.end_problem = 400;
  std::vector<batch::Progress> seen;
  o.progress = [&](const batch::Progress& p) { seen.push_back(p); };
  const batch::BatchSummary s = batch::run(model, source, sink, o);
  REQUIRE(seen.size() == 3);
  for (const auto& p : seen) {
    CHECK(p.total == 300);
    CHECK(p.done_at_start == 150);
  }
  CHECK(seen.front().done == 200);
  CHECK(seen.back().done == 300);
  CHECK(s.problems == 150);
  CHECK(s.next_problem == 400);
  o.range_begin = 300;  // past first_problem
  CHECK_THROWS_AS(batch::run(model, source, sink, o), std::invalid_argument);
}
