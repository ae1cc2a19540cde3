/* ga_json.c - strict bounded JSON parser (see ga_json.h for the contract).
 *
 * Recursive descent, but recursion depth is capped at GA_JSON_MAX_DEPTH, so
 * "[[[[..." costs at most 64 small frames.  Nodes are addressed by index
 * because the node array is realloc'ed while parsing.
 */
#include "ga_json.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    const uint8_t *p;
    size_t len, pos;
    ga_json_doc *doc;
    ga_error *err;
} parser;

__attribute__((format(printf, 3, 4)))
static ga_status syntax_error(parser *ps, size_t at, const char *fmt, ...) {
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return ga_fail(ps->err, GA_ERR_FORMAT, "invalid JSON at byte %zu: %s", at, what);
}

/* Printable description of the byte at pos for messages. */
static void describe_byte(const parser *ps, size_t pos, char *out, size_t n) {
    if (pos >= ps->len) snprintf(out, n, "end of header");
    else if (ps->p[pos] >= 0x21 && ps->p[pos] < 0x7f) snprintf(out, n, "'%c'", ps->p[pos]);
    else snprintf(out, n, "byte 0x%02x", ps->p[pos]);
}

static ga_status unexpected(parser *ps, const char *expected) {
    char got[32];
    describe_byte(ps, ps->pos, got, sizeof got);
    return syntax_error(ps, ps->pos, "expected %s, got %s", expected, got);
}

static void skip_ws(parser *ps) {
    while (ps->pos < ps->len) {
        uint8_t c = ps->p[ps->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        ps->pos++;
    }
}

/* Appends a node and returns its index through *idx. */
static ga_status new_node(parser *ps, ga_json_kind kind, size_t offset, uint32_t *idx) {
    ga_json_doc *d = ps->doc;
    if (d->n_nodes == d->cap_nodes) {
        if (d->cap_nodes >= UINT32_MAX / 2)
            return ga_fail(ps->err, GA_ERR_FORMAT, "JSON header has too many values");
        size_t cap = d->cap_nodes ? d->cap_nodes * 2 : 64;
        ga_json_value *nodes = realloc(d->nodes, cap * sizeof *nodes);
        if (!nodes) return ga_fail(ps->err, GA_ERR_NOMEM, "out of memory parsing JSON");
        d->nodes = nodes;
        d->cap_nodes = cap;
    }
    ga_json_value *v = &d->nodes[d->n_nodes];
    memset(v, 0, sizeof *v);
    v->kind = (uint8_t)kind;
    v->offset = offset;
    *idx = (uint32_t)d->n_nodes++;
    return GA_OK;
}

/* ---- strings ---------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s[0..avail), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq_len(const uint8_t *s, size_t avail) {
    uint8_t c = s[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xbf;  /* allowed range of the second byte */
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf) n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if (avail < n || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0;
    return n;
}

