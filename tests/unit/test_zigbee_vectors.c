/* Every vector in tests/data/vectors.json (a copy of shared/vectors/zigbee) decodes to exactly
 * its `expect` object, or to its error: ZCL payloads through zcl_decode, XBee AP=1/AP=2 and ZNP
 * frames and malformed streams through the stream decoder (whole, in the vector's chunks, and one
 * byte per read), each frame turned into the same JSON objects joulectl prints. */
#include "support/test_support.h"

#include <bson/bson.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meter/zigbee.h"
#include "util/xalloc.h"

#define MAX_BYTES 4096

static bson_t *load_vectors(void)
{
    char *path = joule_test_source_path("tests/data/vectors.json");
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = xmalloc((size_t)n + 1);
    assert_int_equal(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    bson_error_t e;
    bson_t *doc = bson_new_from_json((const uint8_t *)text, n, &e);
    if (!doc)
        fail_msg("%s: %s", path, e.message);
    free(text);
    free(path);
    return doc;
}

/* ---- structural comparison: same keys, same values (numbers compared by value) */

static bool is_number(bson_type_t t)
{
    return t == BSON_TYPE_INT32 || t == BSON_TYPE_INT64 || t == BSON_TYPE_DOUBLE;
}

static bool values_equal(const bson_iter_t *a, const bson_iter_t *b, char *why, size_t cap,
                         const char *path);

static bool docs_equal(const bson_t *a, const bson_t *b, char *why, size_t cap, const char *path)
{
    if (bson_count_keys(a) != bson_count_keys(b)) {
        char *ja = bson_as_relaxed_extended_json(a, NULL);
        char *jb = bson_as_relaxed_extended_json(b, NULL);
        snprintf(why, cap, "%s: expected %s\n  got %s", path, ja, jb);
        bson_free(ja);
        bson_free(jb);
        return false;
    }
    bson_iter_t ia, ib;
    bson_iter_init(&ia, a);
    while (bson_iter_next(&ia)) {
        char sub[512];
        snprintf(sub, sizeof sub, "%s.%s", path, bson_iter_key(&ia));
        if (!bson_iter_init_find(&ib, b, bson_iter_key(&ia))) {
            snprintf(why, cap, "%s: missing", sub);
            return false;
        }
        if (!values_equal(&ia, &ib, why, cap, sub))
            return false;
    }
    return true;
}

static bool values_equal(const bson_iter_t *a, const bson_iter_t *b, char *why, size_t cap,
                         const char *path)
{
    bson_type_t ta = bson_iter_type(a), tb = bson_iter_type(b);
    if (is_number(ta) && is_number(tb)) {
        if (ta != BSON_TYPE_DOUBLE && tb != BSON_TYPE_DOUBLE) {
            if (bson_iter_as_int64(a) == bson_iter_as_int64(b))
                return true;
        } else if (bson_iter_as_double(a) == bson_iter_as_double(b)) {
            return true;
        }
        snprintf(why, cap, "%s: expected %" PRId64 ", got %" PRId64, path, bson_iter_as_int64(a),
                 bson_iter_as_int64(b));
        return false;
    }
    if (ta != tb) {
        snprintf(why, cap, "%s: expected type %d, got type %d", path, (int)ta, (int)tb);
        return false;
    }
    if (ta == BSON_TYPE_NULL)
        return true;
    if (ta == BSON_TYPE_BOOL) {
        if (bson_iter_bool(a) == bson_iter_bool(b))
            return true;
        snprintf(why, cap, "%s: expected %d, got %d", path, bson_iter_bool(a), bson_iter_bool(b));
        return false;
    }
    if (ta == BSON_TYPE_UTF8) {
        if (strcmp(bson_iter_utf8(a, NULL), bson_iter_utf8(b, NULL)) == 0)
            return true;
        snprintf(why, cap, "%s: expected \"%s\", got \"%s\"", path, bson_iter_utf8(a, NULL),
                 bson_iter_utf8(b, NULL));
        return false;
    }
    if (ta == BSON_TYPE_DOCUMENT || ta == BSON_TYPE_ARRAY) {
        const uint8_t *da, *db;
        uint32_t la, lb;
        if (ta == BSON_TYPE_DOCUMENT) {
            bson_iter_document(a, &la, &da);
            bson_iter_document(b, &lb, &db);
        } else {
            bson_iter_array(a, &la, &da);
            bson_iter_array(b, &lb, &db);
        }
        bson_t sa, sb;
        bson_init_static(&sa, da, la);
        bson_init_static(&sb, db, lb);
        return docs_equal(&sa, &sb, why, cap, path);
    }
    snprintf(why, cap, "%s: unexpected type %d", path, (int)ta);
    return false;
}

/* ---- decoding one vector */

static const char *get_str(const bson_t *v, const char *key)
{
    bson_iter_t it;
    if (bson_iter_init_find(&it, v, key) && BSON_ITER_HOLDS_UTF8(&it))
        return bson_iter_utf8(&it, NULL);
    return NULL;
}

static bool get_doc(const bson_t *v, const char *key, bson_t *out)
{
    bson_iter_t it;
    const uint8_t *d;
    uint32_t l;
    if (!bson_iter_init_find(&it, v, key))
        return false;
    if (BSON_ITER_HOLDS_DOCUMENT(&it))
        bson_iter_document(&it, &l, &d);
    else if (BSON_ITER_HOLDS_ARRAY(&it))
        bson_iter_array(&it, &l, &d);
    else
        return false;
    return bson_init_static(out, d, l);
}

static long parse_hex(const char *hex, uint8_t *out)
{
    long n = zb_hex_parse(hex, out, MAX_BYTES);
    assert_true(n >= 0);
    return n;
}

struct decoded {
    bson_t frames;    /* array of frame objects */
    bson_t rejected;  /* array of {offset, reason} */
    size_t n_frames, n_rejected;
    uint64_t garbage_before_first_frame;
    bool saw_frame;
};

static void decoded_init(struct decoded *d)
{
    bson_init(&d->frames);
    bson_init(&d->rejected);
    d->n_frames = d->n_rejected = 0;
    d->garbage_before_first_frame = 0;
    d->saw_frame = false;
}

static void decoded_free(struct decoded *d)
{
    bson_destroy(&d->frames);
    bson_destroy(&d->rejected);
}

static void drain(struct zb_stream *s, struct decoded *d)
{
    struct zb_event ev;
    while (zb_stream_next(s, &ev) == 1) {
        char key[16];
        const char *k;
        bson_t item;
        if (ev.kind == ZB_EVENT_FRAME) {
            if (!d->saw_frame)
                d->garbage_before_first_frame = s->counts.garbage_bytes;
            d->saw_frame = true;
            bson_uint32_to_string((uint32_t)d->n_frames++, &k, key, sizeof key);
            BSON_APPEND_DOCUMENT_BEGIN(&d->frames, k, &item);
            zb_frame_to_bson(s->proto, ev.data, ev.len, &item);
            bson_append_document_end(&d->frames, &item);
        } else {
            bson_uint32_to_string((uint32_t)d->n_rejected++, &k, key, sizeof key);
            BSON_APPEND_DOCUMENT_BEGIN(&d->rejected, k, &item);
            BSON_APPEND_INT64(&item, "offset", (int64_t)ev.offset);
            BSON_APPEND_UTF8(&item, "reason", zb_reject_name(ev.reason));
            bson_append_document_end(&d->rejected, &item);
        }
    }
}

static void feed_all(struct zb_stream *s, struct decoded *d, const uint8_t *p, size_t n)
{
    while (n > 0) {
        size_t took = zb_stream_feed(s, p, n);
        p += took;
        n -= took;
        drain(s, d);
    }
}

/* Decodes bytes for proto, cut into reads: whole (step 0), one byte per read (step 1), or the
 * vector's own chunks (chunks != NULL). */
static void decode_stream(enum zb_proto proto, const uint8_t *bytes, size_t n, size_t step,
                          const bson_t *chunks, struct decoded *d)
{
    struct zb_stream *s = xmalloc(sizeof *s);
    zb_stream_init(s, proto);
    decoded_init(d);
    if (chunks) {
        bson_iter_t it;
        bson_iter_init(&it, chunks);
        while (bson_iter_next(&it)) {
            uint8_t buf[MAX_BYTES];
            long m = parse_hex(bson_iter_utf8(&it, NULL), buf);
            feed_all(s, d, buf, (size_t)m);
        }
    } else if (step == 0) {
        feed_all(s, d, bytes, n);
    } else {
        for (size_t i = 0; i < n; i += step)
            feed_all(s, d, bytes + i, step < n - i ? step : n - i);
    }
    zb_stream_finish(s);
    drain(s, d);
    if (!d->saw_frame)
        d->garbage_before_first_frame = s->counts.garbage_bytes;
    free(s);
}

static bool proto_of(const char *name, enum zb_proto *p)
{
    if (strcmp(name, "xbee-ap1") == 0)
        *p = ZB_PROTO_XBEE1;
    else if (strcmp(name, "xbee-ap2") == 0)
        *p = ZB_PROTO_XBEE2;
    else if (strcmp(name, "znp") == 0)
        *p = ZB_PROTO_ZNP;
    else
        return false;
    return true;
}

static bool check_zcl(const bson_t *v, const bson_t *expect, const uint8_t *bytes, size_t n,
                      char *why, size_t cap)
{
    bson_iter_t it;
    assert_true(bson_iter_init_find(&it, expect, "cluster_id"));
    struct zcl_frame *z = xmalloc(sizeof *z);
    int rc = zcl_decode(bytes, n, (uint16_t)bson_iter_as_int64(&it), z);
    const char *err = get_str(v, "error");
    bool ok;
    if (err) {
        /* the only ZCL error vectors are whole-frame rejections at offset 0 */
        ok = rc < 0 && strcmp(zcl_error_name(rc), err) == 0;
        if (!ok)
            snprintf(why, cap, "expected error %s, got %s", err, zcl_error_name(rc));
    } else if (rc < 0) {
        snprintf(why, cap, "zcl_decode: %s", zcl_error_name(rc));
        ok = false;
    } else {
        bson_t got = BSON_INITIALIZER;
        zcl_frame_to_bson(z, bytes, &got);
        ok = docs_equal(expect, &got, why, cap, "expect");
        bson_destroy(&got);
    }
    free(z);
    return ok;
}

static bool check_single(enum zb_proto proto, const bson_t *expect, const uint8_t *bytes,
                         size_t n, size_t step, char *why, size_t cap)
{
    struct decoded d;
    decode_stream(proto, bytes, n, step, NULL, &d);
    bool ok = false;
    if (d.n_frames != 1 || d.n_rejected != 0) {
        snprintf(why, cap, "step %zu: %zu frames, %zu rejected (expected one frame)", step,
                 d.n_frames, d.n_rejected);
    } else {
        bson_t frame;
        bson_iter_t it;
        bson_iter_init_find(&it, &d.frames, "0");
        const uint8_t *p;
        uint32_t l;
        bson_iter_document(&it, &l, &p);
        bson_init_static(&frame, p, l);
        ok = docs_equal(expect, &frame, why, cap, "expect");
    }
    decoded_free(&d);
    return ok;
}

static bool check_error_kind(const char *err, const struct decoded *d, const bson_t *rejected,
                             char *why, size_t cap)
{
    if (!err)
        return true;
    if (strcmp(err, "garbage_prefix") == 0) {
        if (d->garbage_before_first_frame > 0)
            return true;
        snprintf(why, cap, "error garbage_prefix, but no garbage skipped before the first frame");
        return false;
    }
    bson_iter_t it;
    bson_iter_init(&it, rejected);
    while (bson_iter_next(&it)) {
        bson_iter_t r;
        if (bson_iter_recurse(&it, &r) && bson_iter_find(&r, "reason") &&
            strcmp(bson_iter_utf8(&r, NULL), err) == 0)
            return true;
    }
    snprintf(why, cap, "error %s does not appear among the rejections", err);
    return false;
}

static bool check_malformed(const bson_t *v, const bson_t *expect, const uint8_t *bytes,
                            size_t n, size_t step, bool use_chunks, char *why, size_t cap)
{
    const char *pname = get_str(v, "protocol");
    assert_non_null(pname);
    if (strcmp(pname, "zcl") == 0)
        return check_zcl(v, expect, bytes, n, why, cap);
    enum zb_proto proto = ZB_PROTO_XBEE1;
    assert_true(proto_of(pname, &proto));
    bson_t chunks, want_frames, want_rejected;
    bool has_chunks = use_chunks && get_doc(v, "chunks", &chunks);
    if (use_chunks && !has_chunks)
        return true;
    assert_true(get_doc(expect, "frames", &want_frames));
    assert_true(get_doc(expect, "rejected", &want_rejected));
    struct decoded d;
    decode_stream(proto, bytes, n, step, has_chunks ? &chunks : NULL, &d);
    char where[64];
    snprintf(where, sizeof where, "%s(step %zu)", has_chunks ? "chunks" : "frames", step);
    bool ok = docs_equal(&want_frames, &d.frames, why, cap, where) &&
              docs_equal(&want_rejected, &d.rejected, why, cap, "rejected") &&
              check_error_kind(get_str(v, "error"), &d, &d.rejected, why, cap);
    decoded_free(&d);
    return ok;
}

static void test_vectors(void **state)
{
    (void)state;
    bson_t *all = load_vectors();
    bson_iter_t it, vit;
    assert_true(bson_iter_init_find(&it, all, "count"));
    int64_t count = bson_iter_as_int64(&it);
    assert_true(bson_iter_init_find(&vit, all, "vectors"));
    bson_iter_t arr;
    assert_true(bson_iter_recurse(&vit, &arr));
    int64_t seen = 0;
    int failed = 0;
    while (bson_iter_next(&arr)) {
        const uint8_t *p;
        uint32_t l;
        bson_iter_document(&arr, &l, &p);
        bson_t v;
        bson_init_static(&v, p, l);
        const char *name = get_str(&v, "name"), *family = get_str(&v, "family");
        bson_t expect;
        assert_true(get_doc(&v, "expect", &expect));
        uint8_t bytes[MAX_BYTES];
        size_t n = (size_t)parse_hex(get_str(&v, "hex"), bytes);
        char why[2048] = "";
        bool ok;
        enum zb_proto proto = ZB_PROTO_XBEE1;
        if (strcmp(family, "zcl") == 0) {
            ok = check_zcl(&v, &expect, bytes, n, why, sizeof why);
        } else if (strcmp(family, "malformed") == 0) {
            ok = check_malformed(&v, &expect, bytes, n, 0, false, why, sizeof why) &&
                 check_malformed(&v, &expect, bytes, n, 1, false, why, sizeof why) &&
                 check_malformed(&v, &expect, bytes, n, 7, false, why, sizeof why) &&
                 check_malformed(&v, &expect, bytes, n, 0, true, why, sizeof why);
        } else if (proto_of(family, &proto)) {
            ok = check_single(proto, &expect, bytes, n, 0, why, sizeof why) &&
                 check_single(proto, &expect, bytes, n, 1, why, sizeof why);
        } else {
            snprintf(why, sizeof why, "unknown family %s", family);
            ok = false;
        }
        if (!ok) {
            failed++;
            print_error("FAIL %s: %s\n", name, why);
        }
        seen++;
    }
    bson_destroy(all);
    assert_int_equal(seen, count);
    assert_int_equal(failed, 0);
}

/* The encoders produce what the decoders read back, for every protocol. */
static void test_roundtrip_builders(void **state)
{
    (void)state;
    static const uint8_t zcl[] = { 0x18, 0x7e, 0x0a, 0x0b, 0x05, 0x29, 0x7e, 0x13 };
    uint8_t data[64], wire[160];
    size_t dl = xbee_explicit_tx(data, sizeof data, 0x7D, 0x0013a2004011137eULL, 0xFFFE, 1, 1,
                                 ZCL_CLUSTER_ELECTRICAL, ZCL_PROFILE_HA, zcl, sizeof zcl);
    data[0] = XBEE_RX_EXPLICIT; /* reuse the layout check: TX frames are host->module */
    for (int mode = 1; mode <= 2; mode++) {
        size_t wl = xbee_frame_build(wire, sizeof wire, mode, data, dl);
        assert_true(wl > 0);
        struct zb_stream *s = xmalloc(sizeof *s);
        zb_stream_init(s, mode == 1 ? ZB_PROTO_XBEE1 : ZB_PROTO_XBEE2);
        assert_int_equal(zb_stream_feed(s, wire, wl), wl);
        struct zb_event ev;
        assert_int_equal(zb_stream_next(s, &ev), 1);
        assert_int_equal(ev.kind, ZB_EVENT_FRAME);
        assert_int_equal(ev.len, dl);
        assert_memory_equal(ev.data, data, dl);
        free(s);
    }
    uint8_t mt[64];
    size_t ml = znp_frame_build(mt, sizeof mt, 0x45, 0xC0, (const uint8_t[]){ 9 }, 1);
    assert_int_equal(ml, 6);
    static const uint8_t want[] = { 0xfe, 0x01, 0x45, 0xc0, 0x09, 0x8d };
    assert_memory_equal(mt, want, sizeof want);
    uint8_t rd[16];
    assert_int_equal(zcl_build_read(rd, sizeof rd, 7, (const uint16_t[]){ 0x0604, 0x0605 }, 2), 7);
    static const uint8_t want_rd[] = { 0x10, 0x07, 0x00, 0x04, 0x06, 0x05, 0x06 };
    assert_memory_equal(rd, want_rd, sizeof want_rd);
}

/* A frame longer than the stream buffer's free space, fed in one call, still decodes. */
static void test_feed_more_than_buffer(void **state)
{
    (void)state;
    static uint8_t bytes[3 * ZB_STREAM_BUF];
    uint8_t frame[] = { 0x7e, 0x00, 0x02, 0x8a, 0x06, 0x6f };
    size_t n = 0;
    while (n + sizeof frame <= sizeof bytes) {
        memcpy(bytes + n, frame, sizeof frame);
        n += sizeof frame;
    }
    struct decoded d;
    decode_stream(ZB_PROTO_XBEE1, bytes, n, 0, NULL, &d);
    assert_int_equal(d.n_frames, n / sizeof frame);
    assert_int_equal(d.n_rejected, 0);
    decoded_free(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_roundtrip_builders),
        cmocka_unit_test(test_feed_more_than_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
