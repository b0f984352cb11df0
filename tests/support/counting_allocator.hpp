// Global operator new and delete replaced by counting ones
// (counting_allocator.cpp), for the allocation tests' own executables only:
// link that file into an executable and every allocation in it is counted.
// The replacements live in a file of their own: defined in a test's file, GCC
// inlines them into the tests and warns that free() releases memory from
// operator new (-Wmismatched-new-delete), which is what a replacement does.
#pragma once

// Allocations (operator new, new[], and their nothrow forms) so far.
long allocations_so_far();
