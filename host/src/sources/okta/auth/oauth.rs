//! OAuth 2.0 for an Okta API Services app: the client-credentials grant with
//! `private_key_jwt` client authentication, and DPoP-bound tokens (RFC 9449).
//!
//! - The client assertion is a JWT signed with the app's private key (RS256
//!   for RSA, ES256 for EC P-256): `iss` = `sub` = the client ID, `aud` = the
//!   token URL, five minutes of life, a fresh `jti` per request.
//! - DPoP: a P-256 key pair made per process; each request carries a proof
//!   (`htm`, `htu`, `iat`, `jti`, the server's `nonce` once known, and `ath`
//!   for API calls). A `use_dpop_nonce` answer is retried once with the nonce.
//! - The token is kept and renewed before it runs out (a fifth of its life,
//!   at most 60 s, ahead); a 401 from the API drops it. An `expires_in` over
//!   [`MAX_TOKEN_LIFE`] is taken as that.
//! - The token endpoint's answer is read up to [`MAX_ANSWER_BYTES`]; its
//!   `error` and `error_description` are cut to a bounded length before they
//!   reach a log or `oktawatch check`.
//! - Keys, assertions, proofs and tokens never reach a log, an error or a
//!   Debug output; header values carrying them are marked sensitive.

use super::dpop::{DpopKey, htu};
use super::keys::{ASSERTION_TYPE, ClientKey, KeyError, client_assertion};
use crate::secret::Secret;
use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, HeaderName, HeaderValue};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use url::Url;
/// The longest life believed for an access token (Okta's are one hour).
pub const MAX_TOKEN_LIFE: Duration = Duration::from_secs(86_400);
/// The largest token endpoint answer read (Okta's are about 1 KiB).
pub const MAX_ANSWER_BYTES: usize = 64 << 10;

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint said no (bad client, key, scope, DPoP…): fix the app or config.
    #[error("the token endpoint {url} refused the request ({status}): {error}{}{hint}", .description.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
    Refused { url: String, status: u16, error: String, description: Option<String>, hint: &'static str },
    /// Unreachable, 5xx, 429 or an odd answer: try again later.
    #[error("{0}")]
    Unavailable(String),
}

/// A live access token.
struct AccessToken {
    value: Secret,
    /// `DPoP` (bound to our key) rather than `Bearer`.
    dpop: bool,
    renew_at: Instant,
    expires_at: Instant,
}

/// The token endpoint's success answer.
#[derive(serde::Deserialize)]
struct TokenAnswer {
    access_token: String,
    token_type: String,
    expires_in: Option<u64>,
}

/// The token endpoint's error answer.
#[derive(serde::Deserialize)]
struct ErrorAnswer {
    error: String,
    error_description: Option<String>,
}

/// The OAuth client of one org: key, DPoP key, nonces and the current token.
pub struct OAuth {
    org: String,
    client_id: String,
    key_file: PathBuf,
    key_id: Option<String>,
    key: ClientKey,
    token_url: Url,
    scopes: String,
    use_dpop: bool,
    dpop: DpopKey,
    /// The authorization server's last `DPoP-Nonce`.
    as_nonce: Option<String>,
    /// The resource server's last `DPoP-Nonce`.
    rs_nonce: Option<String>,
    token: Option<AccessToken>,
}

