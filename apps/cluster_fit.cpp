// Cluster mode (docs/cluster.md): one fit across the ranks of MPI_COMM_WORLD.
//
//   every rank: its oneTBB pipeline, fed by RemoteQueue (ranges from rank 0)
//               and draining into RemoteSink (results to rank 0)
//   rank 0:     also a Coordinator thread: hands out ranges in problem order
//               from one counter, puts returning results back in order and
//               writes them through the single-process FileSink (journal +
//               result file), logs the aggregate progress
//
// Why this design: the results are a few hundred bytes per fit against the
// kilobytes of samples each rank reads itself from the input, so one writer
// keeps up with many ranks (docs/scaling.md), and writing in problem order
// through the same journal and result file as `lmbatch fit` makes the output
// bit-identical to a single-process run and resumable with --resume, with no
// parallel HDF5 (Debian's serial libhdf5 is the one the rest of lmbatch uses).
// Dynamic balancing: a rank asks for its next range when its pipeline wants
// one, so a rank with hard problems simply takes fewer ranges.
// Memory at rank 0 stays bounded: at most `window` ranges are out (handed
// out and not yet written); a rank asking beyond that waits.
//
// Threads: the pipeline's read and write stages and rank 0's coordinator
// call MPI concurrently, hence MPI_THREAD_MULTIPLE. Waits poll with short
// sleeps instead of blocking in MPI, which would spin a core the solver
// threads need.
#include <mpi.h>
#include <sched.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fit.hpp"
#include "commands.hpp"
#include "lmbatch/batch/result_codec.hpp"
#include "lmbatch/io/file_fit.hpp"
#include "lmbatch/io/problem_source.hpp"
#include "progress_log.hpp"
#include "run_control.hpp"

namespace lmbatch::app {
namespace {

using Clock = std::chrono::steady_clock;

enum Tag : int {
  kRequest = 1,  // rank -> 0: empty; "my next range, please"
  kAssign,       // 0 -> rank: {first, count}; count 0: no more work
  kResult,       // rank -> 0: {first, count} then the encoded results
  kError,        // rank -> 0: the text of an error that stopped its pipeline
  kDone,         // rank -> 0: RankReport; the rank sends nothing more
};

struct RankReport {
  double problems = 0, seconds = 0, threads = 0;
  double interrupted = 0, signal_exit_status = 0;
};

constexpr int kRoot = 0;

class MpiSession {
 public:
  MpiSession() {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
      throw std::runtime_error("MPI_Init_thread failed");
    if (provided < MPI_THREAD_MULTIPLE) {
      MPI_Finalize();
      throw std::runtime_error(
          "this MPI library does not provide MPI_THREAD_MULTIPLE, which cluster mode needs");
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
  }
  ~MpiSession() { MPI_Finalize(); }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  int rank = 0, size = 1;
};

// Waits for a request by polling, sleeping between polls (from 20 us up to
// 1 ms): latency far below a chunk's solve time, and no core spent spinning.
void wait_polling(MPI_Request& request, MPI_Status* status = MPI_STATUS_IGNORE) {
  auto pause = std::chrono::microseconds(20);
  for (;;) {
    int done = 0;
    MPI_Test(&request, &done, status);
    if (done) return;
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::microseconds(1000));
  }
}

void send_bytes(const void* data, std::size_t size, int tag) {
  if (size > static_cast<std::size_t>(INT32_MAX))
    throw std::runtime_error("a message of " + std::to_string(size) +
                             " bytes is too large: use a smaller --chunk-size");
  MPI_Send(data, static_cast<int>(size), MPI_BYTE, kRoot, tag, MPI_COMM_WORLD);
}

// ---- every rank: the pipeline's ends ----

// Ranges from rank 0, one request ahead: the reply for the next range
// travels while the current one is read and solved.
class RemoteQueue final : public batch::WorkQueue {
 public:
  bool next(std::size_t& first, int& count) override {
    if (finished_) return false;
    if (!outstanding_) post();
    wait_polling(reply_request_);
    outstanding_ = false;
    if (reply_[1] == 0) {
      finished_ = true;
      return false;
    }
    first = static_cast<std::size_t>(reply_[0]);
    count = static_cast<int>(reply_[1]);
    post();
    return true;
  }
  // After the pipeline stopped: receives a reply still on its way, so that
  // no message is left unmatched. A range it hands out is not solved here;
  // the pipeline only stops early when the run stops (signal or error).
  void drain() {
    if (outstanding_) wait_polling(reply_request_);
    outstanding_ = false;
  }

