# Replay (issue 9): vm_samples from a FerretDB started by the test; the CLI's --json/--svg.
joule_add_test(NAME integration_replay_mongo
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_replay_mongo.c
  LABELS integration TIMEOUT 120)
joule_add_test(NAME integration_replay_cli LABELS integration
  COMMAND ${CMAKE_CURRENT_LIST_DIR}/replay_cli.sh $<TARGET_FILE:joulectl>)
