// Model plugins: dlopen, checks, and the CustomTerm adapter.
#include "lmbatch/io/plugin_loader.hpp"

#include <dlfcn.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <vector>

#include "lmbatch/models/plugin_abi.h"

namespace lmbatch::io {
namespace {

constexpr int kMaxPluginParameters = 64;

bool is_name(const char* s, bool lower_only) {
  if (s == nullptr || *s == '\0') return false;
  const auto ok_first = [&](unsigned char c) {
    return c == '_' || (lower_only ? (c >= 'a' && c <= 'z') : std::isalpha(c) != 0);
  };
  const auto ok_rest = [&](unsigned char c) {
    return c == '_' || (c >= '0' && c <= '9') ||
           (lower_only ? (c >= 'a' && c <= 'z') : std::isalpha(c) != 0);
  };
  if (!ok_first(static_cast<unsigned char>(s[0]))) return false;
  for (const char* c = s + 1; *c; ++c)
    if (!ok_rest(static_cast<unsigned char>(*c))) return false;
  return true;
}

// Per-thread buffer for a plugin's value (the ABI overwrites; terms add).
std::vector<double>& thread_buffer(std::size_t m) {
  thread_local std::vector<double> buffer;
  if (buffer.size() < m) buffer.resize(m);
  return buffer;
}

class PluginTerm final : public models::CustomTerm {
 public:
  PluginTerm(std::shared_ptr<void> library, const lmbatch_plugin_model* model)
      : library_(std::move(library)), model_(model), name_(model->name) {
    for (int k = 0; k < model->n_params; ++k) parameters_.emplace_back(model->param_names[k]);
  }

  std::string spec() const override { return name_; }
  const std::vector<std::string>& parameters() const override { return parameters_; }

  void accumulate(std::span<const double> p, std::span<const double> x,
                  std::span<double> f) const override {
    const std::size_t m = x.size();
    std::vector<double>& v = thread_buffer(m);
    const int status =
        model_->value(model_->context, p.data(), x.data(), static_cast<std::int64_t>(m), v.data());
    if (status != 0) {
      std::fill(f.begin(), f.begin() + static_cast<std::ptrdiff_t>(m),
                std::numeric_limits<double>::quiet_NaN());
      return;
    }
    for (std::size_t i = 0; i < m; ++i) f[i] += v[i];
  }

  void jacobian(std::span<const double> p, std::span<const double> x, double* jac,
                int ld) const override {
    const int status = model_->jacobian(model_->context, p.data(), x.data(),
                                        static_cast<std::int64_t>(x.size()), jac, ld);
    if (status != 0)
      for (std::size_t k = 0; k < parameters_.size(); ++k)
        std::fill_n(jac + k * static_cast<std::size_t>(ld), x.size(),
                    std::numeric_limits<double>::quiet_NaN());
  }

  bool has_estimate() const override { return model_->estimate != nullptr; }

  void estimate(std::span<const double> x, std::span<double> remaining,
                std::span<double> p) const override {
    if (model_->estimate == nullptr) return CustomTerm::estimate(x, remaining, p);
    const int status = model_->estimate(model_->context, x.data(), remaining.data(),
                                        static_cast<std::int64_t>(x.size()), p.data());
    bool finite = status == 0;
    for (std::size_t k = 0; k < parameters_.size(); ++k) finite = finite && std::isfinite(p[k]);
    if (!finite) {
      // A failed estimate starts the fit from NaN: that problem ends as
      // non-finite (ier -2); nothing is subtracted.
      std::fill_n(p.begin(), parameters_.size(), std::numeric_limits<double>::quiet_NaN());
      return;
    }
    // The estimate leaves what this term does not explain to the next terms.
    std::vector<double>& v = thread_buffer(x.size());
    if (model_->value(model_->context, p.data(), x.data(), static_cast<std::int64_t>(x.size()),
                      v.data()) == 0)
      for (std::size_t i = 0; i < x.size(); ++i) remaining[i] -= v[i];
  }

