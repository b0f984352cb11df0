// The one list of a batch run's user-facing options: name, help text, and the
// member of BatchOptions it sets. The `lmbatch fit` command line, the Python
// module's keywords and the run's record (fingerprint and result-file
// attributes, io/run_description.cpp) walk this list; the defaults are the
// members' initialisers (scipy's) and the checks are BatchOptions::validate.
// Adding an option is its member, one row here and its use in the solver.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "lmbatch/batch/engine.hpp"

namespace lmbatch::batch {

struct OptionInfo {
  std::string_view name;  // Python keyword and file attribute; the CLI's --name-with-dashes
  std::string_view help;
  // Decides the results: part of a run's fingerprint (what --resume and a
  // merge of shards must match) and of the result file's attributes.
  bool decides_results;
};

// Calls f(info, member) for every option, in order; Options is BatchOptions
// or const BatchOptions. Member types: double, int, bool, JacobianMode,
// std::vector<double>.
template <class Options, class F>
void for_each_option(Options& o, F&& f) {
  f(OptionInfo{"ftol", "relative reduction of the sum of squares (MINPACK info 1)", true},
    o.solver.ftol);
  f(OptionInfo{"xtol", "relative change of x (MINPACK info 2)", true}, o.solver.xtol);
  f(OptionInfo{"gtol", "orthogonality of fvec and the Jacobian's columns (MINPACK info 4)", true},
    o.solver.gtol);
  f(OptionInfo{"maxfev", "maximum function calls (0: 100(n+1) analytic, 200(n+1) forward)", true},
    o.solver.maxfev);
  f(OptionInfo{"epsfcn", "forward-difference step parameter (0: machine epsilon)", true},
    o.solver.epsfcn);
  f(OptionInfo{"factor", "initial step bound factor", true}, o.solver.factor);
  f(OptionInfo{"diag", "n positive scale factors a,b,c (default: automatic, MINPACK mode 1)", true},
    o.diag);
  f(OptionInfo{"jacobian", "analytic (MINPACK lmder, the model's derivatives) or forward (lmdif)",
               true},
    o.jacobian);
  f(OptionInfo{"full_output", "also fvec, fjac, ipvt and qtf (scipy's infodict)", true},
    o.full_output);
  f(OptionInfo{"threads", "worker threads (0: every core); results do not depend on it", false},
    o.threads);
  f(OptionInfo{"chunk_size",
               "problems per pipeline chunk (default: at most problems / (4 x threads), up to "
               "1024); results do not depend on it",
               false},
    o.chunk_size);
}

// "analytic" / "forward".
std::string_view jacobian_name(JacobianMode mode);
// The mode named `name`; nullopt for any other name.
std::optional<JacobianMode> parse_jacobian(std::string_view name);

}  // namespace lmbatch::batch
