/* ga_safetensors.c - parse and validate a safetensors header.
 *
 * Rules follow the reference reader (huggingface/safetensors, tensor.rs):
 *   - header length capped at 100 MB; the header must be valid UTF-8 JSON;
 *   - each tensor entry needs dtype, shape and data_offsets; unknown extra
 *     fields in an entry are ignored (the reference's serde struct does not
 *     deny unknown fields);
 *   - end - begin == prod(shape) * itemsize, checked for overflow;
 *   - sorted by offset, the tensors must tile the data section exactly: no
 *     overlap, no hole, no trailing bytes (reference: InvalidOffset when
 *     begin != previous end, MetadataIncompleteBuffer when the last end is
 *     not the end of the file).
 * Sub-byte dtypes (F4, F6_*) are reported as unknown.
 * Stricter than the reference: duplicate keys are rejected (by ga_json).
 */
#include "ga_safetensors.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const char *name;
    size_t size;
} dtype_info;

/* Indexed by ga_st_dtype. */
static const dtype_info DTYPES[GA_ST_DTYPE_COUNT] = {
    [GA_ST_BOOL] = {"BOOL", 1},       [GA_ST_U8] = {"U8", 1},
    [GA_ST_I8] = {"I8", 1},           [GA_ST_F8_E5M2] = {"F8_E5M2", 1},
    [GA_ST_F8_E4M3] = {"F8_E4M3", 1}, [GA_ST_I16] = {"I16", 2},
    [GA_ST_U16] = {"U16", 2},         [GA_ST_F16] = {"F16", 2},
    [GA_ST_BF16] = {"BF16", 2},       [GA_ST_I32] = {"I32", 4},
    [GA_ST_U32] = {"U32", 4},         [GA_ST_F32] = {"F32", 4},
    [GA_ST_F64] = {"F64", 8},         [GA_ST_I64] = {"I64", 8},
    [GA_ST_U64] = {"U64", 8},         [GA_ST_F8_E8M0] = {"F8_E8M0", 1},
    [GA_ST_C64] = {"C64", 8},
};

int ga_st_dtype_from_name(const char *name, size_t len) {
    for (int i = 0; i < GA_ST_DTYPE_COUNT; i++)
        if (strlen(DTYPES[i].name) == len && memcmp(DTYPES[i].name, name, len) == 0) return i;
    return -1;
}

const char *ga_st_dtype_name(int dtype) {
    return dtype >= 0 && dtype < GA_ST_DTYPE_COUNT ? DTYPES[dtype].name : "?";
}

size_t ga_st_dtype_size(int dtype) {
    return dtype >= 0 && dtype < GA_ST_DTYPE_COUNT ? DTYPES[dtype].size : 0;
}

static uint64_t read_u64_le(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

/* Reads an unsigned integer JSON value; describes the problem otherwise. */
static ga_status read_uint(const ga_json_value *v, const ga_st_tensor *t, const char *what,
                           size_t index, uint64_t *out, ga_error *err) {
    if (v->kind == GA_JSON_NUMBER && v->is_uint) {
        *out = v->u64;
        return GA_OK;
    }
    if (v->kind == GA_JSON_NUMBER)
        return ga_fail(err, GA_ERR_FORMAT,
                       "tensor \"%.200s\": %s[%zu] must be a non-negative integer below 2**64, got %.40s",
                       t->name, what, index, v->str);
    return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": %s[%zu] must be an integer, got %s",
                   t->name, what, index, ga_json_kind_name(v->kind));
}

/* "[2, 3]" into buf (cut with "..." when long); returns buf. */
static const char *format_shape(const ga_json_doc *doc, const ga_json_value *shape, char *buf,
                                size_t n) {
    size_t used = (size_t)snprintf(buf, n, "[");
    for (const ga_json_value *d = ga_json_first(doc, shape); d; d = ga_json_next(doc, d)) {
        if (used + 24 > n) { snprintf(buf + used, n - used, "...]"); return buf; }
        used += (size_t)snprintf(buf + used, n - used, "%s%llu", d == ga_json_first(doc, shape) ? "" : ", ",
                                 (unsigned long long)d->u64);
    }
    snprintf(buf + used, n - used, "]");
    return buf;
}

