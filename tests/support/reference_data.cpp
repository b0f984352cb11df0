#include "support/reference_data.hpp"

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace lmbatch::test {
namespace {

using nlohmann::json;

json read_json(const std::string& relative) {
  const std::string path = std::string(LMBATCH_TEST_DATA) + "/" + relative;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open test data file " + path);
  return json::parse(in);
}

std::vector<double> doubles(const json& j) {
  std::vector<double> v;
  for (const auto& e : j) v.push_back(e.get<double>());
  return v;
}
std::vector<double> flatten(const json& rows) {
  std::vector<double> v;
  for (const auto& row : rows)
    for (const auto& e : row) v.push_back(e.get<double>());
  return v;
}

void read_scipy_outputs(const json& r, ScipyRun& s) {
  s.x = doubles(r.at("x"));
  s.nfev = r.at("nfev").get<int>();
  if (r.contains("njev") && !r.at("njev").is_null()) s.njev = r.at("njev").get<int>();
  s.ier = r.at("ier").get<int>();
  s.mesg = r.at("mesg").get<std::string>();
  s.fvec = doubles(r.at("fvec"));
  s.fjac = flatten(r.at("fjac"));
  for (const auto& e : r.at("ipvt")) s.ipvt.push_back(e.get<int>());
  s.qtf = doubles(r.at("qtf"));
  if (!r.at("cov_x").is_null()) s.cov_x = flatten(r.at("cov_x"));
}

}  // namespace

const std::vector<MinpackCase>& minpack_cases() {
  static const std::vector<MinpackCase> cases = [] {
    const json defs = read_json("minpack/cases.json");
    const json refs = read_json("minpack/scipy_results.json");
    std::map<std::string, json> by_id;
    for (const auto& r : refs.at("results")) by_id[r.at("id").get<std::string>()] = r;
    std::vector<MinpackCase> out;
    for (const auto& c : defs.at("cases")) {
      MinpackCase k;
      k.scipy.id = c.at("id").get<std::string>();
      k.scipy.analytic = c.at("minpack_routine").get<std::string>() == "lmder";
      k.nprob = c.at("nprob").get<int>();
      k.n = c.at("n").get<int>();
      k.m = c.at("m").get<int>();
      k.x0_factor = c.at("x0_factor").get<double>();
      k.name = c.at("name").get<std::string>();
      k.scipy.x0 = doubles(c.at("x0"));
      const json& r = by_id.at(k.scipy.id);
      k.scipy.ftol = r.at("ftol").get<double>();
      k.scipy.xtol = r.at("xtol").get<double>();
      k.scipy.gtol = r.at("gtol").get<double>();
      k.scipy.fvec_norm = r.at("final_l2_norm").get<double>();
      read_scipy_outputs(r, k.scipy);
      out.push_back(std::move(k));
    }
    return out;
  }();
  return cases;
}

std::vector<std::string> nist_dataset_names() {
  const json index = read_json("nist/index.json");
  std::vector<std::string> names;
  const json& list = index.is_object() && index.contains("datasets") ? index.at("datasets") : index;
  for (const auto& e : list)
    names.push_back(e.is_string() ? e.get<std::string>() : e.at("name").get<std::string>());
  return names;
}

const NistDataset& nist_dataset(const std::string& name) {
  static std::map<std::string, NistDataset> cache;
  auto it = cache.find(name);
  if (it != cache.end()) return it->second;
  const json j = read_json("nist/" + name + ".json");
  NistDataset d;
  d.name = name;
  d.n_params = j.at("n_parameters").get<int>();
  if (j.contains("x1")) {
    d.x1 = doubles(j.at("x1"));
    d.x2 = doubles(j.at("x2"));
  } else {
    d.x1 = doubles(j.at("x"));
  }
  d.y = doubles(j.at("y"));
  d.start1 = doubles(j.at("start1"));
  d.start2 = doubles(j.at("start2"));
  d.certified_values = doubles(j.at("certified_values"));
  d.certified_std_dev = doubles(j.at("certified_std_dev"));
  d.certified_rss = j.at("residual_sum_of_squares").get<double>();
  return cache.emplace(name, std::move(d)).first->second;
}

const std::vector<NistRun>& nist_runs() {
  static const std::vector<NistRun> runs = [] {
    std::vector<NistRun> out;
    for (const auto& name : nist_dataset_names()) {
      for (const char* start : {"start1", "start2"}) {
        for (const char* method : {"fd", "an"}) {
          const std::string id = name + "_" + start + "_" + method;
          const json r = read_json("nist/scipy_ref/" + id + ".json");
          NistRun run;
          run.dataset = name;
          run.start = start;
          run.scipy.id = id;
          run.scipy.analytic = std::string(method) == "an";
          run.scipy.x0 = doubles(r.at("x0"));
          const json& o = r.at("options");
          run.scipy.ftol = o.at("ftol").get<double>();
          run.scipy.xtol = o.at("xtol").get<double>();
          run.scipy.gtol = o.at("gtol").get<double>();
          run.scipy.maxfev = o.at("maxfev").get<int>();
          run.scipy.fvec_norm = r.at("fvec_norm").get<double>();
          run.rss = r.at("rss").get<double>();
          read_scipy_outputs(r, run.scipy);
          run.rounding_sensitive = r.at("rounding_check").at("rounding_sensitive").get<bool>();
          out.push_back(std::move(run));
        }
      }
    }
    return out;
  }();
  return runs;
}

}  // namespace lmbatch::test
