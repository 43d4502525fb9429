# Power control (issue #7): ipmi_sim BMCs on loopback, WoL into a network namespace.
joule_add_test(NAME integration_power_ipmi LABELS integration TIMEOUT 180
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_power_ipmi.c
          ${CMAKE_CURRENT_SOURCE_DIR}/integration/ipmi_sim_lab.c
  LIBS PkgConfig::FREEIPMI)
target_include_directories(integration_power_ipmi PRIVATE ${CMAKE_CURRENT_SOURCE_DIR}/integration)
add_dependencies(integration_power_ipmi joulectl)
joule_add_test(NAME integration_power_wol LABELS integration TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_power_wol.c)
joule_add_test(NAME integration_power_exec LABELS integration TIMEOUT 60
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_power_exec.c)