 private:
  void post() {
    MPI_Irecv(reply_, 2, MPI_UINT64_T, kRoot, kAssign, MPI_COMM_WORLD, &reply_request_);
    MPI_Send(nullptr, 0, MPI_BYTE, kRoot, kRequest, MPI_COMM_WORLD);
    outstanding_ = true;
  }
  std::uint64_t reply_[2] = {0, 0};
  MPI_Request reply_request_ = MPI_REQUEST_NULL;
  bool outstanding_ = false, finished_ = false;
};

class RemoteSink final : public batch::ResultSink {
 public:
  void write(const batch::Chunk& c) override {
    const std::uint64_t header[2] = {c.first, static_cast<std::uint64_t>(c.count)};
    buffer_.resize(sizeof header);
    std::memcpy(buffer_.data(), header, sizeof header);
    batch::encode_results(c, buffer_);
    send_bytes(buffer_.data(), buffer_.size(), kResult);
  }

 private:
  std::vector<unsigned char> buffer_;
};

// ---- rank 0: the coordinator ----

struct CoordinatorOutcome {
  batch::BatchSummary summary;
  bool failed = false;
  std::string error;  // the first error (any rank, or writing)
  int signal_exit_status = 0;
  std::vector<RankReport> ranks;
};

class Coordinator {
 public:
  // Problems [begin, end) are left to solve of the run's range [range_begin, end).
  Coordinator(int ranks, std::size_t range_begin, std::size_t begin, std::size_t end,
              int chunk_size, std::size_t window, int m, int n, bool full_output,
              io::FileSink& sink, ProgressLog& progress, const StopOnSignals& signals)
      : ranks_(ranks),
        range_begin_(range_begin),
        end_(end),
        chunk_size_(chunk_size),
        window_(window),
        m_(m),
        n_(n),
        full_output_(full_output),
        sink_(sink),
        progress_(progress),
        signals_(signals),
        next_first_(begin),
        frontier_(begin),
        begin_(begin) {
    outcome_.ranks.resize(static_cast<std::size_t>(ranks));
  }

  CoordinatorOutcome run() {
    const auto start = Clock::now();
    int done_ranks = 0;
    auto pause = std::chrono::microseconds(20);
    std::vector<unsigned char> message;
    while (done_ranks < ranks_) {
      if (!stopping_ && signals_.flag().load(std::memory_order_relaxed)) {
        stopping_ = interrupted_ = true;
        outcome_.signal_exit_status = signals_.exit_status();
      }
      int arrived = 0;
      MPI_Status status;
      MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &arrived, &status);
      if (arrived) {
        int size = 0;
        MPI_Get_count(&status, MPI_BYTE, &size);
        message.resize(static_cast<std::size_t>(std::max(size, 1)));
        MPI_Recv(message.data(), size, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE);
        const int from = status.MPI_SOURCE;
        switch (status.MPI_TAG) {
          case kRequest:
            waiting_.push_back(from);
            break;
          case kResult:
            on_result(from, message.data(), static_cast<std::size_t>(size), start);
            break;
          case kError:
            fail("rank " + std::to_string(from) + ": " +
                 std::string(message.begin(), message.begin() + size));
            break;
          case kDone: {
            RankReport r;
            std::memcpy(&r, message.data(), std::min(sizeof r, static_cast<std::size_t>(size)));
            outcome_.ranks[static_cast<std::size_t>(from)] = r;
            if (r.interrupted != 0 && !stopping_) {
              stopping_ = interrupted_ = true;
              outcome_.signal_exit_status = static_cast<int>(r.signal_exit_status);
            }
            ++done_ranks;
            break;
          }
          default:
            fail("rank " + std::to_string(from) + " sent an unknown message");
        }
        pause = std::chrono::microseconds(20);
      }
      serve_waiting();
      if (!arrived) {
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(1000));
      }
    }
    if (!stopping_ && frontier_ != end_)
      fail("problems [" + std::to_string(frontier_) + ", " + std::to_string(end_) +
           ") were handed out but their results never arrived");

