/* ga_gguf.c - GGUF header, metadata and tensor-info parsing (see ga_gguf.h).
 *
 * Rules follow ggml's gguf.cpp: versions 2-3, alignment a power of 2 given
 * as a UINT32, unique keys and names, n_dims <= 4, ne[0] a multiple of the
 * block size, tensors laid out in declaration order, each padded to the
 * alignment.  Stricter than ggml: names must be UTF-8, zero dimensions are
 * rejected (ggml's own element-count check divides by them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ga_gguf.h"
#include "ga_gguf_cursor.h"
#include "ga_name_set.h"
#include "ga_types.h"
#include "ga_utf8.h"

#define MIN_KV_BYTES 13      /* empty key (8) + value type (4) + 1-byte value */
#define MIN_TENSOR_BYTES 24  /* empty name (8) + n_dims (4) + type (4) + offset (8) */
#define MIN_ARRAY_BYTES 12   /* element type (4) + count (8) */
#define SHOWN 80             /* at most this many bytes of a name in a message */

static const char *const VTYPE_NAMES[GA_GGUF_VTYPE_COUNT] = {
    "UINT8", "INT8", "UINT16", "INT16", "UINT32", "INT32", "FLOAT32",
    "BOOL", "STRING", "ARRAY", "UINT64", "INT64", "FLOAT64",
};
static const uint8_t VTYPE_SIZES[GA_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *ga_gguf_vtype_name(uint32_t type) {
    return type < GA_GGUF_VTYPE_COUNT ? VTYPE_NAMES[type] : NULL;
}

uint64_t ga_gguf_vtype_size(uint32_t type) {
    return type < GA_GGUF_VTYPE_COUNT ? VTYPE_SIZES[type] : 0;
}

/* Grows *items (of elem bytes each) so index n fits: capacity follows what
 * has actually been parsed, never the count the file claims. */
static ga_status reserve(void **items, uint64_t *cap, uint64_t n, size_t elem, ga_error *err) {
    if (n < *cap) return GA_OK;
    uint64_t new_cap = *cap ? *cap * 2 : 64;
    void *p = realloc(*items, new_cap * elem);
    if (!p) return ga_fail(err, GA_ERR_NOMEM, "out of memory reading GGUF header");
    *items = p;
    *cap = new_cap;
    return GA_OK;
}

/* ---------------------------------------------------------------- header */

static ga_status check_magic(const uint8_t *d, uint64_t size, ga_error *err) {
    if (size == 0) return ga_fail(err, GA_ERR_FORMAT, "not a GGUF file: the file is empty");
    if (size >= 4 && memcmp(d, "GGUF", 4) == 0) return GA_OK;
    uint64_t i = 0;
    while (i < size && i < 64 && (d[i] == ' ' || d[i] == '\t' || d[i] == '\r' || d[i] == '\n')) i++;
    if (i < size && d[i] == '<')
        return ga_fail(err, GA_ERR_FORMAT, "not a GGUF file: it starts with '<' and looks like "
                       "an HTML page (a failed download or an error page?)");
    if (size < 4 && memcmp(d, "GGUF", size) == 0)
        return ga_fail(err, GA_ERR_FORMAT, "truncated at offset 0 reading magic (the file is %llu bytes)",
                       (unsigned long long)size);
    char shown[32];
    int printable = size >= 4;
    for (int k = 0; k < 4 && k < (int)size; k++) printable &= d[k] >= 0x20 && d[k] < 0x7f;
    if (printable)
        snprintf(shown, sizeof shown, "'%c%c%c%c'", d[0], d[1], d[2], d[3]);
    else {
        int n = 0;
        for (int k = 0; k < 4 && k < (int)size; k++)
            n += snprintf(shown + n, sizeof shown - n, "%s%02x", k ? " " : "", d[k]);
    }
    return ga_fail(err, GA_ERR_FORMAT, "not a GGUF file: magic is %s, expected 'GGUF' (47 47 55 46)", shown);
}

static ga_status check_version(uint32_t v, ga_error *err) {
    if (v == 2 || v == 3) return GA_OK;
    uint32_t swapped = __builtin_bswap32(v);
    if (v != 0 && (v & 0xFFFF) == 0)
        return ga_fail(err, GA_ERR_FORMAT, "this GGUF file is big-endian (version field reads "
                       "0x%08x, version %u byte-swapped); only little-endian GGUF files are supported",
                       v, swapped);
    if (v == 1)
        return ga_fail(err, GA_ERR_FORMAT, "unsupported GGUF version 1 (GGUFv1 is obsolete; "
                       "re-convert the model with a current llama.cpp)");
    return ga_fail(err, GA_ERR_FORMAT, "unsupported GGUF version %u (versions 2 and 3 are supported)", v);
}

/* Rejects a claimed count before anything is sized by it. */
static ga_status check_count(const ga_gguf_cursor *c, uint64_t n, uint64_t min_bytes, const char *what) {
    uint64_t most = ga_gguf_left(c) / min_bytes;
    if (n <= most) return GA_OK;
    return ga_fail(c->err, GA_ERR_FORMAT, "absurd %s count %llu: the remaining %llu bytes of the file "
                   "can hold at most %llu", what, (unsigned long long)n,
                   (unsigned long long)ga_gguf_left(c), (unsigned long long)most);
}

/* ---------------------------------------------------------------- metadata */

/* Checks and steps over one value of the given type; what names it in messages. */
static ga_status skip_value(ga_gguf_cursor *c, uint32_t type, int depth, const char *what) {
    uint64_t size = ga_gguf_vtype_size(type), off, len;
    if (size) return ga_gguf_skip(c, size, what);
    if (type == GA_GGUF_STRING) return ga_gguf_read_str(c, &off, &len, what);
    if (type != GA_GGUF_ARRAY)
        return ga_fail(c->err, GA_ERR_FORMAT, "%s has unknown value type %u", what, type);
    if (depth >= GA_GGUF_MAX_DEPTH)
        return ga_fail(c->err, GA_ERR_FORMAT, "%s: arrays nested more than %d deep", what, GA_GGUF_MAX_DEPTH);
    uint32_t elem;
    uint64_t n;
    ga_status st = ga_gguf_read_u32(c, &elem, what);
    if (st == GA_OK) st = ga_gguf_read_u64(c, &n, what);
    if (st != GA_OK) return st;
    if (elem >= GA_GGUF_VTYPE_COUNT)
        return ga_fail(c->err, GA_ERR_FORMAT, "%s: array has unknown element type %u", what, elem);
    uint64_t min = elem == GA_GGUF_STRING ? 8 : elem == GA_GGUF_ARRAY ? MIN_ARRAY_BYTES : VTYPE_SIZES[elem];
    if (n > ga_gguf_left(c) / min)
        return ga_fail(c->err, GA_ERR_FORMAT, "%s: array count %llu runs past the end of the file "
                       "(%llu bytes left at offset %llu)", what, (unsigned long long)n,
                       (unsigned long long)ga_gguf_left(c), (unsigned long long)c->pos);
    if (VTYPE_SIZES[elem]) return ga_gguf_skip(c, n * min, what);
    for (uint64_t i = 0; i < n; i++)
        if ((st = skip_value(c, elem, depth + 1, what)) != GA_OK) return st;
    return GA_OK;
}

static ga_status check_name(ga_gguf_cursor *c, uint64_t off, uint64_t len, const char *kind, uint64_t index) {
    uint64_t bad;
    if (ga_utf8_valid(c->data + off, len, &bad)) return GA_OK;
    return ga_fail(c->err, GA_ERR_FORMAT, "%s %llu is not valid UTF-8 (byte 0x%02x at position %llu "
                   "of the name, file offset %llu)", kind, (unsigned long long)index,
                   c->data[off + bad], (unsigned long long)bad, (unsigned long long)(off + bad));
}

static ga_status read_kvs(ga_gguf_cursor *c, ga_gguf *g, uint64_t n_kv) {
    ga_name_set seen;
    ga_name_set_init(&seen, c->data);
    uint64_t cap = 0;
    ga_status st = GA_OK;
    char what[160];
    for (uint64_t i = 0; i < n_kv && st == GA_OK; i++) {
        if ((st = reserve((void **)&g->kv, &cap, i, sizeof *g->kv, c->err)) != GA_OK) break;
        ga_gguf_kv *kv = &g->kv[i];
        snprintf(what, sizeof what, "key of metadata entry %llu", (unsigned long long)i);
        if ((st = ga_gguf_read_str(c, &kv->key_off, &kv->key_len, what)) != GA_OK) break;
        if ((st = check_name(c, kv->key_off, kv->key_len, "metadata key", i)) != GA_OK) break;
        int shown = kv->key_len < SHOWN ? (int)kv->key_len : SHOWN;
        const char *key = (const char *)c->data + kv->key_off;
        st = ga_name_set_add(&seen, kv->key_off, kv->key_len);
        if (st == GA_ERR_FORMAT)
            st = ga_fail(c->err, st, "duplicate metadata key '%.*s'", shown, key);
        else if (st == GA_ERR_NOMEM)
            st = ga_fail(c->err, st, "out of memory reading GGUF metadata");
        if (st != GA_OK) break;
        snprintf(what, sizeof what, "value of key '%.*s'", shown, key);
        if ((st = ga_gguf_read_u32(c, &kv->type, what)) != GA_OK) break;
        kv->value_off = c->pos;
        if ((st = skip_value(c, kv->type, 0, what)) != GA_OK) break;
        g->n_kv = i + 1;
    }
    ga_name_set_free(&seen);
    return st;
}

/* general.alignment: a UINT32 power of 2 when present, else 32. */
static ga_status find_alignment(const uint8_t *data, ga_gguf *g, ga_error *err) {
    static const char KEY[] = "general.alignment";
    g->alignment = GA_GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < g->n_kv; i++) {
        const ga_gguf_kv *kv = &g->kv[i];
        if (kv->key_len != sizeof KEY - 1 || memcmp(data + kv->key_off, KEY, sizeof KEY - 1) != 0) continue;
        if (kv->type != GA_GGUF_UINT32)
            return ga_fail(err, GA_ERR_FORMAT, "general.alignment has type %s, expected UINT32",
                           ga_gguf_vtype_name(kv->type));
        uint32_t a = (uint32_t)ga_gguf_le(data + kv->value_off, 4);
        if (a == 0 || (a & (a - 1)) != 0)
            return ga_fail(err, GA_ERR_FORMAT, "general.alignment is %u; it must be a power of 2", a);
        g->alignment = a;
    }
    return GA_OK;
}

