//! Scenes for the detections added for issue 15 (behaviours the pack did not
//! cover before), each a few events on top of the main story:
//!
//! 9. a password spray spread over six proxy IPs, two tries each, twelve users;
//! 10. three password-reset emails for ken@ within minutes;
//! 11. someone at the London office types a password into the username field;
//! 12. nadia@ has three live sessions from three networks;
//! 13. an admin console visit through a Tor exit; the password health report exported;
//! 14. FastPass asked for by an unsigned binary on yuki@'s laptop;
//! 15. mallory-admin@ changes the protected-actions settings, removes olivia@'s
//!     super admin role, adds an AD agent, creates `svc_network_backup`; svc-backup@
//!     signs in through the partner IdP she created;
//! 16. an OPA server account password changed out of band;
//! 17. quinn@'s OAuth code relayed to a phishing callback (mismatched redirect URI);
//! 18. MFA challenges left unanswered on three apps for pablo@;
//! 19. heidi@'s stolen session opens ten apps in a minute;
//! 20. wendy2@, who always uses her laptop, signs on from an Unknown client;
//! 21. one attacker laptop (`DESKTOP-8F3K2QH`) registered to two users;
//! 22. judy@ changes her own password.

use super::*;

/// A residential-proxy pool for the spread spray: six networks, two tries each.
const POOL: [Place; 6] = [
    place("198.51.100.161", ("Sao Paulo", "Sao Paulo", "Brazil", "01000", -23.55, -46.63), (28573, "claro nxt", "claro", "claro.com.br", false)),
    place("198.51.100.162", ("Jakarta", "Jakarta", "Indonesia", "10110", -6.21, 106.85), (7713, "telkomnet", "telkom indonesia", "telkom.co.id", false)),
    place("198.51.100.163", ("Hanoi", "Hanoi", "Vietnam", "100000", 21.03, 105.85), (45899, "vnpt corp", "vnpt", "vnpt.vn", false)),
    place("198.51.100.164", ("Lagos", "Lagos", "Nigeria", "100001", 6.52, 3.38), (29465, "mtn nigeria", "mtn", "mtn.ng", false)),
    place("198.51.100.165", ("Mumbai", "Maharashtra", "India", "400001", 19.08, 72.88), (9829, "bsnl", "bsnl", "bsnl.in", false)),
    place("198.51.100.166", ("Bogota", "Bogota", "Colombia", "110111", 4.71, -74.07), (3816, "colombia telecomunicaciones", "movistar", "movistar.co", false)),
];
const SF_GEO: Geo = ("San Francisco", "California", "United States", "94105", 37.7898, -122.3942);
/// Two more networks in San Francisco (no travel): a residential proxy and a VPS.
const SF_PROXY: Place = place("198.51.100.171", SF_GEO, (46562, "performive llc", "performive", "performive.com", false));
const SF_VPS: Place = place("198.51.100.172", SF_GEO, (14061, "digitalocean, llc", "digitalocean", "digitalocean.com", false));
const PHISH_HOST: Place = place("198.51.100.180", AMSTERDAM, VULTR);

impl Gen {
    /// The scenes for the issue-15 detections (see the module doc).
    pub(super) fn uncovered(&mut self) {
        self.spread_spray();
        self.recovery_and_typos();
        self.concurrent_sessions();
        self.admin_through_proxy();
        self.fastpass_unsigned();
        self.mallory_more();
        self.oauth_and_mfa();
        self.app_sweep_and_unknown();
        self.shared_device();
    }

    /// Sets `pointer` (a JSON pointer under the event) of the last event emitted.
    fn patch_last(&mut self, pointer: &str, value: Value) {
        if let Some(slot) = self.out.last_mut().and_then(|(_, _, e)| e.pointer_mut(pointer)) {
            *slot = value;
        }
    }

    /// 9. Twelve users, six IPs, two failures each, over eight minutes.
    fn spread_spray(&mut self) {
        let t0 = self.at(0.36);
        for i in 0..12 {
            let victim = who(&format!("user{:02}", i + 1), &format!("User {:02}", i + 1));
            let c = self.ctx(victim, &POOL[i / 2], &CHROME_WIN, false);
            let t = t0 + self.secs(40.0 * i as f64) + self.jitter(10.0);
            self.failed_login(t, &c);
        }
    }

