# MongoDB store: documents and schemas (no server), then the driver, outage, lease and reports
# against a real FerretDB each test starts on its own free loopback port with a fresh data dir.
set(_store_support integration/store_support.c)
joule_add_test(NAME unit_store_docs SOURCES integration/test_store_docs.c ${_store_support}
  LABELS unit TIMEOUT 120)
joule_add_test(NAME integration_store_mongo SOURCES integration/test_store_mongo.c ${_store_support}
  LABELS integration TIMEOUT 300)
# FerretDB down for 60 s (JOULE_TEST_OUTAGE_S) while 5 s ticks of samples are written.
joule_add_test(NAME integration_store_outage SOURCES integration/test_store_outage.c
  ${_store_support} LABELS integration TIMEOUT 400)
joule_add_test(NAME integration_store_report SOURCES integration/test_store_report.c
  ${_store_support} LABELS integration TIMEOUT 300)
add_dependencies(integration_store_report joulectl)
