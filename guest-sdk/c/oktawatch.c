// The oktawatch C helper: the component's exports (describe, configure,
// on-event) over wit-bindgen's C bindings, implemented with the detection's
// `ow_detection`, `ow_setup` and `ow_on_event`. See oktawatch.h.
//
// Contract 0.2 (guest-sdk/wit; the Makefile defines OW_CONTRACT_MINOR from
// the WIT's package version): the host checks the config, evaluates the
// prefilters and hands over the event's head. Contract 0.1
// (guest-sdk/wit-0.1): the config section arrives as TOML text and is
// checked here against the declared keys; prefilters are evaluated here (one
// host call); once-per is kept with state get/set.
#include "oktawatch.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "detection.h"

#ifndef OW_CONTRACT_MINOR
#define OW_CONTRACT_MINOR 2
#endif

// ------------------------------------------------------------ small helpers

static detection_string_t dup_str(const char *s) {
    detection_string_t out;
    detection_string_dup(&out, s ? s : "");
    return out;
}

// A borrowed view of a C string, for arguments (not freed).
static detection_string_t view(const char *s) {
    detection_string_t out;
    detection_string_set(&out, s ? s : "");
    return out;
}

static char *cstr(const detection_string_t *s) {
    char *out = malloc(s->len + 1);
    if (!out) abort();
    memcpy(out, s->ptr, s->len);
    out[s->len] = 0;
    return out;
}

static bool placeholder(const char *s) {
    return s[0] == 0 || strcasecmp(s, "null") == 0 || strcasecmp(s, "unknown") == 0;
}

static void fail(const char *message) {
    ow_log(OW_ERROR, message);
    abort(); // a trap: counts as a failure of the call
}

char *ow_join(const char *first, ...) {
    va_list ap;
    size_t n = 0;
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *)) n += strlen(p);
    va_end(ap);
    char *out = malloc(n + 1), *o = out;
    if (!out) abort();
    va_start(ap, first);
    for (const char *p = first; p; p = va_arg(ap, const char *)) {
        size_t len = strlen(p);
        memcpy(o, p, len);
        o += len;
    }
    va_end(ap);
    *o = 0;
    return out;
}

char *ow_itoa(int64_t value, char buf[24]) {
    char tmp[24];
    size_t n = 0;
    uint64_t v = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    do tmp[n++] = (char)('0' + v % 10); while (v /= 10);
    size_t i = 0;
    if (value < 0) buf[i++] = '-';
    while (n) buf[i++] = tmp[--n];
    buf[i] = 0;
    return buf;
}

void ow_log(ow_level level, const char *message) {
    detection_string_t m = view(message);
    oktawatch_detection_log_log((oktawatch_detection_log_level_t)level, &m);
}

static detection_list_string_t dup_list(const char *const *items) {
    size_t n = 0;
    while (items && items[n]) n++;
    detection_list_string_t out = {.ptr = n ? calloc(n, sizeof(detection_string_t)) : NULL, .len = n};
    for (size_t i = 0; i < n; i++) out.ptr[i] = dup_str(items[i]);
    return out;
}

// ------------------------------------------------------------ config

typedef struct {
    const ow_key *key;
    bool boolean;
    int64_t integer;
    double number;
    char *text;
    char **list;
    size_t n_list;
} value_t;

static value_t *values;
static size_t n_values;

static value_t *value_of(const char *name, ow_kind kind) {
    for (size_t i = 0; i < n_values; i++) {
        if (strcmp(values[i].key->name, name) == 0) {
            if (values[i].key->kind != kind) fail("oktawatch: config key read with another type than declared");
            return &values[i];
        }
    }
    fail(ow_join("oktawatch: config key '", name, "' is not declared", NULL));
    return NULL;
}

bool ow_config_boolean(const char *name) { return value_of(name, OW_BOOLEAN)->boolean; }
int64_t ow_config_integer(const char *name) { return value_of(name, OW_INTEGER)->integer; }
double ow_config_float(const char *name) { return value_of(name, OW_FLOAT)->number; }
const char *ow_config_text(const char *name) { return value_of(name, OW_TEXT)->text; }
size_t ow_config_text_list(const char *name, const char *const **items) {
    value_t *v = value_of(name, OW_TEXT_LIST);
    *items = (const char *const *)v->list;
    return v->n_list;
}

