# ZigBee meters through socat ptys with meter-sim (3 meters; clean, 50% corruption, unplug).
joule_add_test(NAME integration_zigbee_pty
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_zigbee_pty.c
  LABELS integration TIMEOUT 180)
add_dependencies(integration_zigbee_pty meter-sim)

# joulectl meter decode: hex arguments, and a raw capture of meter-sim (AP=2, with faults).
joule_add_test(NAME joulectl_meter_decode LABELS unit
  COMMAND $<TARGET_FILE:joulectl> meter decode --protocol xbee2 7e 00 02 8a 7d 31 64)
set_tests_properties(joulectl_meter_decode PROPERTIES
  PASS_REGULAR_EXPRESSION "\"frame_type\" : 138, \"modem_status\" : 17, \"skip\" : true")
joule_add_test(NAME joulectl_meter_decode_sim LABELS unit
  COMMAND sh -c "$<TARGET_FILE:meter-sim> --protocol znp --meters 2 --count 3 --interval-ms 0 --corrupt 50 --faults checksum --seed 5 | $<TARGET_FILE:joulectl> meter decode --protocol znp --raw; test $? -eq 1")
set_tests_properties(joulectl_meter_decode_sim PROPERTIES
  PASS_REGULAR_EXPRESSION "\"command\" : \"incomingMsg\".*\"error\" : \"checksum\"|\"error\" : \"checksum\".*\"command\" : \"incomingMsg\"")