static size_t utf8_encode(uint32_t cp, char *out) {
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    if (cp < 0x800) {
        out[0] = (char)(0xc0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xe0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        out[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    out[0] = (char)(0xf0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    out[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Reads 4 hex digits at ps->pos into *u. */
static ga_status read_hex4(parser *ps, uint32_t *u) {
    if (ps->len - ps->pos < 4) return syntax_error(ps, ps->pos, "truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        uint8_t c = ps->p[ps->pos + i];
        uint32_t d;
        if (c >= '0' && c <= '9') d = c - '0';
        else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
        else return syntax_error(ps, ps->pos + i, "invalid hex digit in \\u escape");
        v = v * 16 + d;
    }
    ps->pos += 4;
    *u = v;
    return GA_OK;
}

/* Decodes the \uXXXX escape (ps->pos just after "\u"), joining surrogate pairs. */
static ga_status read_unicode_escape(parser *ps, uint32_t *cp) {
    size_t at = ps->pos - 2;
    uint32_t u;
    ga_status st = read_hex4(ps, &u);
    if (st) return st;
    if (u >= 0xdc00 && u <= 0xdfff) return syntax_error(ps, at, "lone low surrogate \\u%04x", u);
    if (u >= 0xd800 && u <= 0xdbff) {
        if (ps->len - ps->pos < 2 || ps->p[ps->pos] != '\\' || ps->p[ps->pos + 1] != 'u')
            return syntax_error(ps, at, "high surrogate \\u%04x not followed by a low one", u);
        ps->pos += 2;
        uint32_t lo;
        if ((st = read_hex4(ps, &lo))) return st;
        if (lo < 0xdc00 || lo > 0xdfff)
            return syntax_error(ps, at, "high surrogate \\u%04x not followed by a low one", u);
        u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
    }
    *cp = u;
    return GA_OK;
}

/* Parses a string at ps->pos (on the opening quote) into the arena. */
static ga_status parse_string(parser *ps, const char **out, size_t *out_len) {
    ga_json_doc *d = ps->doc;
    size_t start = ps->pos++;
    /* The arena holds len+1 bytes and a decoded string plus its NUL never
     * needs more than its quoted source, so this cannot overflow. */
    char *dst = d->strings + d->strings_used;
    size_t n = 0;
    for (;;) {
        if (ps->pos >= ps->len) return syntax_error(ps, start, "unterminated string");
        uint8_t c = ps->p[ps->pos];
        if (c == '"') { ps->pos++; break; }
        if (c < 0x20) return syntax_error(ps, ps->pos, "control byte 0x%02x in string", c);
        if (c == '\\') {
            if (ps->pos + 1 >= ps->len) return syntax_error(ps, start, "unterminated string");
            uint8_t e = ps->p[ps->pos + 1];
            ps->pos += 2;
            char simple = 0;
            switch (e) {
            case '"': simple = '"'; break;
            case '\\': simple = '\\'; break;
            case '/': simple = '/'; break;
            case 'b': simple = '\b'; break;
            case 'f': simple = '\f'; break;
            case 'n': simple = '\n'; break;
            case 'r': simple = '\r'; break;
            case 't': simple = '\t'; break;
            case 'u': {
                uint32_t cp = 0;
                ga_status st = read_unicode_escape(ps, &cp);
                if (st) return st;
                n += utf8_encode(cp, dst + n);
                continue;
            }
            default: return syntax_error(ps, ps->pos - 2, "invalid escape \\%c", e >= 0x20 && e < 0x7f ? e : '?');
            }
            dst[n++] = simple;
            continue;
        }
        size_t k = utf8_seq_len(ps->p + ps->pos, ps->len - ps->pos);
        if (!k) return syntax_error(ps, ps->pos, "invalid UTF-8 in string");
        memcpy(dst + n, ps->p + ps->pos, k);
        n += k;
        ps->pos += k;
    }
    dst[n] = '\0';
    d->strings_used += n + 1;
    *out = dst;
    *out_len = n;
    return GA_OK;
}

/* ---- numbers and literals --------------------------------------------- */

static int is_digit(uint8_t c) { return c >= '0' && c <= '9'; }

static ga_status parse_number(parser *ps, uint32_t idx) {
    size_t start = ps->pos;
    int is_uint = 1;
    uint64_t value = 0;
    if (ps->p[ps->pos] == '-') { is_uint = 0; ps->pos++; }
    if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos])) return unexpected(ps, "a digit");
    if (ps->p[ps->pos] == '0') ps->pos++;
    else
        while (ps->pos < ps->len && is_digit(ps->p[ps->pos])) {
            if (ga_mul_overflow(value, 10, &value) ||
                ga_add_overflow(value, ps->p[ps->pos] - '0', &value))
                is_uint = 0;  /* still valid JSON, just not a uint64 */
            ps->pos++;
        }
    if (ps->pos < ps->len && ps->p[ps->pos] == '.') {
        is_uint = 0;
        ps->pos++;
        if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos])) return unexpected(ps, "a digit after '.'");
        while (ps->pos < ps->len && is_digit(ps->p[ps->pos])) ps->pos++;
    }
    if (ps->pos < ps->len && (ps->p[ps->pos] == 'e' || ps->p[ps->pos] == 'E')) {
        is_uint = 0;
        ps->pos++;
        if (ps->pos < ps->len && (ps->p[ps->pos] == '+' || ps->p[ps->pos] == '-')) ps->pos++;
        if (ps->pos >= ps->len || !is_digit(ps->p[ps->pos])) return unexpected(ps, "a digit in the exponent");
        while (ps->pos < ps->len && is_digit(ps->p[ps->pos])) ps->pos++;
    }
    ga_json_value *v = &ps->doc->nodes[idx];
    v->is_uint = (uint8_t)is_uint;
    v->u64 = is_uint ? value : 0;
    v->str = (const char *)ps->p + start;
    v->len = ps->pos - start;
    return GA_OK;
}

