// The catalogue's contents and Model::parse: names, parameter order and
// suffixes, spacing, and the messages of malformed specifications.
#include <catch2/catch.hpp>
#include <set>
#include <stdexcept>
#include <string>
#include <vector>

#include "lmbatch/models/model.hpp"

using Catch::Matchers::Contains;
using lmbatch::models::catalogue;
using lmbatch::models::find_term;
using lmbatch::models::Model;
using Names = std::vector<std::string>;

TEST_CASE("the catalogue lists every term once, in a stable order", "[models][catalogue]") {
  std::vector<std::string> names;
  for (const auto& term : catalogue()) names.emplace_back(term.name);
  CHECK(names == Names{"gaussian", "lorentzian", "pseudo_voigt", "exponential", "constant",
                       "linear", "poly2", "poly3", "poly4", "poly5"});
  for (const auto& term : catalogue()) {
    INFO(term.name);
    CHECK(find_term(term.name) == &term);
    CHECK(!term.formula.empty());
    CHECK(term.accumulate != nullptr);
    CHECK(term.jacobian != nullptr);
    CHECK(term.estimate != nullptr);
  }
  CHECK(find_term("voigt") == nullptr);
  CHECK(find_term("") == nullptr);
  CHECK(find_term("Gaussian") == nullptr);
}

TEST_CASE("parameter order is part of the interface", "[models][catalogue]") {
  const auto params = [](const char* name) {
    Names out;
    for (auto p : find_term(name)->parameters) out.emplace_back(p);
    return out;
  };
  CHECK(params("gaussian") == Names{"amplitude", "center", "sigma"});
  CHECK(params("lorentzian") == Names{"amplitude", "center", "gamma"});
  CHECK(params("pseudo_voigt") == Names{"amplitude", "center", "fwhm", "eta"});
  CHECK(params("exponential") == Names{"amplitude", "tau"});
  CHECK(params("constant") == Names{"c"});
  CHECK(params("linear") == Names{"intercept", "slope"});
  CHECK(params("poly2") == Names{"c0", "c1", "c2"});
  CHECK(params("poly3") == Names{"c0", "c1", "c2", "c3"});
  CHECK(params("poly4") == Names{"c0", "c1", "c2", "c3", "c4"});
  CHECK(params("poly5") == Names{"c0", "c1", "c2", "c3", "c4", "c5"});
  for (const char* baseline : {"constant", "linear", "poly2", "poly3", "poly4", "poly5"})
    CHECK(find_term(baseline)->is_baseline);
  for (const char* other : {"gaussian", "lorentzian", "pseudo_voigt", "exponential"})
    CHECK_FALSE(find_term(other)->is_baseline);
}

TEST_CASE("single terms keep bare parameter names", "[models][parse]") {
  const Model model = Model::parse("gaussian");
  CHECK(model.n_params() == 3);
  CHECK(model.parameter_names() == Names{"amplitude", "center", "sigma"});
  CHECK(model.spec() == "gaussian");
}