impl std::fmt::Debug for OAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OAuth")
            .field("client_id", &self.client_id)
            .field("token_url", &self.token_url.as_str())
            .field("dpop", &self.use_dpop)
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl OAuth {
    /// Reads the key named by the config; nothing is requested yet.
    pub fn new(cfg: &crate::config::OktaConfig, org: &Url) -> anyhow::Result<OAuth> {
        let name = &cfg.name;
        let client_id = cfg.client_id.clone().ok_or_else(|| anyhow::anyhow!("org `{name}`: client_id is required with auth = \"oauth\""))?;
        let key_file = cfg
            .private_key_file
            .clone()
            .ok_or_else(|| anyhow::anyhow!("org `{name}`: private_key_file is required with auth = \"oauth\""))?;
        let key = ClientKey::load(&key_file).map_err(|e| anyhow::anyhow!("org `{name}`: {e}"))?;
        Ok(OAuth {
            org: name.clone(),
            client_id,
            key_file,
            key_id: cfg.key_id.clone(),
            key,
            token_url: org.join("/oauth2/v1/token").expect("a valid path"),
            scopes: cfg.scopes.join(" "),
            use_dpop: cfg.dpop,
            dpop: DpopKey::generate(),
            as_nonce: None,
            rs_nonce: None,
            token: None,
        })
    }

    /// Reads the key file again (after the token endpoint refused us: keys get rotated).
    pub fn reload_key(&mut self) -> Result<(), KeyError> {
        self.key = ClientKey::load(&self.key_file)?;
        Ok(())
    }

    /// A few words for `oktawatch check`.
    pub fn describe(&self) -> String {
        let kind = match &self.token {
            Some(t) if t.dpop => "a DPoP-bound token",
            Some(_) => "a Bearer token",
            None => "no token",
        };
        format!("OAuth app {} ({:?} client assertion), {kind}", self.client_id, self.key.algorithm())
    }

    /// Drops the token (the API refused it); the next request gets a new one.
    pub fn forget_token(&mut self) {
        self.token = None;
    }

    /// Has a token that is not due for renewal, or gets one.
    pub async fn ensure_token(&mut self, http: &reqwest::Client) -> Result<(), TokenError> {
        let now = Instant::now();
        if let Some(t) = &self.token {
            if now < t.renew_at {
                return Ok(());
            }
            if now < t.expires_at {
                tracing::info!(
                    org = %self.org,
                    "renewing the OAuth access token ({:.1?} before it expires)",
                    t.expires_at - now
                );
            } else {
                tracing::info!(org = %self.org, "renewing the OAuth access token (it has expired)");
            }
        }
        match self.request_token(http).await {
            Ok(t) => {
                self.token = Some(t);
                Ok(())
            }
            Err(e @ TokenError::Unavailable(_)) if self.token.as_ref().is_some_and(|t| now < t.expires_at) => {
                tracing::warn!(org = %self.org, "{e}; using the current token until it expires");
                Ok(())
            }
            Err(e) => {
                self.token = None;
                Err(e)
            }
        }
    }

    /// `Authorization` (and `DPoP`) for a request; call [`OAuth::ensure_token`] first.
    pub fn headers(&self, method: &str, url: &Url) -> Result<Vec<(HeaderName, HeaderValue)>, TokenError> {
        let t = self.token.as_ref().ok_or_else(|| TokenError::Unavailable("no access token yet".into()))?;
        let scheme = if t.dpop { "DPoP" } else { "Bearer" };
        let auth = sensitive(&format!("{scheme} {}", t.value.expose()))
            .ok_or_else(|| TokenError::Unavailable("the access token has characters a header cannot carry".into()))?;
        let mut out = vec![(AUTHORIZATION, auth)];
        if t.dpop {
            let proof = self
                .dpop
                .proof(method, &htu(url), self.rs_nonce.as_deref(), Some(t.value.expose()))
                .map_err(|e| TokenError::Unavailable(format!("signing a DPoP proof: {e}")))?;
            out.push((HeaderName::from_static("dpop"), sensitive(&proof).expect("base64url")));
        }
        Ok(out)
    }

    /// Reads an API answer: keeps its `DPoP-Nonce`; true when it is a 401
    /// asking for a (new) nonce, to be retried.
    pub fn note_api_answer(&mut self, status: u16, headers: &reqwest::header::HeaderMap) -> bool {
        let nonce = headers.get("dpop-nonce").and_then(|v| v.to_str().ok()).map(str::to_string);
        let asks = status == 401
            && headers
                .get_all(reqwest::header::WWW_AUTHENTICATE)
                .iter()
                .any(|v| v.to_str().is_ok_and(|s| s.contains("use_dpop_nonce")));
        let fresh = nonce.is_some() && nonce != self.rs_nonce;
        if nonce.is_some() {
            self.rs_nonce = nonce;
        }
        asks && fresh
    }

    async fn request_token(&mut self, http: &reqwest::Client) -> Result<AccessToken, TokenError> {
        let url = self.token_url.as_str().to_string();
        let mut nonce_retried = false;
        loop {
            let kid = self.key_id.as_deref();
            let assertion = client_assertion(&self.key, kid, &self.client_id, &url)
                .map_err(|e| TokenError::Unavailable(format!("signing the client assertion: {e}")))?;
            let body = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("grant_type", "client_credentials")
                .append_pair("scope", &self.scopes)
                .append_pair("client_assertion_type", ASSERTION_TYPE)
                .append_pair("client_assertion", &assertion)
                .finish();
            let mut req = http
                .post(self.token_url.clone())
                .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                .header(ACCEPT, "application/json");
            if self.use_dpop {
                let proof = self
                    .dpop
                    .proof("POST", &url, self.as_nonce.as_deref(), None)
                    .map_err(|e| TokenError::Unavailable(format!("signing a DPoP proof: {e}")))?;
                req = req.header("dpop", sensitive(&proof).expect("base64url"));
            }
            tracing::debug!(org = %self.org, dpop = self.use_dpop, "requesting an OAuth access token from {url}");
            let resp = req.body(body).send().await.map_err(|e| {
                TokenError::Unavailable(format!("token request to {url} failed: {}", crate::sources::okta::http::describe_reqwest(&e)))
            })?;
            let status = resp.status();
            if let Some(n) = resp.headers().get("dpop-nonce").and_then(|v| v.to_str().ok()) {
                self.as_nonce = Some(n.to_string());
            }
            let bytes = crate::sources::okta::http::read_capped(resp, MAX_ANSWER_BYTES, false).await.map_err(|e| match e {
                crate::sources::okta::http::BodyError::TooLarge { .. } => TokenError::Unavailable(format!("the answer from {url} is {e}; refused")),
                crate::sources::okta::http::BodyError::Read(e) => {
                    TokenError::Unavailable(format!("reading the answer from {url}: {}", crate::sources::okta::http::describe_reqwest(&e)))
                }
            })?;
            if status.is_success() {
                return self.accept(&url, &bytes);
            }
            let Ok(mut err) = serde_json::from_slice::<ErrorAnswer>(&bytes) else {
                return Err(TokenError::Unavailable(format!(
                    "the token endpoint {url} answered {status} ({})",
                    crate::sources::okta::http::snippet(&bytes)
                )));
            };
            err.error = crate::sources::okta::http::bounded(&err.error, 64);
            err.error_description = err.error_description.map(|d| crate::sources::okta::http::bounded(&d, 300));
            if err.error == "use_dpop_nonce" && self.use_dpop && !nonce_retried && self.as_nonce.is_some() {
                tracing::info!(org = %self.org, "the token endpoint asked for a DPoP nonce (use_dpop_nonce); retrying with it");
                nonce_retried = true;
                continue;
            }
            if status.is_server_error() || status.as_u16() == 429 {
                return Err(TokenError::Unavailable(format!(
                    "the token endpoint {url} answered {status}: {}{}",
                    err.error,
                    err.error_description.map(|d| format!(": {d}")).unwrap_or_default()
                )));
            }
            let hint = match err.error.as_str() {
                "invalid_client" => " (check client_id, the key registered on the app, and key_id)",
                "invalid_scope" => " (grant the scopes to the app under Okta API Scopes)",
                "invalid_dpop_proof" if !self.use_dpop => " (the app requires DPoP: set dpop = true)",
                "invalid_dpop_proof" | "invalid_request" if self.use_dpop => {
                    " (if the app does not require DPoP, set dpop = false)"
                }
                _ => "",
            };
            return Err(TokenError::Refused {
                url,
                status: status.as_u16(),
                error: err.error,
                description: err.error_description,
                hint,
            });
        }
    }

    fn accept(&self, url: &str, bytes: &[u8]) -> Result<AccessToken, TokenError> {
        // Never quote a success body: it holds the token.
        let answer: TokenAnswer = serde_json::from_slice(bytes)
            .map_err(|_| TokenError::Unavailable(format!("the token endpoint {url} answered with a body that is not a token")))?;
        let dpop = match answer.token_type.to_ascii_lowercase().as_str() {
            "dpop" => true,
            "bearer" => false,
            other => return Err(TokenError::Unavailable(format!("the token endpoint {url} gave a token of type `{other}`"))),
        };
        if dpop && !self.use_dpop {
            return Err(TokenError::Unavailable(format!("the token endpoint {url} gave a DPoP token without a DPoP proof")));
        }
        if answer.access_token.is_empty() || answer.access_token.chars().any(|c| c.is_control() || c == ' ') {
            return Err(TokenError::Unavailable(format!("the token endpoint {url} gave an unusable access token")));
        }
        let life = Duration::from_secs(answer.expires_in.unwrap_or(300).max(1));
        if life > MAX_TOKEN_LIFE {
            tracing::warn!(org = %self.org, "the token endpoint says its token lasts {}s; renewing it as if it lasted {MAX_TOKEN_LIFE:.0?}", life.as_secs());
        }
        let life = life.min(MAX_TOKEN_LIFE);
        let now = Instant::now();
        let ahead = (life / 5).min(Duration::from_secs(60));
        tracing::info!(
            org = %self.org,
            "obtained an OAuth access token ({}, expires in {life:.0?}, scopes {})",
            if dpop { "DPoP-bound" } else { "Bearer" },
            self.scopes
        );
        Ok(AccessToken { value: Secret::new(answer.access_token), dpop, renew_at: now + life - ahead, expires_at: now + life })
    }
}

