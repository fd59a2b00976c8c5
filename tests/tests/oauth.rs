//! OAuth 2.0 service-app auth, end to end: the oktawatch process gets access
//! tokens from the emulator's token endpoint (client assertions and DPoP
//! proofs verified for real, with the keys made here) and polls the System
//! Log with them into a real Unix datagram socket.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use oktawatch_emulator::oauth::OAuthApp;
use oktawatch_tests::*;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use rsa::traits::PublicKeyParts;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::Duration;

const LONG: Duration = Duration::from_secs(60);
const CLIENT_ID: &str = "0oa8test5ServiceApp7";

fn rsa_key() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048).expect("an RSA key")
}

/// The public JWK of an RSA key, as registered on the app.
fn rsa_public_jwk(k: &rsa::RsaPrivateKey, kid: &str) -> Value {
    json!({"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
           "n": B64.encode(k.n().to_bytes_be()), "e": B64.encode(k.e().to_bytes_be())})
}

fn ec_key() -> p256::SecretKey {
    p256::SecretKey::random(&mut rsa::rand_core::OsRng)
}

/// A JWK (public, or private with `d`) for an EC key, with a `kid`.
fn ec_jwk(k: &p256::SecretKey, kid: &str, private: bool) -> Value {
    let text = if private { k.to_jwk_string().to_string() } else { k.public_key().to_jwk_string() };
    let mut v: Value = serde_json::from_str(&text).unwrap();
    v["kid"] = json!(kid);
    v
}

/// The parts of a key file that must never be seen again: PEM body lines, JWK private members.
fn secret_parts(key_text: &str) -> Vec<String> {
    if let Ok(v) = serde_json::from_str::<Value>(key_text) {
        return ["d", "p", "q", "dp", "dq", "qi"].iter().filter_map(|m| v[m].as_str().map(str::to_string)).collect();
    }
    key_text.lines().filter(|l| !l.starts_with("-----") && l.len() >= 32).map(str::to_string).collect()
}

struct Setup {
    dir: tempfile::TempDir,
    okta: Okta,
    socket: PathBuf,
    config: PathBuf,
    key_text: String,
}

/// An emulator with `app`, the private key file, and a config for an oauth org.
fn setup(app: OAuthApp, key_text: String, extra_org: &str) -> Setup {
    let dir = tempfile::Builder::new().prefix("ow").tempdir_in("/tmp").unwrap();
    let okta = Okta::start(EmulatorOptions { token: TOKEN.into(), oauth: Some(app), ..Default::default() });
    let socket = dir.path().join("q.sock");
    let key = dir.path().join("app-key");
    std::fs::write(&key, &key_text).unwrap();
    let org = format!(
        r#"
[[okta]]
name = "test"
org_url = "{}"
auth = "oauth"
client_id = "{CLIENT_ID}"
private_key_file = "{}"
poll_interval = "1s"
page_limit = 100
{extra_org}
"#,
        okta.url(),
        key.display()
    );
    let config = write_config_for(dir.path(), &org, &socket, "");
    Setup { dir, okta, socket, config, key_text }
}

fn run(s: &Setup, log_level: &str) -> Host {
    Host::start(&["run", "--config", s.config.to_str().unwrap()], &[("OKTAWATCH_LOG", log_level)])
}

fn uuids(events: &[Value]) -> Vec<String> {
    events.iter().map(|e| e["uuid"].as_str().unwrap().to_string()).collect()
}

/// Neither the private key, nor a client assertion, nor an access token is in `output` or under the state dir.
fn assert_no_secrets(s: &Setup, output: &str) {
    let mut secrets: Vec<(String, String)> = secret_parts(&s.key_text).into_iter().map(|p| ("the private key".into(), p)).collect();
    for r in s.okta.token_requests() {
        assert!(!r.assertion.is_empty());
        let signature = r.assertion.rsplit('.').next().unwrap().to_string();
        secrets.push(("a client assertion".into(), signature));
    }
    for t in s.okta.issued_tokens() {
        secrets.push(("an access token".into(), t.trim_start_matches("emu-at.").to_string()));
    }
    assert!(!secrets.is_empty());
    let mut texts = vec![("the output".to_string(), output.to_string())];
    for f in files_under(&s.dir.path().join("state")) {
        if let Ok(bytes) = std::fs::read(&f) {
            texts.push((f.display().to_string(), String::from_utf8_lossy(&bytes).into_owned()));
        }
    }
    for (what, secret) in &secrets {
        for (place, text) in &texts {
            assert!(!text.contains(secret.as_str()), "{what} leaked into {place}");
        }
    }
}

