// The parts of the _core extension module, one function per source file.
#pragma once

#include <pybind11/pybind11.h>

namespace lmbatch::python {

void bind_leastsq(pybind11::module_& m);   // leastsq_binding.cpp
void bind_fit(pybind11::module_& m);       // fit_binding.cpp
void bind_fit_file(pybind11::module_& m);  // fit_file_binding.cpp

}  // namespace lmbatch::python
