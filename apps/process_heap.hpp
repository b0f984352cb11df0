#pragma once

namespace lmbatch::app {

// Sets up this process's malloc heap for a run that allocates a few big
// buffers and refills them: big blocks from the heap rather than fresh mmaps,
// a heap that grows in large steps and does not shrink, over transparent huge
// pages where the kernel gives them. Call first thing in main. process_heap.cpp
// says why and what it measured.
void tune_process_heap() noexcept;

}  // namespace lmbatch::app