fn sensitive(s: &str) -> Option<HeaderValue> {
    let mut v = HeaderValue::from_str(s).ok()?;
    v.set_sensitive(true);
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use super::super::dpop::{ProofClaims, ath};
    use super::super::keys::AssertionClaims;
    use jsonwebtoken::{Algorithm, DecodingKey, Validation};
    use rand::RngExt;

    fn ec_key() -> p256::SecretKey {
        loop {
            if let Ok(k) = p256::SecretKey::from_slice(&rand::rng().random::<[u8; 32]>()) {
                return k;
            }
        }
    }

    #[test]
    fn assertion_claims_and_signature() {
        let secret = ec_key();
        let pem = {
            use p256::pkcs8::EncodePrivateKey;
            secret.to_pkcs8_pem(Default::default()).unwrap()
        };
        let key = ClientKey::parse(&pem).unwrap();
        assert_eq!(key.algorithm(), Algorithm::ES256);
        let url = "https://example.okta.com/oauth2/v1/token";
        let a = client_assertion(&key, Some("kid-1"), "0oa123", url).unwrap();
        let b = client_assertion(&key, Some("kid-1"), "0oa123", url).unwrap();
        let mut v = Validation::new(Algorithm::ES256);
        v.set_audience(&[url]);
        v.set_issuer(&["0oa123"]);
        v.sub = Some("0oa123".into());
        let public = DecodingKey::from_ec_der(&secret.public_key().to_sec1_bytes());
        let claims = jsonwebtoken::decode::<AssertionClaims>(&a, &public, &v).unwrap().claims;
        let other = jsonwebtoken::decode::<AssertionClaims>(&b, &public, &v).unwrap().claims;
        assert!(claims.exp > claims.iat && claims.exp - claims.iat <= 300);
        assert_ne!(claims.jti, other.jti, "a fresh jti each time");
        assert_eq!(jsonwebtoken::decode_header(&a).unwrap().kid.as_deref(), Some("kid-1"));
        // Another key's signature does not verify.
        let stranger = DecodingKey::from_ec_der(&ec_key().public_key().to_sec1_bytes());
        assert!(jsonwebtoken::decode::<AssertionClaims>(&a, &stranger, &v).is_err());
    }

    #[test]
    fn key_formats() {
        let secret = ec_key();
        let sec1 = secret.to_sec1_pem(Default::default()).unwrap();
        assert_eq!(ClientKey::parse(&format!("Bag Attributes\n{}", &*sec1)).unwrap().algorithm(), Algorithm::ES256);
        let mut jwk: serde_json::Value = serde_json::from_str(&secret.to_jwk_string()).unwrap();
        jwk["kid"] = "k1".into();
        let k = ClientKey::parse(&jwk.to_string()).unwrap();
        assert_eq!(k.kid(), Some("k1"));
        let public = secret.public_key().to_jwk_string();
        assert!(ClientKey::parse(&public).unwrap_err().contains("public JWK"));
        let e = ClientKey::parse("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n").unwrap_err();
        assert!(e.contains("CERTIFICATE"), "{e}");
        // Errors never quote the key.
        let d = jwk["d"].as_str().unwrap().to_string();
        let mut broken = jwk.clone();
        broken["crv"] = "P-384".into();
        let e = ClientKey::parse(&broken.to_string()).unwrap_err();
        assert!(!e.contains(&d));
        assert!(!format!("{k:?}").contains(&d));
    }

    #[test]
    fn dpop_proof_htu_and_ath() {
        let u = Url::parse("https://x.okta.com/api/v1/logs?after=abc&limit=2#frag").unwrap();
        assert_eq!(htu(&u), "https://x.okta.com/api/v1/logs");
        // RFC 9449 section 7.1's example: ath of the token "Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU".
        assert_eq!(ath("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"), "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo");
        let k = DpopKey::generate();
        let p = k.proof("GET", &htu(&u), Some("n-1"), Some("tok")).unwrap();
        let h = jsonwebtoken::decode_header(&p).unwrap();
        assert_eq!(h.typ.as_deref(), Some("dpop+jwt"));
        assert_eq!(h.alg, Algorithm::ES256);
        let jwk = h.jwk.unwrap();
        assert_eq!(&jwk, k.jwk());
        let mut v = Validation::new(Algorithm::ES256);
        v.required_spec_claims.clear();
        v.validate_exp = false;
        let c = jsonwebtoken::decode::<ProofClaims>(&p, &DecodingKey::from_jwk(&jwk).unwrap(), &v).unwrap().claims;
        assert_eq!((c.htm.as_str(), c.htu.as_str(), c.nonce.as_deref()), ("GET", "https://x.okta.com/api/v1/logs", Some("n-1")));
        assert_eq!(c.ath, Some(ath("tok")));
        assert!(!format!("{k:?}").contains(&c.jti));
    }

    #[test]
    fn secrets_are_not_shown() {
        let s = Secret::new("AT-SECRET");
        assert_eq!(format!("{s:?}"), "***");
        let e = TokenError::Refused {
            url: "https://x/oauth2/v1/token".into(),
            status: 401,
            error: "invalid_client".into(),
            description: Some("The client_assertion signature is invalid.".into()),
            hint: "",
        };
        assert_eq!(
            e.to_string(),
            "the token endpoint https://x/oauth2/v1/token refused the request (401): invalid_client: The client_assertion signature is invalid."
        );
    }
}
