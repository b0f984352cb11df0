#!/usr/bin/python3
"""Where lmbatch's time goes: instruction counts (valgrind --tool=callgrind) per fit.

    /usr/bin/python3 bench/profile.py [--build build-bench] [--problems 1000] [--out FILE]

Hardware counters are not available on every machine (`perf stat -e instructions true`
says "not supported" in virtual machines), so this counts instructions with callgrind:
deterministic, unaffected by the load of a shared machine, but instructions, not time
(an exp() retires many instructions per cycle, a dependent chain of additions one per
four cycles). bench/run.sh measures the time; this says what the solver does with it.

For the first two workloads (and the fourth, tiny one), on the same generated problems
as lmbatch_bench, it runs under callgrind: lmbatch's lmder loop, cminpack's lmder, the
floor (the same evaluations alone) and the batch engine (1 thread); for the first two, also
`lmbatch fit` HDF5 -> HDF5. It prints a Markdown report (and writes it with --out):
instructions per fit, and lmbatch's split over model evaluation, qrfac, enorm, the
Q^T f / gradient step (LmCore::after_jacobian), lmpar (with qrsolv), the trial-point
bookkeeping, copies and the rest. Needs valgrind (Debian package valgrind).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

WORKLOADS = {1: "gaussian+constant (m=128, n=4)", 2: "exponential*2+constant (m=256, n=5)",
             4: "gauss2d (5x5, n=5)"}


def run_callgrind(cmd, out_file):
    subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}"] + cmd,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def annotate(out_file, tree=False):
    args = ["callgrind_annotate", "--threshold=100"]
    args += ["--tree=caller"] if tree else ["--inclusive=yes"]
    return subprocess.run(args + [out_file], check=True, capture_output=True, text=True).stdout


LINE = re.compile(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(\*?\s*)(.*)$")


def costs(out_file):
    """{function: inclusive Ir}, {function: self Ir}, {(caller, callee): Ir}."""
    inclusive = {}
    for line in annotate(out_file).splitlines():
        m = LINE.match(line)
        if m:
            inclusive[m.group(3)] = inclusive.get(m.group(3), 0) + int(m.group(1).replace(",", ""))
    self_cost, calls = {}, {}
    callers = []
    for line in annotate(out_file, tree=True).splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\([\s\d.]+%\)\s+(<|\*)\s+(.*?)(?:\s+\((\d+)x\))?\s*$", line)
        if not m:
            callers = []
            continue
        ir = int(m.group(1).replace(",", ""))
        if m.group(2) == "<":
            callers.append((m.group(3), ir))
        else:
            self_cost[m.group(3)] = self_cost.get(m.group(3), 0) + ir
            for caller, cir in callers:
                calls[(caller, m.group(3))] = calls.get((caller, m.group(3)), 0) + cir
            callers = []
    return inclusive, self_cost, calls


def find(table, *needles):
    """Sum of the entries whose name contains every needle."""
    return sum(v for k, v in table.items() if all(n in k for n in needles))


def find_call(calls, caller_needle, callee_needle):
    return sum(v for (a, b), v in calls.items() if caller_needle in a and callee_needle in b)


def profile_peer(bench, workload, problems, peer, tmp):
    out = os.path.join(tmp, f"cg.{workload}.{peer}")
    run_callgrind([bench, "profile", "--workload", str(workload), "--problems", str(problems),
                   "--peer", peer, "--reps", "1"], out)
    return costs(out)


def breakdown(inclusive, self_cost, calls):
    total = find(inclusive, "bench::(anonymous namespace)::solve_range(")
    residuals = find(inclusive, "bench::Evaluator::residuals(")
    jacobian = find(inclusive, "bench::Evaluator::jacobian(")
    enorm = find(self_cost, "minpack::enorm(")
    enorm_qrfac = find_call(calls, "minpack::qrfac(", "minpack::enorm(")
    enorm_lmpar = find_call(calls, "minpack::lmpar(", "minpack::enorm(")
    qrfac = find(inclusive, "minpack::qrfac(") - enorm_qrfac
    lmpar = find(inclusive, "minpack::lmpar(") - enorm_lmpar
    after_jacobian = find(self_cost, "LmCore::after_jacobian(")
    trial = find(self_cost, "LmCore::after_trial_point(")
    # Copies made by the solver itself (the model's own memset is in the model's share).
    copies = sum(v for (caller, callee), v in calls.items()
                 if re.search(r"mem(cpy|move|set)", callee)
                 and re.search(r"LmCore::|solve_range|leastsq::", caller))
    parts = [
        ("model: residuals (exp included)", residuals),
        ("model: Jacobian (exp included)", jacobian),
        ("qrfac (Householder QR with pivoting, Q^T f and the column norms in lanes), without its enorm calls", qrfac),
        ("enorm (all callers)", enorm),
        ("  of which inside qrfac (column norms)", -enorm_qrfac),
        ("LmCore::after_jacobian: Q^T f, scaled gradient, diag", after_jacobian),
        ("lmpar + qrsolv, without enorm", lmpar),
        ("LmCore::after_trial_point: reductions, step bound, tests", trial),
        ("memcpy / memmove / memset called by the solver", copies),
    ]
    accounted = residuals + jacobian + qrfac + enorm + after_jacobian + lmpar + trial + copies
    parts.append(("the rest: drive loop, state machine, x0 copy, ...", total - accounted))
    return total, parts


def engine_breakdown(inclusive, self_cost, calls):
    """The engine's solve in SIMD lanes (--simd auto): where its instructions go."""
    total = find(inclusive, "batch::detail::solve_chunk(")
    # The model as the lanes call it (the harness's generator calls it too).
    model = (find(inclusive, "models::Model::value_lanes(")
             + find(inclusive, "models::Model::jacobian_lanes(")
             + find_call(calls, "ChunkLanes::residuals(", "models::Model::value(")
             + find_call(calls, "ChunkLanes::jacobian(", "models::Model::jacobian("))
    qrfac = find(self_cost, "::Qrfac(") + find(inclusive, "::ApplyHouseholder<")
    norms = find(inclusive, "::ResidualNorms(") + find(inclusive, "::TakeRows(")
    enorm = find(self_cost, "minpack::enorm(")
    lmpar = find(inclusive, "minpack::lmpar(")
    core = (find(self_cost, "LmCore::after_jacobian(") + find(self_cost, "LmCore::after_trial_point(")
            + find(self_cost, "LmCore::advance("))
    glue = (find(self_cost, "ChunkLanes::residuals(") + find(self_cost, "ChunkLanes::jacobian(")
            + find(self_cost, "LaneLmder::residual_round(")
            + find(self_cost, "LaneLmder::jacobian_round("))
    start = (find(inclusive, "ChunkLanes::next(") - find(inclusive, "batch::detail::solve_problem(")
             + find(inclusive, "batch::detail::store_solution("))
    parts = [
        ("model: residuals and Jacobian (exp included)", model),
        ("qrfac in lanes (Q^T f, column norms)", qrfac),
        ("residual norms and fvec in lanes", norms),
        ("enorm, scalar (lmpar's n-vectors, rare lane fallbacks)", enorm),
        ("lmpar + qrsolv (per lane, scalar)", lmpar),
        ("LmCore: driver decisions (per lane, scalar)", core),
        ("lane glue: points in, residuals and Jacobian out (interleaving), rounds", glue),
        ("problem in and out: samples, start, cov_x, results", start),
    ]
    parts.append(("the rest", total - sum(v for _, v in parts)))
    return total, parts


