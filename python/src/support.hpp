// Shared pieces of the Python bindings: numpy arrays over C++ vectors without a copy, the
// options as Python passes them, and running a batch with the GIL released.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <atomic>
#include <chrono>
#include <exception>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "lmbatch/batch/engine.hpp"

namespace lmbatch::python {

namespace py = pybind11;

// A numpy array that owns `v` (moved, never copied): the vector lives in a capsule that numpy
// frees with the array.
template <class T>
py::array_t<T> adopt(std::vector<T>&& v, std::vector<py::ssize_t> shape) {
  auto* owned = new std::vector<T>(std::move(v));
  py::capsule owner(owned, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(std::move(shape), owned->data(), owner);
}

// The solver and engine options from Python keywords {name: value}, walking the one list
// (batch/option_fields.hpp): a name not in it is a TypeError, a value of the wrong kind a
// ValueError; None keeps the default (epsfcn None is scipy's 0, threads None every core).
// The values are checked by BatchOptions::validate(n) (n 0: diag's length unchecked): the
// command's words.
batch::BatchOptions batch_options(const py::dict& options, int n);

// {name: value} of every option (defaults, or what a run used): what FitResult keeps.
py::dict options_dict(const batch::BatchOptions& options);

// Ctrl-C while a batch runs: thrown from the engine's progress callback to stop the pipeline.
struct Cancelled : std::exception {
  const char* what() const noexcept override { return "cancelled"; }
};

// Runs work(progress_callback) on its own thread while the calling thread releases the GIL,
// waking every 100 ms to take it back briefly: to let Ctrl-C (and any other signal handler)
// run, and to pass progress to `progress` (a Python callable (done, total), or None). A Python
// exception from either stops the run after the chunk in flight and is raised here; an
// exception from the work (bad input, file errors) is rethrown here, with the GIL held.
template <class Work>
auto run_without_gil(Work&& work, const py::object& progress)
    -> decltype(work(std::declval<const batch::ProgressCallback&>())) {
  using Result = decltype(work(std::declval<const batch::ProgressCallback&>()));
  struct Shared {
    std::atomic<bool> cancel{false};
    std::mutex mu;
    bool fresh = false;
    std::size_t done = 0, total = 0;
  };
  auto shared = std::make_shared<Shared>();
  batch::ProgressCallback callback = [shared](const batch::Progress& p) {
    if (shared->cancel.load()) throw Cancelled{};
    std::lock_guard<std::mutex> lock(shared->mu);
    shared->fresh = true;
    shared->done = p.done;
    shared->total = p.total;
  };

  std::future<Result> result;
  {
    py::gil_scoped_release release;
    result = std::async(std::launch::async, [&work, callback] { return work(callback); });
  }
  std::exception_ptr python_error;
  for (;;) {
    std::future_status state;
    {
      py::gil_scoped_release release;
      state = result.wait_for(std::chrono::milliseconds(100));
    }
    if (!python_error) {
      try {
        if (PyErr_CheckSignals() != 0) throw py::error_already_set();
        if (!progress.is_none()) {
          std::optional<std::pair<std::size_t, std::size_t>> now;
          {
            std::lock_guard<std::mutex> lock(shared->mu);
            if (shared->fresh) now.emplace(shared->done, shared->total);
            shared->fresh = false;
          }
          if (now) progress(now->first, now->second);
        }
      } catch (...) {
        python_error = std::current_exception();
        shared->cancel.store(true);
      }
    }
    if (state == std::future_status::ready) break;
  }
  if (python_error) {
    try {
      result.get();
    } catch (...) {  // Cancelled, or whatever stopped the run first: the Python error wins
    }
    std::rethrow_exception(python_error);
  }
  return result.get();
}

// A summary as a dict: problems, seconds, threads, median_nfev, ier_counts ({ier: count} for
// the statuses that occurred), first_failures (flat problem indices).
py::dict summary_dict(const batch::BatchSummary& s);

// Python-style shape text, "(3, 4)" or "(5,)".
std::string shape_text(const std::vector<py::ssize_t>& shape);

}  // namespace lmbatch::python