static void free_values(void) {
    for (size_t i = 0; i < n_values; i++) {
        free(values[i].text);
        for (size_t j = 0; j < values[i].n_list; j++) free(values[i].list[j]);
        free(values[i].list);
    }
    free(values);
    values = NULL;
    n_values = 0;
}

static void set_defaults(void) {
    free_values();
    n_values = ow_detection.n_config;
    values = calloc(n_values ? n_values : 1, sizeof(value_t));
    for (size_t i = 0; i < n_values; i++) {
        const ow_key *k = &ow_detection.config[i];
        value_t *v = &values[i];
        v->key = k;
        v->boolean = k->boolean;
        v->integer = k->integer;
        v->number = k->number;
        v->text = k->text ? strdup(k->text) : strdup("");
        for (size_t n = 0; k->text_list && k->text_list[n]; n++) v->n_list = n + 1;
        v->list = calloc(v->n_list ? v->n_list : 1, sizeof(char *));
        for (size_t j = 0; j < v->n_list; j++) v->list[j] = strdup(k->text_list[j]);
    }
}

#if OW_CONTRACT_MINOR < 2
// A TOML basic or literal string at *p; NULL when not one.
static char *parse_string(const char **p) {
    const char *s = *p;
    char quote = *s;
    if (quote != '"' && quote != '\'') return NULL;
    s++;
    char *out = malloc(strlen(s) + 1), *o = out;
    while (*s && *s != quote) {
        if (quote == '"' && *s == '\\' && s[1]) {
            s++;
            switch (*s) {
            case 'n': *o++ = '\n'; break;
            case 't': *o++ = '\t'; break;
            default: *o++ = *s;
            }
            s++;
        } else {
            *o++ = *s++;
        }
    }
    if (*s != quote) {
        free(out);
        return NULL;
    }
    *o = 0;
    *p = s + 1;
    return out;
}

static const char *skip_ws(const char *s) {
    while (*s == ' ' || *s == '\t') s++;
    return s;
}

// One `key = value` line into its declared key; "" or the problem (static text).
static const char *parse_value(value_t *v, const char *s) {
    char *end;
    switch (v->key->kind) {
    case OW_BOOLEAN:
        if (strncmp(s, "true", 4) == 0) v->boolean = true, s += 4;
        else if (strncmp(s, "false", 5) == 0) v->boolean = false, s += 5;
        else return "is not a boolean";
        break;
    case OW_INTEGER: {
        char digits[32];
        size_t n = 0;
        for (; *s && n + 1 < sizeof digits && (*s == '-' || *s == '+' || *s == '_' || (*s >= '0' && *s <= '9')); s++)
            if (*s != '_') digits[n++] = *s;
        digits[n] = 0;
        if (n == 0) return "is not an integer";
        v->integer = strtoll(digits, &end, 10);
        if (*end) return "is not an integer";
        break;
    }
    case OW_FLOAT:
        v->number = strtod(s, &end);
        if (end == s) return "is not a float";
        s = end;
        break;
    case OW_TEXT: {
        char *t = parse_string(&s);
        if (!t) return "is not a string";
        free(v->text);
        v->text = t;
        break;
    }
    case OW_TEXT_LIST: {
        if (*s != '[') return "is not an array of strings";
        s = skip_ws(s + 1);
        for (size_t j = 0; j < v->n_list; j++) free(v->list[j]);
        v->n_list = 0;
        while (*s != ']') {
            char *t = parse_string(&s);
            if (!t) return "is not an array of strings";
            v->list = realloc(v->list, (v->n_list + 1) * sizeof(char *));
            v->list[v->n_list++] = t;
            s = skip_ws(s);
            if (*s == ',') s = skip_ws(s + 1);
            else if (*s != ']') return "is not an array of strings";
        }
        s++;
        break;
    }
    }
    s = skip_ws(s);
    if (*s && *s != '#') return "has text after its value";
    return "";
}