  bool is_baseline() const override { return (model_->flags & LMBATCH_PLUGIN_BASELINE) != 0; }

 private:
  std::shared_ptr<void> library_;  // keeps the code loaded while the term lives
  const lmbatch_plugin_model* model_;
  std::string name_;
  std::vector<std::string> parameters_;
};

}  // namespace

std::shared_ptr<const models::CustomTerm> load_model_plugin(const std::string& path) {
  const std::string where = "model plugin " + path + ": ";
  // A bare name would make dlopen search the library path; a plugin is a file.
  const std::string file = path.find('/') == std::string::npos ? "./" + path : path;
  dlerror();
  void* handle = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    const char* why = dlerror();
    throw std::invalid_argument(where + "cannot load: " + (why ? why : "unknown error"));
  }
  std::shared_ptr<void> library(handle, [](void* h) { dlclose(h); });

  const auto symbol = [&](const char* name) {
    dlerror();
    void* s = dlsym(handle, name);
    if (s == nullptr)
      throw std::invalid_argument(where + "not an lmbatch model plugin: no exported function " +
                                  name + " (see lmbatch/models/plugin_abi.h)");
    return s;
  };
  const auto version_fn =
      reinterpret_cast<lmbatch_plugin_abi_version_fn>(symbol(LMBATCH_PLUGIN_ABI_VERSION_SYMBOL));
  const std::uint32_t version = version_fn();
  if (version != LMBATCH_PLUGIN_ABI_VERSION)
    throw std::invalid_argument(where + "built for plugin ABI version " + std::to_string(version) +
                                "; this lmbatch supports version " +
                                std::to_string(LMBATCH_PLUGIN_ABI_VERSION));
  const auto get_model =
      reinterpret_cast<lmbatch_plugin_get_model_fn>(symbol(LMBATCH_PLUGIN_GET_MODEL_SYMBOL));
  const lmbatch_plugin_model* model = get_model();
  if (model == nullptr) throw std::invalid_argument(where + "returned no model");
  if (model->abi_version != LMBATCH_PLUGIN_ABI_VERSION)
    throw std::invalid_argument(where + "its model description says ABI version " +
                                std::to_string(model->abi_version) + ", expected " +
                                std::to_string(LMBATCH_PLUGIN_ABI_VERSION));
  if (!is_name(model->name, true))
    throw std::invalid_argument(where + "model name " +
                                (model->name ? "\"" + std::string(model->name) + "\"" : "(null)") +
                                " is not a term name ([a-z_][a-z0-9_]*)");
  if (std::string(model->name) == "expr")
    throw std::invalid_argument(where + "model name \"expr\" is reserved");
  if (models::find_term(model->name) != nullptr)
    throw std::invalid_argument(where + "model name \"" + std::string(model->name) +
                                "\" is a catalogue term; the plugin must use another name");
  if (model->n_params < 1 || model->n_params > kMaxPluginParameters)
    throw std::invalid_argument(where + "n_params is " + std::to_string(model->n_params) +
                                ", expected 1 to " + std::to_string(kMaxPluginParameters));
  if (model->param_names == nullptr) throw std::invalid_argument(where + "param_names is null");
  std::vector<std::string> names;
  for (int k = 0; k < model->n_params; ++k) {
    const char* name = model->param_names[k];
    if (!is_name(name, false))
      throw std::invalid_argument(where + "parameter " + std::to_string(k + 1) +
                                  " has no valid name");
    if (std::find(names.begin(), names.end(), name) != names.end())
      throw std::invalid_argument(where + "parameter name \"" + std::string(name) +
                                  "\" appears twice");
    names.emplace_back(name);
  }
  if (model->value == nullptr || model->jacobian == nullptr)
    throw std::invalid_argument(where + "value and jacobian functions are required");
  return std::make_shared<const PluginTerm>(std::move(library), model);
}

}  // namespace lmbatch::io