TEST_CASE("sums and repeats: names, counts and the normalised spec", "[models][parse]") {
  SECTION("gaussian+constant") {
    const Model model = Model::parse("gaussian+constant");
    CHECK(model.n_params() == 4);
    CHECK(model.parameter_names() == Names{"amplitude", "center", "sigma", "c"});
  }
  SECTION("gaussian*3+linear") {
    const Model model = Model::parse("gaussian*3+linear");
    CHECK(model.n_params() == 11);
    CHECK(model.parameter_names() == Names{"amplitude_1", "center_1", "sigma_1", "amplitude_2",
                                           "center_2", "sigma_2", "amplitude_3", "center_3",
                                           "sigma_3", "intercept", "slope"});
    CHECK(model.spec() == "gaussian*3+linear");
  }
  SECTION("exponential*2+constant") {
    const Model model = Model::parse("exponential*2+constant");
    CHECK(model.parameter_names() == Names{"amplitude_1", "tau_1", "amplitude_2", "tau_2", "c"});
  }
  SECTION("a term written twice is numbered like a repeat") {
    CHECK(Model::parse("gaussian+gaussian").parameter_names() ==
          Model::parse("gaussian*2").parameter_names());
  }
  SECTION("names shared by different terms are numbered too, so all stay unique") {
    const Model model = Model::parse("gaussian+lorentzian+poly2+constant");
    CHECK(model.parameter_names() == Names{"amplitude_1", "center_1", "sigma", "amplitude_2",
                                           "center_2", "gamma", "c0", "c1", "c2", "c"});
    const auto& names = model.parameter_names();
    CHECK(std::set<std::string>(names.begin(), names.end()).size() == names.size());
  }
  SECTION("*1 is allowed and is one term") {
    const Model model = Model::parse("gaussian*1");
    CHECK(model.parameter_names() == Names{"amplitude", "center", "sigma"});
  }
  SECTION("spaces around terms, '+' and '*' are ignored") {
    const Model model = Model::parse("  gaussian * 3 +\tlinear ");
    CHECK(model.parameter_names() == Model::parse("gaussian*3+linear").parameter_names());
    CHECK(model.spec() == "gaussian*3+linear");
  }
  SECTION("baselines may come first") {
    const Model model = Model::parse("linear+exponential");
    CHECK(model.parameter_names() == Names{"intercept", "slope", "amplitude", "tau"});
  }
}

TEST_CASE("malformed specifications throw invalid_argument with a clear message",
          "[models][parse]") {
  SECTION("unknown term: named, with the list of known terms") {
    CHECK_THROWS_AS(Model::parse("gauss+constant"), std::invalid_argument);
    CHECK_THROWS_WITH(Model::parse("gauss+constant"), Contains("unknown model term \"gauss\""));
    CHECK_THROWS_WITH(Model::parse("gauss+constant"),
                      Contains("known terms: gaussian, lorentzian, pseudo_voigt, exponential, "
                               "constant, linear, poly2, poly3, poly4, poly5"));
    CHECK_THROWS_WITH(Model::parse("Gaussian"), Contains("\"Gaussian\""));
    CHECK_THROWS_WITH(Model::parse("gaus sian"), Contains("\"gaus sian\""));
    CHECK_THROWS_WITH(Model::parse("poly6"), Contains("unknown model term \"poly6\""));
  }
  SECTION("bad repeat counts") {
    for (const char* spec :
         {"gaussian*", "gaussian*0", "gaussian*-1", "gaussian*x", "gaussian*2.5", "gaussian*2*3",
          "gaussian*99999999999", "gaussian*1001", "gaussian * 3 3"}) {
      INFO(spec);
      CHECK_THROWS_AS(Model::parse(spec), std::invalid_argument);
      CHECK_THROWS_WITH(Model::parse(spec), Contains("bad repeat count"));
      CHECK_THROWS_WITH(Model::parse(spec), Contains("\"gaussian\""));
    }
  }
  SECTION("empty terms") {
    for (const char* spec :
         {"gaussian+", "+gaussian", "gaussian++linear", "gaussian+ +linear", "*3"}) {
      INFO(spec);
      CHECK_THROWS_AS(Model::parse(spec), std::invalid_argument);
      CHECK_THROWS_WITH(Model::parse(spec), Contains("empty term"));
    }
    CHECK_THROWS_WITH(Model::parse("gaussian++linear"), Contains("term 2"));
  }
  SECTION("empty specification") {
    CHECK_THROWS_AS(Model::parse(""), std::invalid_argument);
    CHECK_THROWS_WITH(Model::parse("   "), Contains("empty model specification"));
  }
  SECTION("the message quotes the whole specification") {
    CHECK_THROWS_WITH(Model::parse("gaussian*3+lorentz"),
                      Contains("in model specification \"gaussian*3+lorentz\""));
  }
}
