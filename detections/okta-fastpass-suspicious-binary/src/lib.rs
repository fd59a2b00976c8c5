//! # FastPass from an unsigned or non-browser binary
//!
//! Rule: a successful Okta FastPass verification
//! (`user.authentication.auth_via_mfa` or `user.authentication.verify`,
//! `debugContext.debugData.factor` = `SIGNED_NONCE`, `outcome.result` =
//! `SUCCESS`) bound over the loopback interface
//! (`authenticationContext.authenticatorContext.bindingMethod` = `LOOPBACK`),
//! where Okta Verify reports the calling program as:
//! - **unsigned**: `authenticatorContext.validationStatus` = `NO_SIGNATURE`
//!   (high): a script or tool asked Okta Verify for a FastPass assertion;
//! - **not a known browser**: `authenticatorContext.binaryIdentifier`
//!   contains none of `trusted_binaries` (medium).
//!
//! Malware on the device, or an attacker's tool, can drive FastPass on the
//! user's behalf; Okta's trusted-app filters block it, this shows it.
//! One alert per user and binary.
//!
//! Config keys (defaults):
//! - `trusted_binaries = ["chrome", "edge", "msedge", "firefox", "safari", "brave", "microsoft", "opera", "vivaldi", "arc"]`:
//!   case-insensitive fragments of `binaryIdentifier` accepted as browsers
//!
//! References: Okta's LogEvent `authenticationContext.authenticatorContext`
//! (bindingMethod, validationStatus, binaryIdentifier, signerDistinguishedName);
//! Okta's customer detection "FastPass authentication via suspicious binary";
//! MITRE ATT&CK T1557 (Adversary-in-the-Middle) and T1111.
use oktawatch_guest::prelude::*;

const DEFAULT_TRUSTED: &[&str] =
    &["chrome", "edge", "msedge", "firefox", "safari", "brave", "microsoft", "opera", "vivaldi", "arc"];

struct FastPassBinary {
    trusted: Vec<String>,
}

impl Detection for FastPassBinary {
    fn info() -> Info {
        Info::new("okta-fastpass-suspicious-binary", "Okta FastPass used from an unsigned or non-browser binary")
            .severity(Severity::Medium)
            .mitre(&["T1557", "T1111"])
            .description(
                "Okta FastPass signed in a user for a program that is unsigned or is not a known browser: \
                 malware or an attacker's tool driving Okta Verify on the user's device.",
            )
            .event_types(&["user.authentication.auth_via_mfa", "user.authentication.verify"])
            // Every event on_event can act on passes (see its first checks); the host skips the rest.
            .prefilter(
                Prefilter::new()
                    .equals("debugContext.debugData.factor", "SIGNED_NONCE")
                    .equals("outcome.result", "SUCCESS")
                    .equals("authenticationContext.authenticatorContext.bindingMethod", "LOOPBACK"),
            )
            .config_list("trusted_binaries", DEFAULT_TRUSTED, "case-insensitive fragments of binaryIdentifier accepted as browsers")
    }

    fn new(config: &Config) -> Result<Self, String> {
        let trusted: Vec<String> = config.get("trusted_binaries")?;
        Ok(FastPassBinary { trusted: trusted.iter().map(|s| s.to_lowercase()).collect() })
    }

    fn on_event(&mut self, event: &Event, alerts: &mut Alerts) {
        let f = event.texts(&[
            "debugContext.debugData.factor",
            "outcome.result",
            "authenticationContext.authenticatorContext.bindingMethod",
            "authenticationContext.authenticatorContext.validationStatus",
            "authenticationContext.authenticatorContext.binaryIdentifier",
            "authenticationContext.authenticatorContext.signerDistinguishedName",
            "authenticationContext.authenticatorContext.binaryPath",
        ]);
        let [factor, result, binding, validation, binary, signer, path] = <[Option<String>; 7]>::try_from(f).unwrap_or_default();
        if factor.as_deref() != Some("SIGNED_NONCE") || result.as_deref() != Some("SUCCESS") || binding.as_deref() != Some("LOOPBACK") {
            return;
        }
        let unsigned = validation.as_deref() == Some("NO_SIGNATURE");
        let browser = binary.as_deref().is_some_and(|b| {
            let b = b.to_lowercase();
            self.trusted.iter().any(|t| b.contains(t.as_str()))
        });
        if !unsigned && browser {
            return;
        }
        let user = okta::actor_login(event).unwrap_or_else(|| "unknown user".into());
        let name = binary.clone().unwrap_or_else(|| "an unnamed binary".into());
        let (title, severity) = if unsigned {
            (format!("Okta FastPass for {user} from an unsigned binary: {name}"), Severity::High)
        } else {
            (format!("Okta FastPass for {user} from a non-browser binary: {name}"), Severity::Medium)
        };
        alerts.push(
            Alert::new(title)
                .severity(severity)
                .dedup(format!("{user}|{name}"))
                .field("user", &user)
                .field("binary", binary)
                .field("binary_path", path)
                .field("signer", signer)
                .field("validation_status", validation)
                .field("ip", event.client().ip()),
        );
    }
}

export_detection!(FastPassBinary);
