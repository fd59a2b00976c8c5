// Example detection in C: an Okta admin role granted to a user.
//
// The same behaviour as detections/template-python and template-js, and the
// same cases. Built with clang for wasm32-wasi against wasi-libc, over
// wit-bindgen's C bindings and the oktawatch C helper (guest-sdk/c).
//
// Rule: a successful `user.account.privilege.grant` whose granted roles
// (`debugContext.debugData.privilegeGranted`) include an admin role. The same
// grant to the same user alerts once an hour; from `burst` grants by one
// actor within an hour the alert is critical.
//
// Config keys ([detections.config.example-c-admin-grant]):
// - admin_roles (["admin"]): case-insensitive fragments of admin role names
// - ignore_actors ([]): actors whose grants never alert
// - burst (3): grants by one actor within an hour that make it critical
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oktawatch.h"

static const char *const MITRE[] = {"T1098.003", NULL};
static const char *const EVENT_TYPES[] = {"user.account.privilege.grant", NULL};
static const char *const ADMIN_ROLES[] = {"admin", NULL};
static const char *const NONE[] = {NULL};

static const ow_condition SUCCESSFUL[] = {{.path = "outcome.result", .test = OW_EQUALS, .arg = "SUCCESS"}};
static const ow_prefilter PREFILTERS[] = {{.all = SUCCESSFUL, .n = 1}};

static const ow_key CONFIG[] = {
    OW_KEY_TEXT_LIST("admin_roles", ADMIN_ROLES, "case-insensitive fragments of admin role names"),
    OW_KEY_TEXT_LIST("ignore_actors", NONE, "actors whose grants never alert"),
    OW_KEY_INTEGER("burst", 3, "grants by one actor within an hour that make the alert critical"),
};

const ow_info ow_detection = {
    .id = "example-c-admin-grant",
    .title = "Okta admin role granted (C example)",
    .version = "0.1.0",
    .severity = OW_HIGH,
    .mitre = MITRE,
    .description = "An admin role was granted to a user (example detection in C).",
    .event_types = EVENT_TYPES,
    .prefilters = PREFILTERS,
    .n_prefilters = 1,
    .config = CONFIG,
    .n_config = sizeof CONFIG / sizeof CONFIG[0],
};

static int64_t burst;

bool ow_setup(const char **error) {
    burst = ow_config_integer("burst");
    if (burst < 1) {
        *error = "burst must be at least 1";
        return false;
    }
    return true;
}

// Case-insensitive: does `haystack` contain `needle`?
static bool contains_ci(const char *haystack, const char *needle) {
    size_t n = strlen(needle);
    for (const char *h = haystack; *h; h++) {
        if (strncasecmp(h, needle, n) == 0) return true;
    }
    return n == 0;
}

static bool in_list_ci(const char *name, const char *value) {
    const char *const *items;
    size_t n = ow_config_text_list(name, &items);
    for (size_t i = 0; i < n; i++) {
        if (strcasecmp(items[i], value) == 0) return true;
    }
    return false;
}

static bool is_admin_role(const char *role) {
    const char *const *fragments;
    size_t n = ow_config_text_list("admin_roles", &fragments);
    for (size_t i = 0; i < n; i++) {
        if (contains_ci(role, fragments[i])) return true;
    }
    return false;
}

static void lower(char *s) {
    for (; *s; s++) *s = (char)tolower((unsigned char)*s);
}

void ow_on_event(ow_event *event, ow_alerts *alerts) {
    char *granted = ow_text(event, "debugContext.debugData.privilegeGranted");
    if (!granted) return;

    // The admin roles among the granted ones, joined by ", ".
    char *roles = calloc(1, strlen(granted) + 1);
    for (char *save = NULL, *r = strtok_r(granted, ",", &save); r; r = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*r)) r++;
        char *end = r + strlen(r);
        while (end > r && isspace((unsigned char)end[-1])) *--end = 0;
        if (*r && is_admin_role(r)) {
            if (*roles) strcat(roles, ", ");
            strcat(roles, r);
        }
    }
    free(granted);
    const char *actor = ow_actor_alternate_id(event);
    if (!actor) actor = "unknown actor";
    if (!*roles || in_list_ci("ignore_actors", actor)) {
        free(roles);
        return;
    }

    ow_target *targets;
    size_t n = ow_targets(event, &targets);
    const char *user = "unknown user";
    for (size_t i = 0; i < n; i++) {
        if (targets[i].type && strcmp(targets[i].type, "User") == 0) {
            user = targets[i].alternate_id   ? targets[i].alternate_id
                   : targets[i].display_name ? targets[i].display_name
                   : targets[i].id           ? targets[i].id
                                             : user;
            break;
        }
    }

    char *actor_lc = strdup(actor), *user_lc = strdup(user), *roles_lc = strdup(roles);
    lower(actor_lc);
    lower(user_lc);
    lower(roles_lc);
    char *key = ow_join("grants:", actor_lc, NULL);
    uint32_t grants = ow_count(key, OW_HOURS(1));
    free(key);
    key = ow_join("grant:", user_lc, ":", roles_lc, NULL);
    bool first = ow_once_per(key, OW_HOURS(1));
    free(key);

    if (first) {
        ow_alert *a;
        if (grants >= burst) {
            char n[24];
            char *title = ow_join(roles, " granted to ", user, " by ", actor, " (", ow_itoa(grants, n), " grants within an hour)", NULL);
            a = ow_alert_severity(ow_alert_new(alerts, title), OW_CRITICAL);
            free(title);
        } else {
            char *title = ow_join(roles, " granted to ", user, " by ", actor, NULL);
            a = ow_alert_new(alerts, title);
            free(title);
        }
        char *dedup = ow_join(user, "|", roles_lc, NULL);
        ow_alert_dedup(a, dedup);
        free(dedup);
        ow_alert_field(a, "actor", actor);
        ow_alert_field(a, "user", user);
        ow_alert_field(a, "roles", roles);
        ow_alert_field_int(a, "grants_last_hour", grants);
        ow_alert_field(a, "client_ip", ow_client_ip(event));
    }
    free(actor_lc);
    free(user_lc);
    free(roles_lc);
    free(roles);
    ow_targets_free(targets, n);
}
