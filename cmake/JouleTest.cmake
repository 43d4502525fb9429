# joule_add_test(NAME name SOURCES ... [LIBS ...] [LABELS ...] [TIMEOUT s] [RESOURCE_LOCK r])
# A test that exits 77 is skipped, except under JOULE_CI=1 where tests/lib turn a skip into a
# failure themselves (so a missing component never turns CI green).
function(joule_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;RESOURCE_LOCK;COMMAND;ENV" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(T_SOURCES)
    add_executable(${T_NAME} ${T_SOURCES})
    target_link_libraries(${T_NAME} PRIVATE joule_test_support ${T_LIBS} joule_core PkgConfig::CMOCKA)
    target_include_directories(${T_NAME} PRIVATE ${CMAKE_SOURCE_DIR}/tests)
    set(_cmd ${T_NAME})
  endif()
  if(T_COMMAND)
    set(_cmd ${T_COMMAND})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${_cmd} WORKING_DIRECTORY ${CMAKE_CURRENT_BINARY_DIR})
  set(_env
    "ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:fast_unwind_on_malloc=0"
    "UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1"
    "LSAN_OPTIONS=suppressions=${CMAKE_SOURCE_DIR}/tests/lsan.supp:print_suppressions=0"
    "JOULE_SOURCE_DIR=${CMAKE_SOURCE_DIR}"
    "JOULE_BUILD_DIR=${CMAKE_BINARY_DIR}"
    ${T_ENV})
  set_tests_properties(${T_NAME} PROPERTIES TIMEOUT ${T_TIMEOUT}
    LABELS "${T_LABELS}" ENVIRONMENT "${_env}")
  # Under JOULE_CI=1 exit 77 is a plain failure: a missing component never turns CI green.
  if(NOT "$ENV{JOULE_CI}" STREQUAL "1")
    set_tests_properties(${T_NAME} PROPERTIES SKIP_RETURN_CODE 77)
  endif()
  if(T_RESOURCE_LOCK)
    set_tests_properties(${T_NAME} PROPERTIES RESOURCE_LOCK "${T_RESOURCE_LOCK}")
  endif()
endfunction()
