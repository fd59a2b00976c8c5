// Write oktawatch detections in C: a small helper over wit-bindgen's C
// bindings of the contract (guest-sdk/wit*/detection.wit), with the Rust
// SDK's vocabulary. The detection defines `ow_detection` (who it is, its
// prefilters and config keys), `ow_setup` and `ow_on_event`; this helper
// implements the component's exports with them. See guest-sdk/c/README.md.
//
// Strings returned by `ow_text`, `ow_str`, `ow_recall`, `ow_format` are the
// caller's to free(); those returned by the head accessors
// (`ow_event_type`, `ow_actor_alternate_id`, ...) and the config belong to
// the helper. Missing fields are NULL.
#ifndef OKTAWATCH_H
#define OKTAWATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// ------------------------------------------------------------ durations (ms)
#define OW_SECONDS(n) ((uint64_t)(n) * 1000u)
#define OW_MINUTES(n) ((uint64_t)(n) * 60000u)
#define OW_HOURS(n) ((uint64_t)(n) * 3600000u)
#define OW_DAYS(n) ((uint64_t)(n) * 86400000u)

// ------------------------------------------------------------ who the detection is
typedef enum { OW_INFO, OW_LOW, OW_MEDIUM, OW_HIGH, OW_CRITICAL } ow_severity;

typedef enum { OW_BOOLEAN, OW_INTEGER, OW_FLOAT, OW_TEXT, OW_TEXT_LIST } ow_kind;

// A declared config key and its default (see the OW_KEY_* macros).
typedef struct {
    const char *name;
    ow_kind kind;
    bool boolean;
    int64_t integer;
    double number;
    const char *text;
    const char *const *text_list; // NULL-terminated
    const char *doc;
} ow_key;

#define OW_KEY_BOOLEAN(n, d, doc_) {.name = (n), .kind = OW_BOOLEAN, .boolean = (d), .doc = (doc_)}
#define OW_KEY_INTEGER(n, d, doc_) {.name = (n), .kind = OW_INTEGER, .integer = (d), .doc = (doc_)}
#define OW_KEY_FLOAT(n, d, doc_) {.name = (n), .kind = OW_FLOAT, .number = (d), .doc = (doc_)}
#define OW_KEY_TEXT(n, d, doc_) {.name = (n), .kind = OW_TEXT, .text = (d), .doc = (doc_)}
#define OW_KEY_TEXT_LIST(n, d, doc_) {.name = (n), .kind = OW_TEXT_LIST, .text_list = (d), .doc = (doc_)}

typedef enum { OW_EQUALS, OW_ONE_OF, OW_PREFIX, OW_EXISTS, OW_ABSENT } ow_test;

// One test on the field at a dotted path; `args` (NULL-terminated) for OW_ONE_OF.
typedef struct {
    const char *path;
    ow_test test;
    const char *arg;
    const char *const *args;
    bool negate;
} ow_condition;

// All of its conditions hold (AND); a detection's prefilters are OR'ed.
typedef struct {
    const ow_condition *all;
    size_t n;
} ow_prefilter;

typedef struct {
    const char *id;
    const char *title;
    const char *version;
    ow_severity severity;
    const char *const *mitre;       // NULL-terminated, may be NULL
    const char *description;
    const char *const *event_types; // NULL-terminated, may be NULL (= every event)
    const ow_prefilter *prefilters;
    size_t n_prefilters;
    const ow_key *config;
    size_t n_config;
} ow_info;

typedef struct ow_event ow_event;
typedef struct ow_alerts ow_alerts;
typedef struct ow_alert ow_alert;

// ------------------------------------------------------------ defined by the detection
extern const ow_info ow_detection;
// Called once per instance, config available; false (with *error set) rejects the load.
bool ow_setup(const char **error);
// One event of a subscribed type that passed the prefilters.
void ow_on_event(ow_event *event, ow_alerts *alerts);

// ------------------------------------------------------------ config (typed; an undeclared name traps)
bool ow_config_boolean(const char *name);
int64_t ow_config_integer(const char *name);
double ow_config_float(const char *name);
const char *ow_config_text(const char *name);
// The number of items; *items points at them.
size_t ow_config_text_list(const char *name, const char *const **items);

// ------------------------------------------------------------ the event
// The head: no host call under contract 0.2 (one for all under 0.1).
const char *ow_event_type(ow_event *e);
int64_t ow_published_ms(ow_event *e);
const char *ow_actor_alternate_id(ow_event *e); // placeholders ("", "null", "unknown") as NULL
const char *ow_client_ip(ow_event *e);
const char *ow_outcome_result(ow_event *e);
bool ow_event_is(ow_event *e, const char *pattern); // exact or `prefix.*`
// Any string by dotted path: `str` as is, `text` with placeholders as NULL.
char *ow_str(ow_event *e, const char *path);
char *ow_text(ow_event *e, const char *path);
// Several strings in one host call, placeholders as NULL; free with ow_texts_free.
void ow_texts(ow_event *e, const char *const *paths, size_t n, char **out);
void ow_texts_free(char **values, size_t n);
// Length of an array (or keys of an object) by path; -1 when missing.
int64_t ow_len(ow_event *e, const char *path);
// The whole event as JSON (costly).
char *ow_to_json(ow_event *e);

typedef struct {
    char *id, *type, *alternate_id, *display_name;
} ow_target;
// `target[]` (up to 64) in two host calls; free with ow_targets_free.
size_t ow_targets(ow_event *e, ow_target **out);
void ow_targets_free(ow_target *targets, size_t n);

// ------------------------------------------------------------ state, on the event clock
uint32_t ow_count(const char *key, uint64_t window_ms);
uint32_t ow_peek_count(const char *key, uint64_t window_ms);
uint32_t ow_distinct(const char *key, const char *member, uint64_t window_ms);
void ow_remember(const char *key, const char *value, uint64_t ttl_ms);
char *ow_recall(const char *key);
void ow_forget(const char *key);
// Stores `value`; true and the previous value (*previous, free it) with its event time when there was one.
bool ow_last_seen(const char *key, const char *value, uint64_t ttl_ms, char **previous, int64_t *previous_ms);
// True the first time for `key` within `window_ms`.
bool ow_once_per(const char *key, uint64_t window_ms);

// ------------------------------------------------------------ alerts
ow_alert *ow_alert_new(ow_alerts *alerts, const char *title);
ow_alert *ow_alert_severity(ow_alert *a, ow_severity severity);
ow_alert *ow_alert_dedup(ow_alert *a, const char *key);
// A NULL value is left out.
ow_alert *ow_alert_field(ow_alert *a, const char *name, const char *value);
ow_alert *ow_alert_field_int(ow_alert *a, const char *name, int64_t value);
ow_alert *ow_alert_field_bool(ow_alert *a, const char *name, bool value);

// ------------------------------------------------------------ misc
typedef enum { OW_DEBUG, OW_LOG_INFO, OW_WARN, OW_ERROR } ow_level;
void ow_log(ow_level level, const char *message);
// The strings up to a NULL, joined into a new one (free it):
// ow_join("grants:", actor, NULL). No printf: wasi-libc's stdio imports WASI.
char *ow_join(const char *first, ...) __attribute__((sentinel));
// `value` in decimal, into `buf`; returns buf.
char *ow_itoa(int64_t value, char buf[24]);

#endif
