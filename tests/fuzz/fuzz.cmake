# Fuzz targets for the ZigBee decoders (STYLE.md §11): XBee streams, ZNP streams, ZCL payloads.
# - Always: fuzz_replay_<t>, a plain executable (any compiler) replaying tests/fuzz/corpus/<t>,
#   registered as a ctest.
# - Always: fuzz_short, tests/fuzz/run_fuzz.sh: builds the targets with clang + libFuzzer and
#   runs each for JOULE_FUZZ_SECONDS (default 5) on a copy of the corpus.
# - -DJOULE_FUZZ=ON (configure with CC=clang): fuzz_<t> libFuzzer binaries for long runs:
#   mkdir -p /tmp/cx && build/tests/fuzz_xbee -max_total_time=3600 /tmp/cx tests/fuzz/corpus/xbee
#   (libFuzzer adds new inputs to the first directory: keep it out of the source tree)
option(JOULE_FUZZ "build libFuzzer targets (needs clang)" OFF)
set(_fuzz_dir ${CMAKE_CURRENT_SOURCE_DIR}/fuzz)
set(_zb_decoders
  ${CMAKE_SOURCE_DIR}/drivers/meter/zcl.c ${CMAKE_SOURCE_DIR}/drivers/meter/xbee.c
  ${CMAKE_SOURCE_DIR}/drivers/meter/znp.c ${CMAKE_SOURCE_DIR}/drivers/meter/zb_stream.c
  ${CMAKE_SOURCE_DIR}/drivers/meter/zigbee_json.c)
foreach(t xbee znp zcl)
  add_executable(fuzz_replay_${t} ${_fuzz_dir}/fuzz_${t}.c ${_fuzz_dir}/fuzz_replay.c)
  target_include_directories(fuzz_replay_${t} PRIVATE ${_fuzz_dir} ${JOULE_INCLUDES})
  target_link_libraries(fuzz_replay_${t} PRIVATE joule_drivers)
  joule_add_test(NAME fuzz_replay_${t} LABELS unit
    COMMAND $<TARGET_FILE:fuzz_replay_${t}> ${_fuzz_dir}/corpus/${t})
  if(JOULE_FUZZ)
    if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "JOULE_FUZZ=ON needs clang: configure with CC=clang")
    endif()
    add_executable(fuzz_${t} ${_fuzz_dir}/fuzz_${t}.c ${_zb_decoders})
    target_include_directories(fuzz_${t} PRIVATE ${_fuzz_dir} ${JOULE_INCLUDES})
    target_compile_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(fuzz_${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_libraries(fuzz_${t} PRIVATE PkgConfig::BSON m)
  endif()
endforeach()
joule_add_test(NAME fuzz_short LABELS unit TIMEOUT 300
  COMMAND ${_fuzz_dir}/run_fuzz.sh)