    batch::BatchSummary& s = outcome_.summary;
    s.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    s.problems = frontier_ - begin_;
    s.next_problem = frontier_;
    s.interrupted = interrupted_ && !outcome_.failed;
    for (const RankReport& r : outcome_.ranks) s.threads += static_cast<int>(r.threads);
    tally_.fill(s);
    if (outcome_.signal_exit_status == 0) outcome_.signal_exit_status = 128 + 15;
    return std::move(outcome_);
  }

 private:
  void fail(const std::string& why) {
    spdlog::error("{}", why);
    if (!outcome_.failed) outcome_.error = why;
    outcome_.failed = true;
    stopping_ = true;
  }

  void serve_waiting() {
    while (!waiting_.empty()) {
      std::uint64_t reply[2] = {0, 0};
      if (!stopping_ && next_first_ < end_) {
        if (out_.size() >= window_) return;  // rank 0 holds enough: the rank waits
        reply[0] = next_first_;
        reply[1] =
            std::min<std::uint64_t>(static_cast<std::uint64_t>(chunk_size_), end_ - next_first_);
        out_.emplace(next_first_, static_cast<int>(reply[1]));
        next_first_ += reply[1];
      }
      MPI_Send(reply, 2, MPI_UINT64_T, waiting_.front(), kAssign, MPI_COMM_WORLD);
      waiting_.erase(waiting_.begin());
    }
  }

  void on_result(int from, const unsigned char* bytes, std::size_t size, Clock::time_point start) {
    if (outcome_.failed) return;  // nothing more is written after an error
    std::uint64_t header[2];
    if (size < sizeof header) return fail("rank " + std::to_string(from) + " sent a short result");
    std::memcpy(header, bytes, sizeof header);
    const auto it = out_.find(static_cast<std::size_t>(header[0]));
    if (it == out_.end() || static_cast<std::uint64_t>(it->second) != header[1] ||
        parked_.count(it->first))
      return fail("rank " + std::to_string(from) + " sent results for problems never handed out");
    auto chunk = take_chunk();
    chunk->first = static_cast<std::size_t>(header[0]);
    chunk->count = static_cast<int>(header[1]);
    try {
      batch::decode_results(bytes + sizeof header, size - sizeof header, *chunk);
    } catch (const std::exception& e) {
      return fail("rank " + std::to_string(from) + ": " + e.what());
    }
    parked_.emplace(chunk->first, std::move(chunk));
    // Write every result that continues the written prefix, in order.
    while (!parked_.empty() && parked_.begin()->first == frontier_) {
      std::unique_ptr<batch::Chunk> next = std::move(parked_.begin()->second);
      parked_.erase(parked_.begin());
      try {
        sink_.write(*next);
      } catch (const std::exception& e) {
        return fail(e.what());
      }
      tally_.add(*next);
      out_.erase(frontier_);
      frontier_ += static_cast<std::size_t>(next->count);
      free_.push_back(std::move(next));
      batch::Progress p;
      p.done = frontier_ - range_begin_;
      p.total = end_ - range_begin_;
      p.done_at_start = begin_ - range_begin_;
      p.elapsed_seconds = std::chrono::duration<double>(Clock::now() - start).count();
      p.status_counts = tally_.status_counts();
      progress_(p);
    }
  }

