# Snapshot JSON parser + policy on whatever parses: corpus replay plus seeded mutations.
joule_add_test(NAME fuzz_snapshot_json LABELS unit
  SOURCES ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_snapshot_json.c
  COMMAND fuzz_snapshot_json ${CMAKE_SOURCE_DIR}/tests/fuzz/corpus/snapshot_json)