/* Validates one tensor entry (everything but its place among the others). */
static ga_status parse_tensor(const ga_json_doc *doc, const ga_json_value *entry,
                              uint64_t data_size, ga_st_tensor *t, ga_error *err) {
    t->name = entry->key;
    t->name_len = entry->key_len;
    if (entry->kind != GA_JSON_OBJECT)
        return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": entry is %s, not an object",
                       t->name, ga_json_kind_name(entry->kind));
    const ga_json_value *dtype = ga_json_get(doc, entry, "dtype");
    const ga_json_value *shape = ga_json_get(doc, entry, "shape");
    const ga_json_value *offsets = ga_json_get(doc, entry, "data_offsets");
    if (!dtype || !shape || !offsets)
        return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": missing \"%s\"", t->name,
                       !dtype ? "dtype" : !shape ? "shape" : "data_offsets");
    if (dtype->kind != GA_JSON_STRING)
        return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": dtype is %s, not a string",
                       t->name, ga_json_kind_name(dtype->kind));
    t->dtype = ga_st_dtype_from_name(dtype->str, dtype->len);
    if (t->dtype < 0)
        return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": unknown dtype \"%.40s\"", t->name,
                       dtype->str);
    if (shape->kind != GA_JSON_ARRAY)
        return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": shape is %s, not an array",
                       t->name, ga_json_kind_name(shape->kind));
    if (offsets->kind != GA_JSON_ARRAY || offsets->count != 2)
        return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": data_offsets must be [begin, end]",
                       t->name);
    t->shape = shape;

    uint64_t nbytes = ga_st_dtype_size(t->dtype);
    int overflow = 0;
    size_t i = 0;
    for (const ga_json_value *d = ga_json_first(doc, shape); d; d = ga_json_next(doc, d), i++) {
        uint64_t dim = 0;
        ga_status st = read_uint(d, t, "shape", i, &dim, err);
        if (st) return st;
        overflow |= ga_mul_overflow(nbytes, dim, &nbytes);
    }
    /* A zero dim makes the true product 0, but an earlier overflow is still
     * a hostile shape: report it rather than accept it. */
    if (overflow)
        return ga_fail(err, GA_ERR_FORMAT, "tensor \"%.200s\": shape product overflows 64 bits",
                       t->name);

    const ga_json_value *b = ga_json_first(doc, offsets), *e = ga_json_next(doc, b);
    ga_status st = read_uint(b, t, "data_offsets", 0, &t->begin, err);
    if (!st) st = read_uint(e, t, "data_offsets", 1, &t->end, err);
    if (st) return st;
    if (t->end < t->begin)
        return ga_fail(err, GA_ERR_FORMAT,
                       "tensor \"%.200s\": reversed data_offsets (begin %llu > end %llu)", t->name,
                       (unsigned long long)t->begin, (unsigned long long)t->end);
    if (t->end > data_size)
        return ga_fail(err, GA_ERR_FORMAT,
                       "tensor \"%.200s\": data_offsets end %llu past end of data section (%llu bytes)",
                       t->name, (unsigned long long)t->end, (unsigned long long)data_size);
    char dims[96];
    if (t->end - t->begin != nbytes)
        return ga_fail(err, GA_ERR_FORMAT,
                       "tensor \"%.200s\": shape/size mismatch: shape %s of %s needs %llu bytes, "
                       "data_offsets span %llu",
                       t->name, format_shape(doc, shape, dims, sizeof dims), ga_st_dtype_name(t->dtype),
                       (unsigned long long)nbytes, (unsigned long long)(t->end - t->begin));
    return GA_OK;
}

static ga_status parse_metadata(const ga_json_doc *doc, const ga_json_value *meta, ga_error *err) {
    if (meta->kind != GA_JSON_OBJECT)
        return ga_fail(err, GA_ERR_FORMAT, "__metadata__ is %s, not an object",
                       ga_json_kind_name(meta->kind));
    for (const ga_json_value *m = ga_json_first(doc, meta); m; m = ga_json_next(doc, m))
        if (m->kind != GA_JSON_STRING)
            return ga_fail(err, GA_ERR_FORMAT, "__metadata__[\"%.200s\"] is %s, not a string",
                           m->key, ga_json_kind_name(m->kind));
    return GA_OK;
}

static int compare_ranges(const void *a, const void *b) {
    const ga_st_tensor *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    if (x->end != y->end) return x->end < y->end ? -1 : 1;
    return 0;
}

