# jouled as a process: API, /metrics through promtool, token, reloads, SIGTERM (tests/integration/jouled_process.sh).
joule_add_test(NAME integration_jouled_process LABELS integration TIMEOUT 180
  COMMAND ${CMAKE_SOURCE_DIR}/tests/integration/jouled_process.sh $<TARGET_FILE:jouled> $<TARGET_FILE:joulectl>)
