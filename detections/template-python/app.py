"""Example detection in Python: an Okta admin role granted to a user.

A template to copy (see guest-sdk/python/README.md). The same behaviour is
written in Rust, JavaScript and C beside it (detections/template-js,
detections/example-c); all share these cases.

Rule: a successful ``user.account.privilege.grant`` whose granted roles
(``debugContext.debugData.privilegeGranted``) include an admin role. The
same grant to the same user alerts once an hour; from ``burst`` grants by one
actor within an hour the alert is critical.

Config keys (``[detections.config.example-python-admin-grant]``):
- ``admin_roles`` (["admin"]): case-insensitive fragments of admin role names
- ``ignore_actors`` ([]): actors whose grants never alert
- ``burst`` (3): grants by one actor within an hour that make it critical
"""

from oktawatch import Alert, Detection, Key, Prefilter, Severity, export, hours, state, where


class AdminGrant(Detection):
    id = "example-python-admin-grant"
    title = "Okta admin role granted (Python example)"
    version = "0.1.0"
    severity = Severity.HIGH
    mitre = ["T1098.003"]
    description = "An admin role was granted to a user (example detection from the Python template)."
    event_types = ["user.account.privilege.grant"]
    # Evaluated by the host (contract 0.2) before on_event is called.
    prefilters = [Prefilter(where("outcome.result").equals("SUCCESS"))]
    config = [
        Key.text_list("admin_roles", ["admin"], "case-insensitive fragments of admin role names"),
        Key.text_list("ignore_actors", [], "actors whose grants never alert"),
        Key.integer("burst", 3, "grants by one actor within an hour that make the alert critical"),
    ]

    def __init__(self, config):
        self.admin_roles = [r.lower() for r in config.get("admin_roles")]
        self.ignore_actors = {a.lower() for a in config.get("ignore_actors")}
        self.burst = config.get("burst")
        if self.burst < 1:
            raise ValueError("burst must be at least 1")

    def on_event(self, event, alerts):
        granted = event.debug_data("privilegeGranted")
        if granted is None:
            return
        roles = [r.strip() for r in granted.split(",") if r.strip()]
        admin = [r for r in roles if any(f in r.lower() for f in self.admin_roles)]
        if not admin:
            return
        actor = event.actor.alternate_id or "unknown actor"
        if actor.lower() in self.ignore_actors:
            return
        target = event.target_of_type("User")
        user = (target and (target.alternate_id or target.display_name or target.id)) or "unknown user"
        roles_text = ", ".join(admin)

        grants = state.count(f"grants:{actor.lower()}", hours(1))
        if not state.once_per(f"grant:{user.lower()}:{roles_text.lower()}", hours(1)):
            return
        title = f"{roles_text} granted to {user} by {actor}"
        alert = Alert(title).dedup(f"{user}|{roles_text.lower()}")
        if grants >= self.burst:
            alert = Alert(f"{title} ({grants} grants within an hour)").dedup(f"{user}|{roles_text.lower()}")
            alert.severity(Severity.CRITICAL)
        alerts.append(
            alert.field("actor", actor)
            .field("user", user)
            .field("roles", roles_text)
            .field("grants_last_hour", grants)
            .field("client_ip", event.client.ip)
        )


WitWorld = export(AdminGrant)