/* Sorted by offset, each tensor must start where the previous one ended and
 * the last must end at the end of the file (see the file comment). */
static ga_status check_tiling(ga_st_tensor *ts, size_t n, uint64_t data_size, ga_error *err) {
    qsort(ts, n, sizeof *ts, compare_ranges);
    uint64_t pos = 0;
    for (size_t i = 0; i < n; i++) {
        if (ts[i].begin < pos)
            return ga_fail(err, GA_ERR_FORMAT,
                           "tensors \"%.150s\" and \"%.150s\" overlap (bytes %llu..%llu)",
                           ts[i - 1].name, ts[i].name, (unsigned long long)ts[i].begin,
                           (unsigned long long)pos);
        if (ts[i].begin > pos)
            return ga_fail(err, GA_ERR_FORMAT,
                           "hole in data section: bytes %llu..%llu before tensor \"%.200s\" "
                           "belong to no tensor",
                           (unsigned long long)pos, (unsigned long long)ts[i].begin, ts[i].name);
        pos = ts[i].end;
    }
    if (pos != data_size)
        return ga_fail(err, GA_ERR_FORMAT,
                       "data section has %llu trailing bytes that belong to no tensor "
                       "(tensors end at %llu of %llu)",
                       (unsigned long long)(data_size - pos), (unsigned long long)pos,
                       (unsigned long long)data_size);
    return GA_OK;
}

static ga_status parse_header(ga_st_file *f, uint64_t data_size, ga_error *err) {
    const ga_json_value *root = ga_json_root(&f->doc);
    if (root->kind != GA_JSON_OBJECT)
        return ga_fail(err, GA_ERR_FORMAT, "header is not a JSON object (it is %s)",
                       ga_json_kind_name(root->kind));
    f->tensors = calloc(root->count ? root->count : 1, sizeof *f->tensors);
    if (!f->tensors) return ga_fail(err, GA_ERR_NOMEM, "out of memory for %u tensors", (unsigned)root->count);
    for (const ga_json_value *m = ga_json_first(&f->doc, root); m; m = ga_json_next(&f->doc, m)) {
        ga_status st;
        if (m->key_len == 12 && memcmp(m->key, "__metadata__", 12) == 0) {
            if (m->kind == GA_JSON_NULL) continue;  /* reference: Option, null = absent */
            if ((st = parse_metadata(&f->doc, m, err))) return st;
            f->metadata = m;
            continue;
        }
        if ((st = parse_tensor(&f->doc, m, data_size, &f->tensors[f->n_tensors], err))) return st;
        f->n_tensors++;
    }
    return check_tiling(f->tensors, f->n_tensors, data_size, err);
}

ga_status ga_st_parse(ga_st_file *f, const uint8_t *data, uint64_t size, ga_error *err) {
    memset(f, 0, sizeof *f);
    if (size < 8)
        return ga_fail(err, GA_ERR_FORMAT, "file too small for a safetensors header (%llu bytes)",
                       (unsigned long long)size);
    uint64_t n = read_u64_le(data);
    if (n > size - 8)
        return ga_fail(err, GA_ERR_FORMAT, "header length %llu past end of file (size %llu)",
                       (unsigned long long)n, (unsigned long long)size);
    if (n > GA_ST_MAX_HEADER)
        return ga_fail(err, GA_ERR_FORMAT, "header length %llu exceeds the %llu-byte limit",
                       (unsigned long long)n, GA_ST_MAX_HEADER);
    /* The reference decodes the whole header as UTF-8 before parsing it. */
    size_t bad = ga_json_utf8_invalid_at((const char *)data + 8, (size_t)n);
    if (bad != n)
        return ga_fail(err, GA_ERR_FORMAT, "header is not valid UTF-8 (byte 0x%02x at header byte %zu)",
                       data[8 + bad], bad);
    f->header_len = n;
    f->data_start = 8 + n;
    ga_status st = ga_json_parse(&f->doc, (const char *)data + 8, (size_t)n, err);
    if (st) return st;
    if ((st = parse_header(f, size - f->data_start, err))) ga_st_free(f);
    return st;
}

void ga_st_free(ga_st_file *f) {
    ga_json_free(&f->doc);
    free(f->tensors);
    memset(f, 0, sizeof *f);
}
