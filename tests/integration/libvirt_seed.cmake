# The seed paper's dry-run, consolidation and wake runs on the lab with ipmi_sim BMCs, meter-sim on a
# pty, FerretDB and jouled (tests/integration/lab_seed.sh). Shares the lab fixture of libvirt.cmake.
if(DEFINED JOULE_LAB_ENV)
  joule_add_test(NAME lab_seed_runs LABELS integration lab RESOURCE_LOCK lab TIMEOUT 900
    COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/lab_seed.sh $<TARGET_FILE:jouled>
            $<TARGET_FILE:joulectl> $<TARGET_FILE:meter-sim>
    ENV ${JOULE_LAB_ENV})
  set_tests_properties(lab_seed_runs PROPERTIES FIXTURES_REQUIRED lab)
endif()