def fit_breakdown(inclusive):
    total = find(inclusive, "app::(anonymous namespace)::run_fit(")
    program = max(inclusive.values())
    solve = find(inclusive, "batch::detail::solve_chunk(")
    read = find(inclusive, "FileProblemSource::read(")
    write = find(inclusive, "FileSink::write(") + find(inclusive, "io::ResultFile::finish(")
    opens = find(inclusive, "io::ProblemFile::ProblemFile(") + find(inclusive, "io::ResultFile::ResultFile(")
    journal = find(inclusive, "io::Journal::append(")
    return program, [
        ("solve (batch::detail::solve_chunk: SIMD lanes, or one problem at a time)", solve),
        ("read: raw chunks, inflate, unshuffle, or H5Dread (FileProblemSource::read)", read),
        ("write: chunk copies, deflate at flush (FileSink::write, ResultFile::finish)", write),
        ("  of which the resume journal (Journal::append)", -journal),
        ("open/create files", opens),
        ("rest of run_fit (pipeline, summary, attributes)", total - solve - read - write - opens),
        ("process start-up and exit (dynamic linking, ...)", program - total),
    ]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("--build", default=os.path.join(root, "build-bench"))
    ap.add_argument("--problems", type=int, default=1000)
    ap.add_argument("--out", default="")
    a = ap.parse_args()
    if not shutil.which("valgrind") or not shutil.which("callgrind_annotate"):
        sys.exit("profile.py: needs valgrind (apt-get install valgrind)")
    bench = os.path.join(a.build, "bench", "lmbatch_bench")
    lmbatch = os.path.join(a.build, "apps", "lmbatch")
    n = a.problems
    md = [f"Instructions per fit (callgrind, {n} problems per workload, same generator as "
          "lmbatch_bench); shares are of lmbatch lmder's instructions.\n"]
    with tempfile.TemporaryDirectory() as tmp:
        summary = ["| workload | lmbatch lmder | cminpack lmder | lmbatch / cminpack | floor | "
                   "lmbatch / floor | engine (1 thread) | engine / loop |",
                   "|---|---:|---:|---:|---:|---:|---:|---:|"]
        details = []
        for w, name in WORKLOADS.items():
            print(f"profile.py: workload {w}", file=sys.stderr)
            inc, slf, calls = profile_peer(bench, w, n, "lmbatch_lmder_loop", tmp)
            total, parts = breakdown(inc, slf, calls)
            # cminpack's lmder: the C function's inclusive cost (the largest "lmder" entry).
            cm_inc = profile_peer(bench, w, n, "cminpack_lmder", tmp)[0]
            cm = max((v for k, v in cm_inc.items() if re.match(r"\?\?\?:lmder\b", k)), default=0)
            fl = find(profile_peer(bench, w, n, "floor", tmp)[0], "bench::run_floor(")
            en = 0  # batch::fit takes catalogue models only (not gauss2d)
            engine_parts = None
            if w != 4:
                e_inc, e_slf, e_calls = profile_peer(bench, w, n, "engine_lmder_1t", tmp)
                en = find(e_inc, "batch::fit(")
                engine_parts = engine_breakdown(e_inc, e_slf, e_calls)
            summary.append(
                f"| {name} | {total / n:,.0f} | {cm / n:,.0f} | "
                f"{total / cm if cm else 0:.3f} | {fl / n:,.0f} | {total / fl if fl else 0:.2f}x | "
                + (f"{en / n:,.0f} | {en / total:.3f} |" if en else "- | - |"))
            details.append(f"\n{name}, lmbatch lmder loop: {total / n:,.0f} instructions per fit\n")
            details.append("| part | instructions per fit | share |")
            details.append("|---|---:|---:|")
            for label, v in parts:
                if v < 0:
                    details.append(f"| {label} | ({-v / n:,.0f}) | ({-v / total:.1%}) |")
                else:
                    details.append(f"| {label} | {v / n:,.0f} | {v / total:.1%} |")
            if engine_parts:
                etotal, eparts = engine_parts
                details.append(f"\n{name}, the engine's solve in SIMD lanes (1 thread; valgrind "
                               "runs the AVX2 kernels, 4 lanes): "
                               f"{etotal / n:,.0f} instructions per fit\n")
                details.append("| part | instructions per fit | share |")
                details.append("|---|---:|---:|")
                for label, v in eparts:
                    details.append(f"| {label} | {v / n:,.0f} | {v / etotal:.1%} |")
        md += summary + details
        # lmbatch fit, HDF5 -> HDF5, on workloads 1 and 2.
        if os.path.exists(lmbatch):
            for w, spec in ((1, "gaussian+constant"), (2, "exponential*2+constant")):
                print(f"profile.py: lmbatch fit, workload {w}", file=sys.stderr)
                count = n * 4 if w == 1 else n * 2
                subprocess.run([bench, "generate", "--data-dir", tmp, "--problems", str(count),
                                "--workloads", str(w)], check=True, stdout=subprocess.DEVNULL)
                out = os.path.join(tmp, f"cg.fit{w}")
                run_callgrind([lmbatch, "--quiet", "fit", os.path.join(tmp, f"w{w}.h5"), "-o",
                               os.path.join(tmp, f"w{w}.fit.h5"), "--model", spec, "--x", "/x",
                               "--x0", "/x0", "--threads", "1", "--overwrite"], out)
                program, parts = fit_breakdown(costs(out)[0])
                solve = parts[0][1]
                md.append(f"\n`lmbatch fit` HDF5 -> HDF5, {WORKLOADS[w]}, {count} problems, "
                          f"1 thread: {program / count:,.0f} instructions per fit, "
                          f"{program / solve - 1:+.1%} over the solve alone\n")
                md.append("| part | instructions per fit | vs the solve |")
                md.append("|---|---:|---:|")
                for label, v in parts:
                    if v < 0:
                        md.append(f"| {label} | ({-v / count:,.0f}) | ({-v / solve:.1%}) |")
                    else:
                        md.append(f"| {label} | {v / count:,.0f} | {v / solve:.1%} |")
    text = "\n".join(md) + "\n"
    print(text)
    if a.out:
        with open(a.out, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