#[test]
fn dpop_with_an_rsa_pem_key_delivers_every_event() {
    let key = rsa_key();
    let mut app = OAuthApp::new(CLIENT_ID, vec![rsa_public_jwk(&key, "rsa-1")]);
    app.api_nonce = true;
    let pem = key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let s = setup(app, pem, "key_id = \"rsa-1\"");
    let start_ms = now_ms() - 30 * 60 * 1000;
    let first = make_events(150, start_ms, "oauth-dpop-1");
    s.okta.push(first.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = run(&s, "debug");
    wazuh.wait("the first 150 events", LONG, |w| w.events().len() >= 150);
    let more = make_events(20, start_ms + 600_000, "oauth-dpop-2");
    s.okta.push(more.clone());
    wazuh.wait("the newer events", LONG, |w| w.events().len() >= 170);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let expected: Vec<String> = uuids(&first).into_iter().chain(uuids(&more)).collect();
    assert_eq!(wazuh.uuids(), expected, "every event once, in order");

    // The nonce dance at the token endpoint: refused for want of a nonce, then a DPoP token.
    let tokens = s.okta.token_requests();
    assert_eq!(tokens.len(), 2, "{tokens:#?}");
    assert!(tokens.iter().all(|t| t.dpop), "every token request carried a DPoP proof");
    assert_eq!((tokens[0].status, tokens[0].error.as_deref(), tokens[0].dpop_nonce.as_deref()), (400, Some("use_dpop_nonce"), None));
    assert_eq!(tokens[1].status, 200);
    assert!(tokens[1].dpop_nonce.is_some());
    assert_eq!(tokens[1].token_type.as_deref(), Some("DPoP"));
    // Every API request carried the DPoP token and a proof the emulator verified:
    // the first one was refused for want of the API's nonce, and retried with it.
    let reqs = s.okta.requests();
    assert!(reqs.iter().all(|r| r.auth == "DPoP"), "{reqs:#?}");
    assert_eq!(reqs[0].status, 401);
    assert!(reqs[1..].iter().all(|r| r.status == 200), "{reqs:#?}");
    assert!(log.contains("the token endpoint asked for a DPoP nonce"), "{log}");
    assert!(log.contains("Okta asked for a DPoP nonce"), "{log}");
    assert!(log.contains("obtained an OAuth access token (DPoP-bound"), "{log}");
    assert_no_secrets(&s, &log);
}

#[test]
fn bearer_with_an_ec_jwk_key_when_the_app_has_no_dpop() {
    let key = ec_key();
    let someone_else = ec_key();
    let mut app = OAuthApp::new(CLIENT_ID, vec![ec_jwk(&someone_else, "ec-0", false), ec_jwk(&key, "ec-1", false)]);
    app.dpop = false;
    let s = setup(app, ec_jwk(&key, "ec-1", true).to_string(), "dpop = false");
    let events = make_events(120, now_ms() - 20 * 60 * 1000, "oauth-bearer");
    s.okta.push(events.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = run(&s, "info");
    wazuh.wait("the events", LONG, |w| w.events().len() >= 120);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert_eq!(wazuh.uuids(), uuids(&events));
    let tokens = s.okta.token_requests();
    assert_eq!(tokens.len(), 1, "{tokens:#?}");
    assert_eq!((tokens[0].status, tokens[0].dpop, tokens[0].token_type.as_deref()), (200, false, Some("Bearer")));
    let reqs = s.okta.requests();
    assert!(reqs.iter().all(|r| r.auth == "Bearer" && r.status == 200), "{reqs:#?}");
    assert!(log.contains("obtained an OAuth access token (Bearer"), "{log}");
    assert_no_secrets(&s, &log);
}

#[test]
fn tokens_are_renewed_before_expiry_and_once_after_a_revocation() {
    let key = rsa_key();
    let mut app = OAuthApp::new(CLIENT_ID, vec![rsa_public_jwk(&key, "rsa-2")]);
    // Renewed a fifth of its life ahead: at 4 s, on the first poll after that.
    app.expires_in = Duration::from_secs(5);
    let pem = key.to_pkcs1_pem(LineEnding::LF).unwrap().to_string();
    let s = setup(app, pem, "");
    let start_ms = now_ms() - 30 * 60 * 1000;
    let first = make_events(60, start_ms, "oauth-renew-1");
    s.okta.push(first.clone());
    let wazuh = Wazuh::bind(&s.socket);
    let host = run(&s, "info");
    wazuh.wait("the first events", LONG, |w| w.events().len() >= 60);
    // Short-lived tokens are renewed ahead of time while polling goes on.
    let issued = |okta: &Okta| okta.token_requests().iter().filter(|t| t.status == 200).count();
    wazuh.wait("two renewals", LONG, |_| issued(&s.okta) >= 3);
    let reqs = s.okta.requests();
    assert!(reqs.iter().all(|r| r.status == 200), "renewed before expiry, never refused: {reqs:#?}");
    let polls_before = reqs.len();
    assert!(polls_before >= 6, "polling went on across renewals");

    // Then a long-lived token, revoked on the server: one 401, one new token, no event lost.
    s.okta.set_token_lifetime(Duration::from_secs(3600));
    let before = issued(&s.okta);
    wazuh.wait("a long-lived token", LONG, |_| issued(&s.okta) > before);
    let long_lived = issued(&s.okta);
    s.okta.revoke_tokens();
    let second = make_events(40, start_ms + 600_000, "oauth-renew-2");
    s.okta.push(second.clone());
    wazuh.wait("the events after the revocation", LONG, |w| w.events().len() >= 100);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    let expected: Vec<String> = uuids(&first).into_iter().chain(uuids(&second)).collect();
    assert_eq!(wazuh.uuids(), expected, "every event once, in order");
    let refused: Vec<_> = s.okta.requests().into_iter().filter(|r| r.status != 200).collect();
    assert_eq!(refused.len(), 1, "one 401 after the revocation: {refused:#?}");
    assert_eq!(refused[0].status, 401);
    assert_eq!(issued(&s.okta), long_lived + 1, "exactly one new token after the 401");
    assert!(log.contains("renewing the OAuth access token"), "{log}");
    assert!(log.contains("Okta refused the access token (401"), "{log}");
    assert_no_secrets(&s, &log);
}

#[test]
fn a_wrong_key_is_reported_and_no_secret_leaks() {
    let registered = rsa_key();
    let wrong = rsa_key();
    let app = OAuthApp::new(CLIENT_ID, vec![rsa_public_jwk(&registered, "rsa-3")]);
    let pem = wrong.to_pkcs8_pem(LineEnding::LF).unwrap().to_string();
    let s = setup(app, pem, "auth_retry = \"1s\"");
    s.okta.push(make_events(5, now_ms() - 60_000, "oauth-wrong"));
    let wazuh = Wazuh::bind(&s.socket);

    // `oktawatch check` names the token endpoint's error.
    let check = Host::start(&["check", "--config", s.config.to_str().unwrap()], &[]);
    let (status, stdout, stderr) = check.wait_exit(LONG);
    assert!(!status.success(), "{stdout}{stderr}");
    assert!(
        stdout.contains("FAIL  org `test`: the token endpoint") && stdout.contains("refused the request (401): invalid_client: The client_assertion signature is invalid."),
        "{stdout}"
    );
    assert_no_secrets(&s, &format!("{stdout}{stderr}"));

    // The service logs it, retries, and sends nothing.
    let host = run(&s, "debug");
    host.wait_log("The client_assertion signature is invalid.", LONG);
    host.wait_log("private_key_file is read again", LONG);
    let (status, log) = host.terminate(LONG);
    assert!(status.success(), "{log}");
    assert!(log.contains("invalid_client"), "{log}");
    assert!(wazuh.events().is_empty());
    assert!(s.okta.requests().is_empty(), "no API request without a token");
    assert!(s.okta.issued_tokens().is_empty());
    assert!(s.okta.token_requests().len() >= 2);
    assert_no_secrets(&s, &format!("{stdout}{stderr}{log}"));
}

#[test]
fn check_and_backfill_work_with_an_oauth_org() {
    let key = ec_key();
    let s = setup(OAuthApp::new(CLIENT_ID, vec![ec_jwk(&key, "ec-2", false)]), {
        use p256::pkcs8::EncodePrivateKey;
        key.to_pkcs8_pem(LineEnding::LF).unwrap().to_string()
    }, "key_id = \"ec-2\"");
    let day = 86_400_000;
    let start = now_ms() - 2 * day;
    let span = make_events(120, start, "oauth-backfill");
    s.okta.push(make_events(5, start - day, "oauth-before-span"));
    s.okta.push(span.clone());
    let wazuh = Wazuh::bind(&s.socket);

    let check = Host::start(&["check", "--config", s.config.to_str().unwrap()], &[]);
    let (status, stdout, stderr) = check.wait_exit(LONG);
    assert!(status.success(), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("ok    org `test`: reached Okta's System Log as OAuth app {CLIENT_ID} (ES256 client assertion), a DPoP-bound token")), "{stdout}");

    let since = oktawatch::event::format_ms(start);
    let until = oktawatch::event::format_ms(start + day);
    let host = Host::start(
        &["replay", "--since", &since, "--until", &until, "--config", s.config.to_str().unwrap(), "--no-detections"],
        &[],
    );
    let (status, _, log) = host.wait_exit(LONG);
    assert!(status.success(), "{log}");
    wazuh.wait("the span's events", LONG, |w| w.events().len() >= 120);
    assert_eq!(wazuh.uuids(), uuids(&span), "exactly the span, once, in order");
    assert!(s.okta.requests().iter().all(|r| r.auth == "DPoP"));
    assert_no_secrets(&s, &format!("{stdout}{stderr}{log}"));
}