    /// 10–11. Reset emails bombing ken@; a password typed as a login.
    fn recovery_and_typos(&mut self) {
        let ken = self.ctx(person("ken"), &PHISH_HOST, &CHROME_WIN, false);
        let t0 = self.at(0.40);
        for i in 0..3 {
            let e = ev("system.email.password_reset.sent_message").target(user_tgt(&ken.who));
            self.emit(t0 + self.mins(2.0 * i as f64), &ken, e);
        }
        // What Okta logs for an unknown login: the typed text as alternateId.
        let typed = Who { id: "unknown".into(), login: "Winter2026!lf".into(), name: "unknown".into() };
        let typo = self.ctx(typed, &LONDON, &CHROME_MAC, false);
        self.failed_login(self.at(0.26), &typo);
    }

    /// 12. nadia@: her office session plus two others from other networks in the same city.
    fn concurrent_sessions(&mut self) {
        let nadia = who("nadia", "Nadia Karimi");
        let t0 = self.at(0.50);
        for (i, p) in [&SF, &SF_PROXY, &SF_VPS].into_iter().enumerate() {
            let c = self.ctx(nadia.clone(), p, &CHROME_MAC, false);
            self.emit(t0 + self.mins(6.0 * i as f64), &c, ev("user.session.start"));
        }
    }

    /// 13. The Admin Console through a Tor exit, and the password health report exported.
    fn admin_through_proxy(&mut self) {
        let console = tgt(&stable_id("0oa", "saasure"), "AppInstance", "Okta Admin Console", "Okta Admin Console", Value::Null);
        let ops = self.ctx(who("ops-admin", "Ops Admin"), &TOR_EXIT, &FIREFOX_WIN, false);
        let e = ev("user.session.access_admin_app").target(console.clone()).uri("/admin/users".into());
        self.emit(self.at(0.58), &ops, e);
        let e = ev("user.session.access_admin_app").target(console).uri("/reports/password-health/async_csv_download_schedule".into());
        self.emit(self.at(0.60), &ops, e);
    }

    /// 14. A script on yuki@'s laptop drives Okta Verify for a FastPass assertion.
    fn fastpass_unsigned(&mut self) {
        let c = self.ctx(person("yuki"), &SF, &CHROME_MAC, false);
        let e = ev("user.authentication.auth_via_mfa").target(enrollment(&c.who, "Okta Verify", "Use Okta FastPass"));
        self.emit(self.at(0.66), &c, e.dbg("factor", "SIGNED_NONCE"));
        let ctx = json!({"bindingMethod": "LOOPBACK", "validationStatus": "NO_SIGNATURE", "binaryIdentifier": "python3",
                         "binaryPath": "/usr/local/bin/python3"});
        if let Some((_, _, e)) = self.out.last_mut() {
            e["authenticationContext"]["authenticatorContext"] = ctx;
        }
    }

    /// 15. More of mallory-admin@'s takeover, after the steps of scene 7.
    fn mallory_more(&mut self) {
        let c = self.ctx(who("mallory-admin", "Mallory Reyes"), &MALLORY_VPS, &CHROME_WIN, false);
        let t0 = self.at(0.72) + self.mins(11.0);
        let olivia = person("olivia");
        let role = tgt("SUPER_ADMIN", "ROLE", "unknown", "Super Administrator", Value::Null);
        let steps = [
            (0.0, ev("security.protected_action.settings.update")),
            (0.5, ev("user.account.privilege.revoke").target(user_tgt(&olivia)).target(role)
                .dbg("privilegeRevoked", "Super administrator").uri(format!("/api/v1/users/{}/roles", olivia.id))),
            (1.0, ev("system.agent.ad.create")
                .target(tgt(&stable_id("0oa", "ad-agent-2"), "ADAgent", "DC-ROGUE", "DC-ROGUE agent", Value::Null))),
            (1.5, ev("user.lifecycle.create").target(user_tgt(&who("svc_network_backup", "svc_network_backup")))
                .uri("/api/v1/users?activate=true".into())),
        ];
        for (m, e) in steps {
            self.emit(t0 + self.mins(m), &c, e);
        }
        // svc-backup@ signs in through the partner IdP created in scene 7.
        let svc = self.ctx(who("svc-backup", "svc-backup"), &MALLORY_VPS, &CHROME_WIN, false);
        let idp = stable_id("0oa", "partner-idp");
        let e = ev("user.authentication.auth_via_IDP").target(tgt(&idp, "IdP", "Acme Partner SSO", "Acme Partner SSO", Value::Null));
        self.emit(t0 + self.mins(2.0), &svc, e);
        self.patch_last("/authenticationContext/issuer", json!({"id": idp, "type": "IdP"}));
        // 16. The vaulted root password of a database server, changed on the server itself.
        let ops = self.ctx(who("opa-agent", "OPA"), &CHICAGO, &CHROME_WIN, false);
        let e = ev("pam.server_account.password_change.out_of_band")
            .target(tgt("sa-root-db1", "server_account", "root", "root", Value::Null))
            .target(tgt("srv-db1", "server", "db-prod-01", "db-prod-01", Value::Null));
        self.emit(t0 + self.mins(3.0), &ops, e);
    }