/* ---------------------------------------------------------------- tensor infos */

/* Shape, type and byte size of one tensor; name is for messages. */
static ga_status read_shape_and_type(ga_gguf_cursor *c, ga_gguf_tensor *t, const char *name) {
    ga_status st;
    if ((st = ga_gguf_read_u32(c, &t->n_dims, "tensor dimension count")) != GA_OK) return st;
    if (t->n_dims > GA_GGUF_MAX_DIMS)
        return ga_fail(c->err, GA_ERR_FORMAT, "tensor '%s' has %u dimensions; at most %d are allowed",
                       name, t->n_dims, GA_GGUF_MAX_DIMS);
    uint64_t n_elements = 1;
    for (uint32_t j = 0; j < GA_GGUF_MAX_DIMS; j++) {
        t->ne[j] = 1;
        if (j >= t->n_dims) continue;
        if ((st = ga_gguf_read_u64(c, &t->ne[j], "tensor dimension")) != GA_OK) return st;
        if (t->ne[j] == 0)
            return ga_fail(c->err, GA_ERR_FORMAT, "tensor '%s' has a zero dimension (ne[%u] = 0)", name, j);
        if (ga_mul_overflow(n_elements, t->ne[j], &n_elements) || n_elements > (uint64_t)INT64_MAX)
            return ga_fail(c->err, GA_ERR_FORMAT, "tensor '%s': the element count overflows int64 "
                           "(ne[%u] = %llu)", name, j, (unsigned long long)t->ne[j]);
    }
    if ((st = ga_gguf_read_u32(c, &t->type, "tensor type")) != GA_OK) return st;
    const ga_type_info *info = ga_type_get(t->type);
    if (!info)
        return ga_fail(c->err, GA_ERR_FORMAT, "tensor '%s' has unknown type id %u", name, t->type);
    if (t->ne[0] % (uint64_t)info->block_size)
        return ga_fail(c->err, GA_ERR_FORMAT, "tensor '%s': row length ne[0] = %llu is not a multiple "
                       "of %s's block size %lld", name, (unsigned long long)t->ne[0], info->name,
                       (long long)info->block_size);
    ga_error why;
    if (ga_type_nbytes((int)t->type, n_elements, &t->nbytes, &why) != GA_OK)
        return ga_fail(c->err, GA_ERR_FORMAT, "tensor '%s': %s", name, why.msg);
    return ga_gguf_read_u64(c, &t->offset, "tensor data offset");
}