// The section's TOML text checked against the declared keys; NULL or every problem.
static char *parse_config(const char *text) {
    set_defaults();
    char *problems = strdup("");
    char *copy = strdup(text);
    int line_no = 0;
    for (char *save = NULL, *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        line_no++;
        const char *s = skip_ws(line);
        if (*s == 0 || *s == '#' || *s == '\r') continue;
        const char *eq = strchr(s, '=');
        char *problem = NULL;
        if (!eq) {
            char no[24];
            problem = ow_join("config line ", ow_itoa(line_no, no), ": expected `key = value`", NULL);
        } else {
            size_t n = (size_t)(eq - s);
            while (n && (s[n - 1] == ' ' || s[n - 1] == '\t')) n--;
            char *name = strndup(s, n);
            value_t *v = NULL;
            for (size_t i = 0; i < n_values; i++)
                if (strcmp(values[i].key->name, name) == 0) v = &values[i];
            if (!v) {
                problem = ow_join("unknown key '", name, "'", NULL);
            } else {
                char *value = strdup(skip_ws(eq + 1));
                size_t len = strlen(value);
                while (len && (value[len - 1] == '\r' || value[len - 1] == ' ')) value[--len] = 0;
                const char *p = parse_value(v, value);
                if (*p) problem = ow_join(name, " ", p, NULL);
                free(value);
            }
            free(name);
        }
        if (problem) {
            char *joined = ow_join(problems, *problems ? "; " : "", problem, NULL);
            free(problems);
            free(problem);
            problems = joined;
        }
    }
    free(copy);
    if (*problems) return problems;
    free(problems);
    return NULL;
}
#endif

// ------------------------------------------------------------ exports

static bool started;

void exports_detection_describe(detection_detection_info_t *ret) {
    ret->id = dup_str(ow_detection.id);
    ret->title = dup_str(ow_detection.title);
    ret->version = dup_str(ow_detection.version ? ow_detection.version : "1.0.0");
    ret->severity = (oktawatch_detection_types_severity_t)ow_detection.severity;
    ret->mitre = dup_list(ow_detection.mitre);
    ret->description = dup_str(ow_detection.description);
    ret->event_types = dup_list(ow_detection.event_types);
#if OW_CONTRACT_MINOR >= 2
    size_t np = ow_detection.n_prefilters, nk = ow_detection.n_config;
    ret->prefilters.len = np;
    ret->prefilters.ptr = np ? calloc(np, sizeof *ret->prefilters.ptr) : NULL;
    for (size_t i = 0; i < np; i++) {
        const ow_prefilter *p = &ow_detection.prefilters[i];
        oktawatch_detection_types_list_condition_t *all = &ret->prefilters.ptr[i].all;
        all->len = p->n;
        all->ptr = p->n ? calloc(p->n, sizeof *all->ptr) : NULL;
        for (size_t j = 0; j < p->n; j++) {
            const ow_condition *c = &p->all[j];
            oktawatch_detection_types_condition_t *w = &all->ptr[j];
            w->path = dup_str(c->path);
            w->negate = c->negate;
            w->test.tag = (uint8_t)c->test; // same order as the contract's `test`
            if (c->test == OW_EQUALS) w->test.val.equals = dup_str(c->arg);
            if (c->test == OW_PREFIX) w->test.val.prefix = dup_str(c->arg);
            if (c->test == OW_ONE_OF) w->test.val.one_of = dup_list(c->args);
        }
    }
    ret->config.len = nk;
    ret->config.ptr = nk ? calloc(nk, sizeof *ret->config.ptr) : NULL;
    for (size_t i = 0; i < nk; i++) {
        const ow_key *k = &ow_detection.config[i];
        oktawatch_detection_types_config_key_t *w = &ret->config.ptr[i];
        w->name = dup_str(k->name);
        w->kind = (oktawatch_detection_types_config_type_t)k->kind; // same order as `config-type`
        w->doc = dup_str(k->doc);
        w->default_.tag = (uint8_t)k->kind;
        switch (k->kind) {
        case OW_BOOLEAN: w->default_.val.boolean = k->boolean; break;
        case OW_INTEGER: w->default_.val.integer = k->integer; break;
        case OW_FLOAT: w->default_.val.float_ = k->number; break;
        case OW_TEXT: w->default_.val.text = dup_str(k->text); break;
        case OW_TEXT_LIST: w->default_.val.text_list = dup_list(k->text_list); break;
        }
    }
#endif
}

