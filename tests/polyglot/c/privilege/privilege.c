// A successful `user.account.privilege.grant` raises an alert: the same
// detection as tests/polyglot/python/privilege and tests/polyglot/js, in C
// against the bindings wit-bindgen generates (detection.h), built as a
// wasi-libc reactor; printf goes to the host log.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "detection.h"

static detection_string_t str(const char *s) {
    detection_string_t out;
    detection_string_dup(&out, s);
    return out;
}

// The string at `path`, NUL-terminated (malloc'd), or a copy of `fallback`.
static char *get(detection_borrow_okta_event_t ev, const char *path, const char *fallback) {
    detection_string_t p, v;
    detection_string_set(&p, path);
    if (!oktawatch_detection_event_method_okta_event_get_str(ev, &p, &v)) {
        return strdup(fallback);
    }
    char *out = malloc(v.len + 1);
    memcpy(out, v.ptr, v.len);
    out[v.len] = 0;
    detection_string_free(&v);
    return out;
}

void exports_detection_describe(detection_detection_info_t *ret) {
    ret->id = str("c-privilege-grant");
    ret->title = str("Admin privilege granted (C)");
    ret->version = str("1.0.0");
    ret->severity = OKTAWATCH_DETECTION_TYPES_SEVERITY_HIGH;
    ret->mitre.len = 1;
    ret->mitre.ptr = malloc(sizeof(detection_string_t));
    ret->mitre.ptr[0] = str("T1098.003");
    ret->description = str("A successful user.account.privilege.grant.");
    ret->event_types.len = 1;
    ret->event_types.ptr = malloc(sizeof(detection_string_t));
    ret->event_types.ptr[0] = str("user.account.privilege.grant");
}

bool exports_detection_configure(detection_string_t *config, detection_string_t *err) {
    (void)err;
    detection_string_free(config);
    return true;
}

// The component model wants a lent handle given back before the call returns.
void exports_detection_on_event(detection_borrow_okta_event_t ev, detection_list_alert_t *ret) {
    ret->len = 0;
    ret->ptr = NULL;
    char *result = get(ev, "outcome.result", "");
    int success = strcmp(result, "SUCCESS") == 0;
    free(result);
    if (!success) {
        oktawatch_detection_event_okta_event_drop_borrow(ev);
        return;
    }
    char *actor = get(ev, "actor.alternateId", "unknown");
    char *target = get(ev, "target[0].alternateId", "unknown");
    oktawatch_detection_event_okta_event_drop_borrow(ev);
    printf("privilege grant by %s to %s\n", actor, target);
    char title[512];
    snprintf(title, sizeof title, "%s granted admin privileges to %s", actor, target);
    detection_alert_t *a = calloc(1, sizeof *a);
    a->title = str(title);
    a->severity.is_some = false;
    a->dedup_key.is_some = true;
    a->dedup_key.val = str(target);
    a->context.len = 2;
    a->context.ptr = malloc(2 * sizeof(detection_tuple2_string_string_t));
    a->context.ptr[0].f0 = str("actor");
    a->context.ptr[0].f1 = str(actor);
    a->context.ptr[1].f0 = str("target");
    a->context.ptr[1].f1 = str(target);
    a->mitre.len = 0;
    a->mitre.ptr = NULL;
    ret->ptr = a;
    ret->len = 1;
    free(actor);
    free(target);
}
