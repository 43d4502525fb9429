# joulectl plan --dry-run on the papers' snapshots: the real binary, its table and its JSON.
set(_scen ${CMAKE_SOURCE_DIR}/tests/scenarios)
joule_add_test(NAME joulectl_plan_table LABELS integration
  COMMAND $<TARGET_FILE:joulectl> plan --dry-run ${_scen}/seed003_balance.json)
set_tests_properties(joulectl_plan_table PROPERTIES PASS_REGULAR_EXPRESSION
  "#  ACTION   VM    FROM  TO  HOST  FROM %  TO %  GAIN W  REASON   DETAIL\n1  migrate  a-40  A     B   -       60.0  60.0     0.0  balance  d 40.0 = A 80.0% - B 40.0%")
joule_add_test(NAME joulectl_plan_json LABELS integration
  COMMAND $<TARGET_FILE:joulectl> plan --dry-run --json ${_scen}/seed003_consolidation.json)
set_tests_properties(joulectl_plan_json PROPERTIES PASS_REGULAR_EXPRESSION
  "\"kind\" : \"power_off\", \"reason\" : \"th2_consolidate\", \"vm\" : null, \"vm_name\" : null, \"from\" : null, \"to\" : null, \"host\" : \"B\"")
joule_add_test(NAME joulectl_plan_bands LABELS integration
  COMMAND $<TARGET_FILE:joulectl> plan --dry-run --balance bands ${_scen}/seed003_balance.json)
set_tests_properties(joulectl_plan_bands PROPERTIES PASS_REGULAR_EXPRESSION "migrate +a-40 +A +B .* bands ")
# From standard input, with the config's policy (bands) instead of the snapshot's defaults.
joule_add_test(NAME joulectl_plan_stdin_config LABELS integration
  COMMAND sh -c "exec \"$0\" plan --dry-run --config \"$1\" - < \"$2\""
    $<TARGET_FILE:joulectl> ${CMAKE_SOURCE_DIR}/tests/data/plan-bands.conf
    ${_scen}/seed003_balance.json)
set_tests_properties(joulectl_plan_stdin_config PROPERTIES PASS_REGULAR_EXPRESSION
  "dry run: <stdin>: 2 hosts \\(2 on\\), 8 VMs. policy threshold, balance bands.*migrate +a-40 +A +B .* bands ")
# (no ";" in PASS_REGULAR_EXPRESSION: CMake would split it into alternatives)
# A missing file is a clear error naming it.
joule_add_test(NAME joulectl_plan_missing_file LABELS integration
  COMMAND $<TARGET_FILE:joulectl> plan --dry-run ${_scen}/no-such.json)
set_tests_properties(joulectl_plan_missing_file PROPERTIES PASS_REGULAR_EXPRESSION
  "joulectl plan: [^\n]*/no-such.json: No such file or directory")