static bool start(const char **error) {
    started = ow_setup(error);
    return started;
}

#if OW_CONTRACT_MINOR >= 2
// The host's checked values, one per declared key.
bool exports_detection_configure(detection_list_tuple2_string_config_value_t *config, detection_string_t *err) {
    set_defaults();
    for (size_t i = 0; i < config->len; i++) {
        char *name = cstr(&config->ptr[i].f0);
        const oktawatch_detection_types_config_value_t *w = &config->ptr[i].f1;
        for (size_t j = 0; j < n_values; j++) {
            value_t *v = &values[j];
            if (strcmp(v->key->name, name) != 0 || (uint8_t)v->key->kind != w->tag) continue;
            switch (v->key->kind) {
            case OW_BOOLEAN: v->boolean = w->val.boolean; break;
            case OW_INTEGER: v->integer = w->val.integer; break;
            case OW_FLOAT: v->number = w->val.float_; break;
            case OW_TEXT:
                free(v->text);
                v->text = cstr(&w->val.text);
                break;
            case OW_TEXT_LIST:
                for (size_t k = 0; k < v->n_list; k++) free(v->list[k]);
                free(v->list);
                v->n_list = w->val.text_list.len;
                v->list = calloc(v->n_list ? v->n_list : 1, sizeof(char *));
                for (size_t k = 0; k < v->n_list; k++) v->list[k] = cstr(&w->val.text_list.ptr[k]);
                break;
            }
        }
        free(name);
    }
    detection_list_tuple2_string_config_value_free(config);
#else
bool exports_detection_configure(detection_string_t *config, detection_string_t *err) {
    char *text = cstr(config);
    detection_string_free(config);
    char *problems = parse_config(text);
    free(text);
    if (problems) {
        *err = dup_str(problems);
        free(problems);
        return false;
    }
#endif
    const char *error = "setup failed";
    if (!start(&error)) {
        *err = dup_str(error);
        return false;
    }
    return true;
}

// ------------------------------------------------------------ the event

struct ow_event {
    oktawatch_detection_event_borrow_okta_event_t raw;
    bool have_head;
    char *event_type;
    int64_t published_ms;
    char *outcome_result, *actor_alternate_id, *client_ip;
};

static void strs(ow_event *e, const char *const *paths, size_t n, char **out, bool texts) {
    detection_list_string_t list = {.ptr = calloc(n ? n : 1, sizeof(detection_string_t)), .len = n};
    for (size_t i = 0; i < n; i++) list.ptr[i] = view(paths[i]);
    detection_list_option_string_t got;
    oktawatch_detection_event_method_okta_event_get_strs(e->raw, &list, &got);
    free(list.ptr);
    for (size_t i = 0; i < n; i++) {
        out[i] = NULL;
        if (i < got.len && got.ptr[i].is_some) {
            out[i] = cstr(&got.ptr[i].val);
            if (texts && placeholder(out[i])) {
                free(out[i]);
                out[i] = NULL;
            }
        }
    }
    detection_list_option_string_free(&got);
}

static void head(ow_event *e) {
    if (e->have_head) return;
    static const char *const paths[] = {"outcome.result", "actor.alternateId", "client.ipAddress"};
    char *v[3];
    strs(e, paths, 3, v, true);
    e->outcome_result = v[0];
    e->actor_alternate_id = v[1];
    e->client_ip = v[2];
    detection_string_t t;
    oktawatch_detection_event_method_okta_event_event_type(e->raw, &t);
    e->event_type = cstr(&t);
    detection_string_free(&t);
    e->published_ms = oktawatch_detection_event_method_okta_event_published_ms(e->raw);
    e->have_head = true;
}

const char *ow_event_type(ow_event *e) { return head(e), e->event_type; }
int64_t ow_published_ms(ow_event *e) { return head(e), e->published_ms; }
const char *ow_actor_alternate_id(ow_event *e) { return head(e), e->actor_alternate_id; }
const char *ow_client_ip(ow_event *e) { return head(e), e->client_ip; }
const char *ow_outcome_result(ow_event *e) { return head(e), e->outcome_result; }

bool ow_event_is(ow_event *e, const char *pattern) {
    size_t n = strlen(pattern);
    if (n && pattern[n - 1] == '*') return strncmp(ow_event_type(e), pattern, n - 1) == 0;
    return strcmp(ow_event_type(e), pattern) == 0;
}

char *ow_str(ow_event *e, const char *path) {
    detection_string_t p = view(path), got;
    if (!oktawatch_detection_event_method_okta_event_get_str(e->raw, &p, &got)) return NULL;
    char *out = cstr(&got);
    detection_string_free(&got);
    return out;
}

char *ow_text(ow_event *e, const char *path) {
    char *s = ow_str(e, path);
    if (s && placeholder(s)) {
        free(s);
        return NULL;
    }
    return s;
}

void ow_texts(ow_event *e, const char *const *paths, size_t n, char **out) { strs(e, paths, n, out, true); }

void ow_texts_free(char **v, size_t n) {
    for (size_t i = 0; i < n; i++) free(v[i]);
}

int64_t ow_len(ow_event *e, const char *path) {
    detection_string_t p = view(path);
    uint32_t n;
    return oktawatch_detection_event_method_okta_event_len(e->raw, &p, &n) ? (int64_t)n : -1;
}

char *ow_to_json(ow_event *e) {
    detection_string_t got;
    oktawatch_detection_event_method_okta_event_to_json(e->raw, &got);
    char *out = cstr(&got);
    detection_string_free(&got);
    return out;
}

size_t ow_targets(ow_event *e, ow_target **out) {
    int64_t n = ow_len(e, "target");
    if (n > 64) n = 64;
    if (n <= 0) {
        *out = NULL;
        return 0;
    }
    static const char *const fields[] = {"id", "type", "alternateId", "displayName"};
    size_t count = (size_t)n * 4;
    char **paths = calloc(count, sizeof(char *)), **v = calloc(count, sizeof(char *));
    for (size_t i = 0; i < count; i++) {
        char no[24];
        paths[i] = ow_join("target[", ow_itoa((int64_t)(i / 4), no), "].", fields[i % 4], NULL);
    }
    strs(e, (const char *const *)paths, count, v, true);
    *out = calloc((size_t)n, sizeof(ow_target));
    for (size_t i = 0; i < (size_t)n; i++) {
        (*out)[i] = (ow_target){.id = v[4 * i], .type = v[4 * i + 1], .alternate_id = v[4 * i + 2], .display_name = v[4 * i + 3]};
    }
    for (size_t i = 0; i < count; i++) free(paths[i]);
    free(paths);
    free(v);
    return (size_t)n;
}

void ow_targets_free(ow_target *t, size_t n) {
    for (size_t i = 0; i < n; i++) {
        free(t[i].id);
        free(t[i].type);
        free(t[i].alternate_id);
        free(t[i].display_name);
    }
    free(t);
}

// ------------------------------------------------------------ prefilters (0.1: evaluated here)
#if OW_CONTRACT_MINOR < 2

static bool holds(const ow_condition *c, const oktawatch_detection_event_option_value_t *v) {
    bool present = v->is_some && v->val.tag != OKTAWATCH_DETECTION_TYPES_VALUE_NULL;
    bool is_text = v->is_some && v->val.tag == OKTAWATCH_DETECTION_TYPES_VALUE_TEXT;
    char *text = is_text ? cstr(&v->val.val.text) : NULL;
    bool ok = false;
    switch (c->test) {
    case OW_EQUALS: ok = text && strcmp(text, c->arg) == 0; break;
    case OW_ONE_OF:
        for (size_t i = 0; text && c->args && c->args[i]; i++) ok = ok || strcmp(text, c->args[i]) == 0;
        break;
    case OW_PREFIX: ok = text && strncmp(text, c->arg, strlen(c->arg)) == 0; break;
    case OW_EXISTS: ok = present; break;
    case OW_ABSENT: ok = !present; break;
    }
    free(text);
    return ok != c->negate;
}

static bool passes(ow_event *e) {
    if (ow_detection.n_prefilters == 0) return true;
    size_t n = 0;
    for (size_t i = 0; i < ow_detection.n_prefilters; i++) n += ow_detection.prefilters[i].n;
    detection_list_string_t paths = {.ptr = calloc(n ? n : 1, sizeof(detection_string_t)), .len = n};
    size_t k = 0;
    for (size_t i = 0; i < ow_detection.n_prefilters; i++)
        for (size_t j = 0; j < ow_detection.prefilters[i].n; j++) paths.ptr[k++] = view(ow_detection.prefilters[i].all[j].path);
    oktawatch_detection_event_list_option_value_t got;
    oktawatch_detection_event_method_okta_event_get_many(e->raw, &paths, &got);
    free(paths.ptr);
    bool any = false;
    k = 0;
    for (size_t i = 0; i < ow_detection.n_prefilters; i++) {
        bool all = true;
        for (size_t j = 0; j < ow_detection.prefilters[i].n; j++, k++) all = all && k < got.len && holds(&ow_detection.prefilters[i].all[j], &got.ptr[k]);
        any = any || all;
    }
    oktawatch_detection_event_list_option_value_free(&got);
    return any;
}
#endif

// ------------------------------------------------------------ state

uint32_t ow_count(const char *key, uint64_t window_ms) {
    detection_string_t k = view(key);
    return oktawatch_detection_state_count(&k, window_ms);
}
uint32_t ow_peek_count(const char *key, uint64_t window_ms) {
    detection_string_t k = view(key);
    return oktawatch_detection_state_peek_count(&k, window_ms);
}
uint32_t ow_distinct(const char *key, const char *member, uint64_t window_ms) {
    detection_string_t k = view(key), m = view(member);
    return oktawatch_detection_state_distinct(&k, &m, window_ms);
}
void ow_remember(const char *key, const char *value, uint64_t ttl_ms) {
    detection_string_t k = view(key);
    detection_list_u8_t v = {.ptr = (uint8_t *)value, .len = strlen(value)};
    oktawatch_detection_state_set(&k, &v, ttl_ms);
}
char *ow_recall(const char *key) {
    detection_string_t k = view(key);
    detection_list_u8_t got;
    if (!oktawatch_detection_state_get(&k, &got)) return NULL;
    char *out = cstr((detection_string_t *)&got);
    detection_list_u8_free(&got);
    return out;
}
void ow_forget(const char *key) {
    detection_string_t k = view(key);
    oktawatch_detection_state_remove(&k);
}
bool ow_last_seen(const char *key, const char *value, uint64_t ttl_ms, char **previous, int64_t *previous_ms) {
    detection_string_t k = view(key), v = view(value);
    detection_tuple2_string_s64_t got;
    if (!oktawatch_detection_state_last_seen(&k, &v, ttl_ms, &got)) return false;
    if (previous) *previous = cstr(&got.f0);
    if (previous_ms) *previous_ms = got.f1;
    detection_tuple2_string_s64_free(&got);
    return true;
}
bool ow_once_per(const char *key, uint64_t window_ms) {
#if OW_CONTRACT_MINOR >= 2
    detection_string_t wk = view(key);
    return oktawatch_detection_state_once_per(&wk, window_ms);
#else
    char *k = ow_join("once:", key, NULL);
    char *seen = ow_recall(k);
    bool first = seen == NULL;
    if (first) ow_remember(k, "1", window_ms);
    free(seen);
    free(k);
    return first;
#endif
}

// ------------------------------------------------------------ alerts

struct ow_alerts {
    detection_list_alert_t list;
    size_t cap;
};

struct ow_alert {
    detection_alert_t wit;
    size_t cap;
};

ow_alert *ow_alert_new(ow_alerts *alerts, const char *title) {
    if (alerts->list.len == alerts->cap) {
        alerts->cap = alerts->cap ? alerts->cap * 2 : 4;
        alerts->list.ptr = realloc(alerts->list.ptr, alerts->cap * sizeof(ow_alert));
        if (!alerts->list.ptr) abort();
    }
    // ow_alert begins with the wit alert; the array is of ow_alert, copied out at the end.
    ow_alert *a = &((ow_alert *)alerts->list.ptr)[alerts->list.len++];
    memset(a, 0, sizeof *a);
    a->wit.title = dup_str(title);
    return a;
}

ow_alert *ow_alert_severity(ow_alert *a, ow_severity s) {
    a->wit.severity.is_some = true;
    a->wit.severity.val = (oktawatch_detection_types_severity_t)s;
    return a;
}

ow_alert *ow_alert_dedup(ow_alert *a, const char *key) {
    if (a->wit.dedup_key.is_some) detection_string_free(&a->wit.dedup_key.val);
    a->wit.dedup_key.is_some = true;
    a->wit.dedup_key.val = dup_str(key);
    return a;
}

ow_alert *ow_alert_field(ow_alert *a, const char *name, const char *value) {
    if (!value) return a;
    detection_list_tuple2_string_string_t *c = &a->wit.context;
    if (c->len == a->cap) {
        a->cap = a->cap ? a->cap * 2 : 8;
        c->ptr = realloc(c->ptr, a->cap * sizeof *c->ptr);
        if (!c->ptr) abort();
    }
    c->ptr[c->len++] = (detection_tuple2_string_string_t){dup_str(name), dup_str(value)};
    return a;
}

ow_alert *ow_alert_field_int(ow_alert *a, const char *name, int64_t value) {
    char buf[24];
    return ow_alert_field(a, name, ow_itoa(value, buf));
}

ow_alert *ow_alert_field_bool(ow_alert *a, const char *name, bool value) {
    return ow_alert_field(a, name, value ? "true" : "false");
}

#if OW_CONTRACT_MINOR >= 2
static char *opt_text(const detection_option_string_t *s) {
    if (!s->is_some) return NULL;
    char *out = cstr(&s->val);
    if (placeholder(out)) {
        free(out);
        return NULL;
    }
    return out;
}

void exports_detection_on_event(detection_borrow_okta_event_t raw, detection_event_head_t *h, detection_list_alert_t *ret) {
    ow_event e = {.raw = raw, .have_head = true, .published_ms = h->published_ms};
    e.event_type = cstr(&h->event_type);
    e.outcome_result = opt_text(&h->outcome_result);
    e.actor_alternate_id = opt_text(&h->actor_alternate_id);
    e.client_ip = opt_text(&h->client_ip);
    detection_event_head_free(h);
    ow_alerts alerts = {0};
    {
#else
void exports_detection_on_event(detection_borrow_okta_event_t raw, detection_list_alert_t *ret) {
    ow_event e = {.raw = raw};
    ow_alerts alerts = {0};
    if (passes(&e)) {
#endif
        const char *error = "setup failed";
        if (!started && !start(&error)) {
            set_defaults();
            if (!start(&error)) fail(error);
        }
        ow_on_event(&e, &alerts);
    }
    free(e.event_type);
    free(e.outcome_result);
    free(e.actor_alternate_id);
    free(e.client_ip);
    // Out as the contract's list: the wit alerts, packed.
    ret->len = alerts.list.len;
    ret->ptr = ret->len ? malloc(ret->len * sizeof(detection_alert_t)) : NULL;
    for (size_t i = 0; i < ret->len; i++) ret->ptr[i] = ((ow_alert *)alerts.list.ptr)[i].wit;
    free(alerts.list.ptr);
    oktawatch_detection_event_okta_event_drop_borrow(raw);
}
