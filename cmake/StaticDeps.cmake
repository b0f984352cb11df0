# lmbatch_link_static_where_asked: a dependency's static archives for the
# executables that ask for them, its shared library for every other target.
#
# An executable asks by setting the target property LMBATCH_STATIC_DEPS (the
# lmbatch command does, apps/CMakeLists.txt); libraries that live in other
# processes (the Python module, beside h5py) and the tests keep the shared
# libraries. Why static at all: a shared library loads its own dependencies at
# every start of lmbatch; io/CMakeLists.txt and report/CMakeLists.txt give the
# measurements per dependency.
#
#   lmbatch_link_static_where_asked(
#     CONSUMER <target>        the library that uses the dependency
#     NAME <name>              names the interface target lmbatch_<name>_static
#     SHARED <target>          what CONSUMER links otherwise
#     ARCHIVES <paths...>      the static archives; empty: the shared library only
#     LIBRARIES <libs...>      what the archives need besides (zlib, ...); threads
#                              and libm, which every archive here needs, come anyway
#     INCLUDES <dirs...>       DEFINITIONS <defs...>
#     CHECK_SOURCE <C code>)   a program that must link against the archives
#
# Where LMBATCH_STATIC_DEPS (the option) is OFF, ARCHIVES is empty or the check
# program does not link, CONSUMER links SHARED for every target and a status
# line says so. The check is cached as LMBATCH_<NAME>_ARCHIVES_LINK.
include(CheckCSourceCompiles)
include(CMakePushCheckState)
find_package(Threads REQUIRED)

function(lmbatch_link_static_where_asked)
  cmake_parse_arguments(PARSE_ARGV 0 arg "" "CONSUMER;NAME;SHARED;CHECK_SOURCE"
                        "ARCHIVES;LIBRARIES;INCLUDES;DEFINITIONS")
  list(APPEND arg_LIBRARIES Threads::Threads m)
  set(usable FALSE)
  if(LMBATCH_STATIC_DEPS AND arg_ARCHIVES)
    string(TOUPPER "LMBATCH_${arg_NAME}_ARCHIVES_LINK" check)
    cmake_push_check_state(RESET)
    set(CMAKE_REQUIRED_INCLUDES ${arg_INCLUDES})
    set(CMAKE_REQUIRED_DEFINITIONS ${arg_DEFINITIONS})
    set(CMAKE_REQUIRED_LIBRARIES ${arg_ARCHIVES} ${arg_LIBRARIES})
    set(CMAKE_REQUIRED_QUIET ON)
    check_c_source_compiles("${arg_CHECK_SOURCE}" ${check})
    cmake_pop_check_state()
    set(usable ${${check}})
  endif()
  if(NOT usable)
    if(LMBATCH_STATIC_DEPS)
      message(STATUS "${arg_NAME}: no static archives that link here; lmbatch links the shared library")
    endif()
    target_link_libraries(${arg_CONSUMER} PUBLIC ${arg_SHARED})
    return()
  endif()
  set(static lmbatch_${arg_NAME}_static)
  add_library(${static} INTERFACE)
  target_include_directories(${static} INTERFACE ${arg_INCLUDES})
  target_compile_definitions(${static} INTERFACE ${arg_DEFINITIONS})
  target_link_libraries(${static} INTERFACE ${arg_ARCHIVES} ${arg_LIBRARIES})
  target_link_libraries(${arg_CONSUMER} PUBLIC
    "$<IF:$<BOOL:$<TARGET_PROPERTY:LMBATCH_STATIC_DEPS>>,${static},${arg_SHARED}>")
endfunction()
