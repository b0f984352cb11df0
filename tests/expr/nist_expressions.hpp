// The NIST StRD datasets as expression models: model_expression, predictors
// and response from tests/data/nist/<name>.json (shared by the expression
// tests).
#pragma once

#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>
#include <string>
#include <vector>

namespace lmbatch::test {

struct NistExpression {
  std::string name;
  std::string model_expression;         // Python syntax in x (or x1, x2) and b1..bk
  std::vector<std::string> predictors;  // {"x"} or {"x1", "x2"}
  std::string response;                 // "y" or "log(y)"
  std::vector<std::string> parameters;  // b1..bk
  std::vector<std::string> jacobian;    // jacobian_of_model: sympy.diff, as str() prints it
};

inline NistExpression nist_expression(const std::string& name) {
  const std::string path = std::string(LMBATCH_TEST_DATA) + "/nist/" + name + ".json";
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open " + path);
  const nlohmann::json j = nlohmann::json::parse(in);
  NistExpression e;
  e.name = name;
  e.model_expression = j.at("model_expression").get<std::string>();
  e.predictors = j.at("predictors").get<std::vector<std::string>>();
  e.response = j.at("response").get<std::string>();
  const int k = j.at("n_parameters").get<int>();
  for (int i = 1; i <= k; ++i) e.parameters.push_back("b" + std::to_string(i));
  e.jacobian = j.at("jacobian_of_model").get<std::vector<std::string>>();
  return e;
}

}  // namespace lmbatch::test