    /// 17–18. A relayed OAuth code; pablo@'s MFA left unanswered on three apps.
    fn oauth_and_mfa(&mut self) {
        let victim = self.ctx(person("quinn"), &PHISH_HOST, &CHROME_WIN, false);
        let e = ev("app.oauth2.as.token.grant").outcome("FAILURE", "mismatched_redirect_uri")
            .dbg("grantType", "authorization_code").dbg("redirectUri", "https://acme-login.example.net/callback");
        self.emit(self.at(0.44), &victim, e);
        let portal = stable_id("0oa", "devportal");
        self.patch_last("/client/id", json!(portal));
        let app = json!({"id": portal, "type": "PublicClientApp", "alternateId": portal, "displayName": "Acme Developer Portal"});
        self.patch_last("/actor", app);
        let c = self.ctx(who("pablo", "Pablo Ruiz"), &STUFFING_HOST, &CHROME_LINUX, false);
        let t0 = self.at(0.68);
        for (i, app) in APPS.iter().take(3).enumerate() {
            let e = ev("policy.evaluate_sign_on").outcome("CHALLENGE", "Sign-on policy evaluation resulted in CHALLENGE");
            self.emit(t0 + self.mins(2.0 * i as f64), &c, e.target(app_tgt(app)));
        }
    }

    /// 19–20. Heidi's stolen session opens ten apps; wendy2@ signs on from an Unknown client.
    fn app_sweep_and_unknown(&mut self) {
        const MORE: [App; 6] = [("Workday", "workday"), ("Zoom", "zoomus"), ("Box", "boxnet"), ("Jira Cloud", "jira_cloud"),
            ("Confluence Cloud", "confluence_cloud"), ("ServiceNow", "servicenow_ud")];
        let thief = self.ctx(person("heidi"), &REPLAY_HOST, &PY_REQUESTS, true);
        let t0 = self.at(0.47);
        for (i, app) in APPS.iter().chain(MORE.iter()).enumerate() {
            self.sso(t0 + self.secs(5.0 * i as f64), &thief, app);
        }
        let wendy = self.ctx(who("wendy2", "Wendy Lin"), &CHICAGO, &CHROME_WIN, false);
        for i in 0..5 {
            self.sso(self.at(0.10 + 0.1 * i as f64), &wendy, &APPS[i % 4]);
        }
        let odd = Ctx { agent: &PY_REQUESTS, ..wendy };
        self.sso(self.at(0.93), &odd, &AWS);
    }

    /// 21. The attacker's laptop enrolled for two phished users.
    fn shared_device(&mut self) {
        let device = tgt("guo1ATTACKERLAPTOP01", "Device", "unknown", "DESKTOP-8F3K2QH",
            json!({"oktaDeviceId": "guo1ATTACKERLAPTOP01", "osPlatform": "WINDOWS", "managed": false}));
        for (i, login) in ["xavier", "zoe"].iter().enumerate() {
            let c = self.ctx(person(login), &PHISH_HOST, &EDGE_WIN, false);
            let e = ev("device.user.add").target(device.clone()).target(user_tgt(&c.who));
            self.emit(self.at(0.75) + self.mins(3.0 * i as f64), &c, e);
        }
        let judy = self.ctx(person("judy"), &SF, &SAFARI_MAC, false);
        let e = ev("user.account.update_password").target(user_tgt(&judy.who)).uri("/api/v1/users/me/credentials/change_password".into());
        self.emit(self.at(0.33), &judy, e);
    }
}
