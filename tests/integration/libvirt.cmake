# The two-host libvirt lab (tools/lab) and the tests that use it: driver, monitor, executor.
# One lab per ctest run: lab_up / lab_down are fixtures; the cases share it (RESOURCE_LOCK lab)
# and each starts and destroys its own guests. The lab directory and namespace prefix derive
# from the build directory, so two build trees never share a lab.
string(MD5 _lab_hash "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${_lab_hash}" 0 6 _lab_hash)
set(JOULE_LAB_ENV "JOULE_LAB_DIR=/tmp/joule-lab-${_lab_hash}" "JOULE_LAB_PREFIX=jl${_lab_hash}")

add_executable(lab_libvirt ${CMAKE_CURRENT_LIST_DIR}/lab_libvirt.c)
target_link_libraries(lab_libvirt PRIVATE joule_test_support joule_core PkgConfig::LIBVIRT m)
target_include_directories(lab_libvirt PRIVATE ${CMAKE_SOURCE_DIR}/tests)

joule_add_test(NAME lab_up COMMAND ${CMAKE_CURRENT_LIST_DIR}/lab_fixture.sh up
  LABELS integration lab RESOURCE_LOCK lab TIMEOUT 300 ENV ${JOULE_LAB_ENV})
joule_add_test(NAME lab_down COMMAND ${CMAKE_CURRENT_LIST_DIR}/lab_fixture.sh down
  LABELS integration lab RESOURCE_LOCK lab TIMEOUT 120 ENV ${JOULE_LAB_ENV})
set_tests_properties(lab_up PROPERTIES FIXTURES_SETUP lab)
set_tests_properties(lab_down PROPERTIES FIXTURES_CLEANUP lab)

foreach(_case cpu balance swap restart hang refuse timeout)
  joule_add_test(NAME lab_libvirt_${_case} COMMAND lab_libvirt ${_case}
    LABELS integration lab RESOURCE_LOCK lab TIMEOUT 400 ENV ${JOULE_LAB_ENV})
  set_tests_properties(lab_libvirt_${_case} PROPERTIES FIXTURES_REQUIRED lab)
endforeach()
