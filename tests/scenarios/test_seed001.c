/* The seed paper 001 tables (three hosts, light/moderate/heavy bands). Host loads are the
 * paper's measured values, VM loads in percent of the host; the first move of each table is
 * asserted, as written in the paper. */
#include "scenario_util.h"

/* Table 1: threshold 43.64, band 33.64..53.64; N3 heavy, N2 light; vector 22.55 -> N3V3. */
static void table1_moves_n3v3_to_n2(void **state)
{
    struct snapshot_doc *d = scenario_load("seed001_table1.json");
    assert_int_equal(d->cfg.balance, POLICY_BALANCE_BANDS);
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_true(p.n >= 1);
    assert_migrate(d, &p.actions[0], "N3V3", "N3", "N2", PLAN_REASON_BANDS);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Table 2: threshold 43.05, band 33.05..53.05; N2 heavy, N3 light; vector 14.36 -> N2V2. */
static void table2_moves_n2v2_to_n3(void **state)
{
    struct snapshot_doc *d = scenario_load("seed001_table2.json");
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_true(p.n >= 1);
    assert_migrate(d, &p.actions[0], "N2V2", "N2", "N3", PLAN_REASON_BANDS);
    plan_free(&p);
    snapshot_doc_free(d);
}

/* Every move of the plan stays a band move and the plan ends (move cap or all moderate). */
static void table1_plan_is_bands_only(void **state)
{
    struct snapshot_doc *d = scenario_load("seed001_table1.json");
    struct plan p;
    scenario_run(d, &d->cfg, &p);
    assert_true(p.n <= d->cfg.max_moves_per_round);
    for (size_t i = 0; i < p.n; i++)
        assert_int_equal(p.actions[i].reason, PLAN_REASON_BANDS);
    plan_free(&p);
    snapshot_doc_free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table1_moves_n3v3_to_n2),
        cmocka_unit_test(table2_moves_n2v2_to_n3),
        cmocka_unit_test(table1_plan_is_bands_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