static ga_status parse_literal(parser *ps, const char *word, size_t n) {
    if (ps->len - ps->pos < n || memcmp(ps->p + ps->pos, word, n) != 0)
        return unexpected(ps, "a JSON value");
    ps->pos += n;
    return GA_OK;
}

/* ---- containers -------------------------------------------------------- */

static ga_status parse_value(parser *ps, int depth, uint32_t *idx);

typedef struct {
    const char *key;
    size_t len;
    uint64_t offset;
} key_ref;

static int compare_keys(const void *a, const void *b) {
    const key_ref *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c) return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Duplicate keys are ambiguous (which one wins differs between readers), so
 * a strict header parser rejects them. */
static ga_status check_duplicate_keys(parser *ps, uint32_t obj) {
    const ga_json_value *o = &ps->doc->nodes[obj];
    if (o->count < 2) return GA_OK;
    key_ref *keys = malloc(o->count * sizeof *keys);
    if (!keys) return ga_fail(ps->err, GA_ERR_NOMEM, "out of memory parsing JSON");
    size_t n = 0;
    for (uint32_t i = o->first; i; i = ps->doc->nodes[i].next) {
        const ga_json_value *m = &ps->doc->nodes[i];
        keys[n++] = (key_ref){m->key, m->key_len, m->offset};
    }
    qsort(keys, n, sizeof *keys, compare_keys);
    ga_status st = GA_OK;
    for (size_t i = 1; i < n; i++)
        if (compare_keys(&keys[i - 1], &keys[i]) == 0) {
            st = ga_fail(ps->err, GA_ERR_FORMAT, "invalid JSON at byte %llu: duplicate key \"%.200s\"",
                         (unsigned long long)o->offset, keys[i].key);
            break;
        }
    free(keys);
    return st;
}

/* Links child after *last (or as the first child of parent). */
static void append_child(parser *ps, uint32_t parent, uint32_t *last, uint32_t child) {
    ga_json_value *p = &ps->doc->nodes[parent];
    if (*last) ps->doc->nodes[*last].next = child;
    else p->first = child;
    p->count++;
    *last = child;
}

static ga_status parse_array(parser *ps, int depth, uint32_t idx) {
    ps->pos++;  /* '[' */
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == ']') { ps->pos++; return GA_OK; }
    uint32_t last = 0;
    for (;;) {
        uint32_t child;
        ga_status st = parse_value(ps, depth + 1, &child);
        if (st) return st;
        append_child(ps, idx, &last, child);
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == ',') { ps->pos++; continue; }
        if (ps->pos < ps->len && ps->p[ps->pos] == ']') { ps->pos++; return GA_OK; }
        return unexpected(ps, "',' or ']'");
    }
}

static ga_status parse_object(parser *ps, int depth, uint32_t idx) {
    ps->pos++;  /* '{' */
    skip_ws(ps);
    if (ps->pos < ps->len && ps->p[ps->pos] == '}') { ps->pos++; return GA_OK; }
    uint32_t last = 0;
    for (;;) {
        skip_ws(ps);
        if (ps->pos >= ps->len || ps->p[ps->pos] != '"') return unexpected(ps, "a string key");
        const char *key;
        size_t key_len;
        ga_status st = parse_string(ps, &key, &key_len);
        if (st) return st;
        skip_ws(ps);
        if (ps->pos >= ps->len || ps->p[ps->pos] != ':') return unexpected(ps, "':'");
        ps->pos++;
        uint32_t child;
        if ((st = parse_value(ps, depth + 1, &child))) return st;
        ps->doc->nodes[child].key = key;
        ps->doc->nodes[child].key_len = key_len;
        append_child(ps, idx, &last, child);
        skip_ws(ps);
        if (ps->pos < ps->len && ps->p[ps->pos] == ',') { ps->pos++; continue; }
        if (ps->pos < ps->len && ps->p[ps->pos] == '}') { ps->pos++; break; }
        return unexpected(ps, "',' or '}'");
    }
    return check_duplicate_keys(ps, idx);
}