static ga_status read_tensor_infos(ga_gguf_cursor *c, ga_gguf *g, uint64_t n_tensors) {
    ga_name_set seen;
    ga_name_set_init(&seen, c->data);
    uint64_t cap = 0;
    ga_status st = GA_OK;
    char name[GA_GGUF_MAX_NAME];
    for (uint64_t i = 0; i < n_tensors && st == GA_OK; i++) {
        if ((st = reserve((void **)&g->tensors, &cap, i, sizeof *g->tensors, c->err)) != GA_OK) break;
        ga_gguf_tensor *t = &g->tensors[i];
        if ((st = ga_gguf_read_str(c, &t->name_off, &t->name_len, "tensor name")) != GA_OK) break;
        if (t->name_len >= GA_GGUF_MAX_NAME) {
            st = ga_fail(c->err, GA_ERR_FORMAT, "tensor %llu: name is %llu bytes long; at most %d "
                         "are allowed", (unsigned long long)i, (unsigned long long)t->name_len,
                         GA_GGUF_MAX_NAME - 1);
            break;
        }
        if ((st = check_name(c, t->name_off, t->name_len, "tensor name", i)) != GA_OK) break;
        memcpy(name, c->data + t->name_off, t->name_len);
        name[t->name_len] = '\0';
        st = ga_name_set_add(&seen, t->name_off, t->name_len);
        if (st == GA_ERR_FORMAT)
            st = ga_fail(c->err, st, "duplicate tensor name '%s'", name);
        else if (st == GA_ERR_NOMEM)
            st = ga_fail(c->err, st, "out of memory reading GGUF tensor infos");
        if (st != GA_OK) break;
        if ((st = read_shape_and_type(c, t, name)) != GA_OK) break;
        g->n_tensors = i + 1;
    }
    ga_name_set_free(&seen);
    return st;
}

