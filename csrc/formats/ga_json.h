/* ga_json.h - a small, strict, bounded JSON parser for untrusted file headers.
 *
 * RFC 8259 only: no comments, no trailing commas, no NaN, no lone surrogates,
 * no invalid UTF-8, no duplicate keys in an object.  Nesting is limited to
 * GA_JSON_MAX_DEPTH, so hostile input cannot exhaust the C stack.  The whole
 * document lives in one growable node array plus one string arena no larger
 * than the input, so memory is bounded by the input length.  Plain C: no
 * Python.h.  Every error is GA_ERR_FORMAT with the byte offset in the message.
 */
#ifndef GA_JSON_H
#define GA_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "ga_common.h"

#define GA_JSON_MAX_DEPTH 64

typedef enum {
    GA_JSON_NULL,
    GA_JSON_FALSE,
    GA_JSON_TRUE,
    GA_JSON_NUMBER,
    GA_JSON_STRING,
    GA_JSON_ARRAY,
    GA_JSON_OBJECT,
} ga_json_kind;

/* One value.  Children of an array/object are linked through `next` (node
 * indices; 0 means none, since node 0 is always the root).  A member of an
 * object carries its key in key/key_len. */
typedef struct {
    uint8_t kind;       /* ga_json_kind */
    uint8_t is_uint;    /* NUMBER: a plain integer (no '-', '.', 'e') that fits uint64 */
    uint32_t first;     /* ARRAY/OBJECT: index of the first child, 0 if empty */
    uint32_t next;      /* index of the next sibling, 0 if last */
    uint32_t count;     /* ARRAY/OBJECT: number of children */
    uint64_t offset;    /* byte offset of the value in the input (for messages) */
    uint64_t u64;       /* NUMBER with is_uint: the value */
    const char *str;    /* STRING: decoded UTF-8 (NUL-terminated; may contain NUL);
                           NUMBER: the raw text in the input (not terminated) */
    size_t len;         /* bytes in str */
    const char *key;    /* object member: decoded key (NUL-terminated) */
    size_t key_len;
} ga_json_value;

typedef struct {
    ga_json_value *nodes;  /* nodes[0] is the root */
    size_t n_nodes, cap_nodes;
    char *strings;         /* arena for decoded strings and keys */
    size_t strings_used, strings_cap;
} ga_json_doc;

/* Parses text[0..len) (surrounding JSON whitespace allowed) into doc.
 * On failure doc is left empty (safe to ga_json_free). */
ga_status ga_json_parse(ga_json_doc *doc, const char *text, size_t len, ga_error *err);
void ga_json_free(ga_json_doc *doc);

static inline const ga_json_value *ga_json_root(const ga_json_doc *doc) {
    return doc->n_nodes ? &doc->nodes[0] : NULL;
}
static inline const ga_json_value *ga_json_first(const ga_json_doc *doc, const ga_json_value *v) {
    return v->first ? &doc->nodes[v->first] : NULL;
}
static inline const ga_json_value *ga_json_next(const ga_json_doc *doc, const ga_json_value *v) {
    return v->next ? &doc->nodes[v->next] : NULL;
}

/* Member of object obj whose key is the NUL-free C string key, or NULL. */
const ga_json_value *ga_json_get(const ga_json_doc *doc, const ga_json_value *obj, const char *key);

/* Index of the first byte of s[0..len) that is not part of valid UTF-8, or len. */
size_t ga_json_utf8_invalid_at(const char *s, size_t len);

/* "an object", "an array", "null", ... for messages. */
const char *ga_json_kind_name(int kind);

#endif