static ga_status parse_value(parser *ps, int depth, uint32_t *idx) {
    skip_ws(ps);
    if (ps->pos >= ps->len) return unexpected(ps, "a JSON value");
    uint8_t c = ps->p[ps->pos];
    ga_json_kind kind;
    switch (c) {
    case '{': kind = GA_JSON_OBJECT; break;
    case '[': kind = GA_JSON_ARRAY; break;
    case '"': kind = GA_JSON_STRING; break;
    case 't': kind = GA_JSON_TRUE; break;
    case 'f': kind = GA_JSON_FALSE; break;
    case 'n': kind = GA_JSON_NULL; break;
    default:
        if (c == '-' || is_digit(c)) { kind = GA_JSON_NUMBER; break; }
        return unexpected(ps, "a JSON value");
    }
    if ((kind == GA_JSON_OBJECT || kind == GA_JSON_ARRAY) && depth > GA_JSON_MAX_DEPTH)
        return syntax_error(ps, ps->pos, "nesting deeper than %d levels", GA_JSON_MAX_DEPTH);
    ga_status st = new_node(ps, kind, ps->pos, idx);
    if (st) return st;
    switch (kind) {
    case GA_JSON_OBJECT: return parse_object(ps, depth, *idx);
    case GA_JSON_ARRAY: return parse_array(ps, depth, *idx);
    case GA_JSON_NUMBER: return parse_number(ps, *idx);
    case GA_JSON_TRUE: return parse_literal(ps, "true", 4);
    case GA_JSON_FALSE: return parse_literal(ps, "false", 5);
    case GA_JSON_NULL: return parse_literal(ps, "null", 4);
    case GA_JSON_STRING: {
        const char *s;
        size_t n;
        if ((st = parse_string(ps, &s, &n))) return st;
        ps->doc->nodes[*idx].str = s;
        ps->doc->nodes[*idx].len = n;
        return GA_OK;
    }
    }
    return GA_OK;
}

/* ---- public ------------------------------------------------------------ */

ga_status ga_json_parse(ga_json_doc *doc, const char *text, size_t len, ga_error *err) {
    memset(doc, 0, sizeof *doc);
    doc->strings_cap = len + 1;
    doc->strings = malloc(doc->strings_cap);
    if (!doc->strings) return ga_fail(err, GA_ERR_NOMEM, "out of memory parsing JSON (%zu bytes)", len);
    parser ps = {(const uint8_t *)text, len, 0, doc, err};
    uint32_t root;
    ga_status st = parse_value(&ps, 1, &root);
    if (!st) {
        skip_ws(&ps);
        if (ps.pos != len) st = unexpected(&ps, "end of header after the JSON value");
    }
    if (st) ga_json_free(doc);
    return st;
}

void ga_json_free(ga_json_doc *doc) {
    free(doc->nodes);
    free(doc->strings);
    memset(doc, 0, sizeof *doc);
}

const ga_json_value *ga_json_get(const ga_json_doc *doc, const ga_json_value *obj, const char *key) {
    if (obj->kind != GA_JSON_OBJECT) return NULL;
    size_t n = strlen(key);
    for (const ga_json_value *m = ga_json_first(doc, obj); m; m = ga_json_next(doc, m))
        if (m->key_len == n && memcmp(m->key, key, n) == 0) return m;
    return NULL;
}

size_t ga_json_utf8_invalid_at(const char *s, size_t len) {
    const uint8_t *p = (const uint8_t *)s;
    size_t i = 0;
    while (i < len) {
        if (p[i] < 0x80) { i++; continue; }
        size_t k = utf8_seq_len(p + i, len - i);
        if (!k) return i;
        i += k;
    }
    return len;
}

const char *ga_json_kind_name(int kind) {
    switch (kind) {
    case GA_JSON_NULL: return "null";
    case GA_JSON_FALSE: case GA_JSON_TRUE: return "a boolean";
    case GA_JSON_NUMBER: return "a number";
    case GA_JSON_STRING: return "a string";
    case GA_JSON_ARRAY: return "an array";
    case GA_JSON_OBJECT: return "an object";
    }
    return "a value";
}
