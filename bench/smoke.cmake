# ctest bench_smoke: the whole harness on a few problems (no timing checked).
# cmake -DBENCH=... -DLMBATCH=... -DDIR=... -P smoke.cmake
file(REMOVE_RECURSE ${DIR})
file(MAKE_DIRECTORY ${DIR})
execute_process(COMMAND ${BENCH} generate --data-dir ${DIR} --problems 40 RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lmbatch_bench generate failed: ${rc}")
endif()
execute_process(COMMAND ${BENCH} run --data-dir ${DIR} --reps 1 --lmbatch ${LMBATCH}
                        --json ${DIR}/smoke.json --md ${DIR}/smoke.md
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "lmbatch_bench run failed: ${rc}")
endif()
if(NOT EXISTS ${DIR}/smoke.json OR NOT EXISTS ${DIR}/smoke.md)
  message(FATAL_ERROR "lmbatch_bench run wrote no report")
endif()
