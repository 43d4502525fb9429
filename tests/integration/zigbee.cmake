# ZigBee meters through socat ptys with meter-sim (3 meters; clean, 50% corruption, unplug).
joule_add_test(NAME integration_zigbee_pty
  SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/integration/test_zigbee_pty.c
  LABELS integration TIMEOUT 180)
add_dependencies(integration_zigbee_pty meter-sim)
