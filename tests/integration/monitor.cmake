# Concurrent host sampling (controller/monitor.c). The unit test's fake hypervisor blocks a
# host's sample until the test releases it after monitor_tick returned: a tick that waited for
# it would hang, so the test gets a short TIMEOUT (it runs in a few seconds; its blocked calls
# give up after 30 s and fail the assertions first). The lab case is lab_libvirt_hang
# (libvirt.cmake).
if(TEST unit_test_monitor_parallel)
  set_tests_properties(unit_test_monitor_parallel PROPERTIES TIMEOUT 90)
endif()
