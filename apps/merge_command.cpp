// lmbatch merge SHARD... -o OUT.h5: joins the shards of a split run
// (`lmbatch fit --part i/N`) into the output one run over every problem
// gives.
#include <spdlog/spdlog.h>

#include "commands.hpp"
#include "lmbatch/io/shards.hpp"

namespace lmbatch::app {

Run add_merge_command(CLI::App& app) {
  struct Args {
    std::vector<std::string> shards;
    std::string output;
    bool overwrite = false, virtual_output = false;
  };
  auto args = std::make_shared<Args>();
  CLI::App* merge = app.add_subcommand(
      "merge", "join the shards of `lmbatch fit --part i/N` (all N of them) into one output");
  merge->add_option("shards", args->shards, "the N shard files, in any order")->required();
  merge->add_option("-o,--output", args->output, "output HDF5 file")->required();
  merge->add_flag("--overwrite", args->overwrite, "replace an existing output file");
  merge->add_flag("--virtual", args->virtual_output,
                  "copy nothing: the output's datasets are HDF5 virtual datasets over the "
                  "shards, which must then stay where they are");
  return [args] {
    const io::MergeSummary s = io::merge_shards(args->shards, args->output, args->overwrite,
                                                   args->virtual_output);
    spdlog::info("{} {} shards ({} problems) into {}",
                 args->virtual_output ? "mapped" : "merged", s.shards, s.problems, args->output);
    return kExitOk;
  };
}

}  // namespace lmbatch::app