/* Each tensor aligned, inside the file, and where ggml expects it: right
 * after the previous one, padded to the alignment (so none overlap). */
static ga_status check_layout(const uint8_t *data, uint64_t size, const ga_gguf *g, ga_error *err) {
    uint64_t expected = 0;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        const ga_gguf_tensor *t = &g->tensors[i];
        int shown = (int)t->name_len;
        const char *name = (const char *)data + t->name_off;
        if (t->offset % g->alignment)
            return ga_fail(err, GA_ERR_FORMAT, "tensor '%.*s': data offset %llu is not a multiple of "
                           "the alignment %u", shown, name, (unsigned long long)t->offset, g->alignment);
        uint64_t start, end;
        if (ga_add_overflow(g->data_offset, t->offset, &start) || ga_add_overflow(start, t->nbytes, &end) ||
            end > size)
            return ga_fail(err, GA_ERR_FORMAT, "tensor '%.*s': its %llu bytes at data offset %llu run "
                           "past the end of the file (%llu bytes, data section at %llu): the file is "
                           "truncated or corrupt", shown, name, (unsigned long long)t->nbytes,
                           (unsigned long long)t->offset, (unsigned long long)size,
                           (unsigned long long)g->data_offset);
        if (t->offset != expected)
            return ga_fail(err, GA_ERR_FORMAT, "tensor '%.*s': data offset %llu, expected %llu "
                           "(tensors must follow each other in order, padded to the alignment)",
                           shown, name, (unsigned long long)t->offset, (unsigned long long)expected);
        expected += GA_ALIGN_UP(t->nbytes, (uint64_t)g->alignment); /* <= size + alignment: no overflow */
    }
    return GA_OK;
}

/* ---------------------------------------------------------------- entry points */

ga_status ga_gguf_parse(const uint8_t *data, uint64_t size, ga_gguf *out, ga_error *err) {
    memset(out, 0, sizeof *out);
    ga_gguf_cursor c = {data, size, 0, err};
    uint64_t n_tensors = 0, n_kv = 0;
    ga_status st = check_magic(data, size, err);
    if (st == GA_OK) st = ga_gguf_skip(&c, 4, "magic");
    if (st == GA_OK) st = ga_gguf_read_u32(&c, &out->version, "version");
    if (st == GA_OK) st = check_version(out->version, err);
    if (st == GA_OK) st = ga_gguf_read_u64(&c, &n_tensors, "tensor count");
    if (st == GA_OK) st = ga_gguf_read_u64(&c, &n_kv, "metadata count");
    if (st == GA_OK) st = check_count(&c, n_kv, MIN_KV_BYTES, "metadata key/value");
    if (st == GA_OK) st = check_count(&c, n_tensors, MIN_TENSOR_BYTES, "tensor");
    if (st == GA_OK) st = read_kvs(&c, out, n_kv);
    if (st == GA_OK) st = find_alignment(data, out, err);
    if (st == GA_OK) st = read_tensor_infos(&c, out, n_tensors);
    if (st == GA_OK) {
        out->data_offset = GA_ALIGN_UP(c.pos, (uint64_t)out->alignment);
        st = check_layout(data, size, out, err);
    }
    if (st != GA_OK) ga_gguf_free(out);
    return st;
}

void ga_gguf_free(ga_gguf *g) {
    free(g->kv);
    free(g->tensors);
    memset(g, 0, sizeof *g);
}