  std::unique_ptr<batch::Chunk> take_chunk() {
    std::unique_ptr<batch::Chunk> c;
    if (free_.empty()) {
      c = std::make_unique<batch::Chunk>();
    } else {
      c = std::move(free_.back());
      free_.pop_back();
    }
    c->reserve(chunk_size_, m_, n_, full_output_);
    return c;
  }

  const int ranks_;
  const std::size_t range_begin_, end_;
  const int chunk_size_;
  const std::size_t window_;
  const int m_, n_;
  const bool full_output_;
  io::FileSink& sink_;
  ProgressLog& progress_;
  const StopOnSignals& signals_;
  std::size_t next_first_, frontier_, begin_;
  std::map<std::size_t, int> out_;  // handed out, not yet written: first -> count
  std::map<std::size_t, std::unique_ptr<batch::Chunk>> parked_;  // arrived ahead of the frontier
  std::vector<std::unique_ptr<batch::Chunk>> free_;
  std::vector<int> waiting_;  // ranks whose request waits for the window
  batch::SummaryTally tally_;
  bool stopping_ = false, interrupted_ = false;
  CoordinatorOutcome outcome_;
};

// ---- every rank ----

RankReport solve_my_share(io::FitJob& job, const StopOnSignals& signals) {
  RemoteQueue queue;
  RemoteSink sink;
  io::FileProblemSource source(*job.input, job.options.x0_values);
  batch::BatchOptions options = job.options.batch;
  options.work_queue = &queue;
  options.progress = nullptr;
  options.stop_requested = &signals.flag();
  RankReport report;
  try {
    const batch::BatchSummary s = batch::run(job.model, source, sink, options);
    report = {static_cast<double>(s.problems), s.seconds, static_cast<double>(s.threads),
              s.interrupted ? 1.0 : 0.0, static_cast<double>(signals.exit_status())};
  } catch (const std::exception& e) {
    const std::string what = e.what();
    send_bytes(what.data(), what.size(), kError);
  }
  queue.drain();
  send_bytes(&report, sizeof report, kDone);
  return report;
}

}  // namespace

int run_fit_cluster(const FitArgs& args) {
  MpiSession mpi;
  const bool root = mpi.rank == kRoot;
  // Every line says which rank wrote it; only rank 0 reports progress and
  // the summary, the others warnings and errors. No colours: mpirun's
  // output forwarding looks like a terminal but usually ends in a log file.
  spdlog::set_pattern("[%Y-%m-%d %H:%M:%S.%e] [rank " + std::to_string(mpi.rank) + "] [%l] %v");
  if (!root) spdlog::set_level(std::max(spdlog::get_level(), spdlog::level::warn));

  // Setup on every rank; the output only on rank 0. Nobody starts unless
  // everybody could.
  std::optional<io::FitJob> job;
  std::optional<io::FitOutput> output;
  const io::FitLog log = spdlog_fit_log();
  std::string setup_error;
  int nothing_to_do = 0;
  try {
    job.emplace(io::prepare_fit(args.run, log));
    if (root) {
      int threadsafe = 0;
      H5is_library_threadsafe(reinterpret_cast<hbool_t*>(&threadsafe));
      if (!threadsafe)
        throw std::runtime_error(
            "cluster mode needs a thread-safe HDF5 library (rank 0 reads and writes from two "
            "threads)");
      output = io::open_output(*job, log);
      nothing_to_do = output ? 0 : 1;
    }
  } catch (const std::exception& e) {
    setup_error = e.what();
    spdlog::error("{}", setup_error);
  }
  int ready = setup_error.empty() ? 1 : 0;
  MPI_Allreduce(MPI_IN_PLACE, &ready, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (!ready) {
    if (setup_error.empty() && root) spdlog::error("another rank could not start (see its error)");
    return kExitInputOutputError;
  }
  MPI_Bcast(&nothing_to_do, 1, MPI_INT, kRoot, MPI_COMM_WORLD);
  if (nothing_to_do) return kExitOk;

  // The window: every rank keeps up to `tokens` ranges in its pipeline plus
  // one requested ahead; twice that in total lets ranks run ahead of a slow
  // range without rank 0 holding more than window results.
  const int threads = job->options.batch.threads > 0
                          ? job->options.batch.threads
                          : static_cast<int>(std::thread::hardware_concurrency());
  int tokens = job->options.batch.tokens > 0 ? job->options.batch.tokens : 2 * std::max(threads, 1);
  int all_tokens = 0;
  MPI_Allreduce(&tokens, &all_tokens, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

  // mpirun binds each rank to one core by default when it starts few ranks:
  // more threads than the rank may run on would share that core.
  cpu_set_t allowed;
  if (sched_getaffinity(0, sizeof allowed, &allowed) == 0 && CPU_COUNT(&allowed) < threads)
    spdlog::warn(
        "rank {} may run on {} core(s) but starts {} threads: start it with mpirun --bind-to "
        "none, or --map-by slot:PE={} (srun: --cpus-per-task={})",
        mpi.rank, CPU_COUNT(&allowed), threads, threads, threads);

  const StopOnSignals signals;
  int status = kExitOk;
  if (root) {
    const std::size_t window = 2 * static_cast<std::size_t>(all_tokens + mpi.size);
    const std::size_t begin = job->options.batch.first_problem, end = job->part_end;
    spdlog::info(
        "cluster: {} ranks, {} pipeline tokens in all; rank 0 holds at most {} chunks "
        "of results ({:.1f} MB)",
        mpi.size, all_tokens, window,
        static_cast<double>(window) *
            static_cast<double>(batch::encoded_result_bytes(
                static_cast<std::size_t>(job->options.batch.chunk_size), job->input->m(),
                job->model.n_params(), job->options.batch.full_output)) /
            1e6);
    io::FileSink sink(*output);
    ProgressLog progress(args.progress_interval, false, /*lines_only=*/true);
    Coordinator coordinator(mpi.size, job->part_first, begin, end, job->options.batch.chunk_size,
                            window, job->input->m(), job->model.n_params(),
                            job->options.batch.full_output, sink, progress, signals);
    CoordinatorOutcome outcome;
    std::thread coordinator_thread([&] { outcome = coordinator.run(); });
    solve_my_share(*job, signals);
    coordinator_thread.join();
    progress.finish();
    for (std::size_t r = 0; r < outcome.ranks.size(); ++r) {
      const RankReport& rr = outcome.ranks[r];
      spdlog::info("rank {}: {:.0f} problems in {:.2f} s on {:.0f} threads ({:.0f} fits/s)", r,
                   rr.problems, rr.seconds, rr.threads,
                   rr.seconds > 0 ? rr.problems / rr.seconds : 0.0);
    }
    try {
      if (outcome.failed) {
        spdlog::error(
            "the run stopped: {} of {} problems are saved in {}; fix the cause and run "
            "the same command with --resume",
            outcome.summary.next_problem - job->part_first, job->part_end - job->part_first,
            job->journal_path);
        status = kExitInputOutputError;
      } else {
        const io::FitOutcome fit = io::finish_fit(*job, *output, outcome.summary);
        status = report_outcome(args, *job, fit, "a signal", outcome.signal_exit_status);
      }
    } catch (const std::exception& e) {
      spdlog::error("{}", e.what());
      status = kExitInputOutputError;
    }
  } else {
    solve_my_share(*job, signals);
  }
  MPI_Bcast(&status, 1, MPI_INT, kRoot, MPI_COMM_WORLD);
  return status;
}

}  // namespace lmbatch::app
