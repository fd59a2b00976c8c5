//! The emulator's OAuth 2.0 authorization server for one API Services app.
//!
//! `POST /oauth2/v1/token` takes the client-credentials grant with a
//! `private_key_jwt` client assertion, checked for real: the signature with
//! the app's registered public keys, `iss` = `sub` = the client ID, `aud` =
//! this token URL, `exp` not passed and at most an hour ahead, `jti` never
//! seen before. When the app requires DPoP, the proof is checked too (its
//! signature with the embedded key, `typ`, `htm`, `htu`, fresh `iat`, unused
//! `jti`) and a proof without the current nonce gets `400 use_dpop_nonce`
//! with a `DPoP-Nonce` header, as Okta does. Tokens are `DPoP` (bound to the
//! proof key's thumbprint) or `Bearer`, and expire after `expires_in`.
//!
//! The API side checks `Authorization: DPoP <t>` with a proof bound to the
//! token (`ath`, `htm`, `htu`, the key's thumbprint, optionally a nonce) or
//! `Bearer <t>` for unbound tokens, and answers 401 with a
//! `WWW-Authenticate` header otherwise.

use super::okta_error;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{Jwk, ThumbprintHash};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngExt;
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

/// The `client_assertion_type` of a JWT client assertion (RFC 7523).
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The app as registered in the Admin Console.
#[derive(Debug, Clone)]
pub struct OAuthApp {
    pub client_id: String,
    /// The public keys added under "Public keys", as JWKs.
    pub public_keys: Vec<serde_json::Value>,
    /// "Require Demonstrating Proof of Possession (DPoP) header in token requests".
    pub dpop: bool,
    /// Also demand the nonce in proofs sent to `/api/v1/logs`.
    pub api_nonce: bool,
    /// Lifetime of issued access tokens.
    pub expires_in: Duration,
    /// Scopes granted to the app.
    pub granted_scopes: Vec<String>,
}

impl OAuthApp {
    /// An app with these keys, DPoP required, one-hour tokens, `okta.logs.read` granted.
    pub fn new(client_id: &str, public_keys: Vec<serde_json::Value>) -> OAuthApp {
        OAuthApp {
            client_id: client_id.into(),
            public_keys,
            dpop: true,
            api_nonce: false,
            expires_in: Duration::from_secs(3600),
            granted_scopes: vec!["okta.logs.read".into()],
        }
    }
}

/// One answered token request.
#[derive(Debug, Clone)]
pub struct TokenRecord {
    pub at: SystemTime,
    pub status: u16,
    /// The OAuth `error` answered, if any.
    pub error: Option<String>,
    /// The proof's `nonce`, if a DPoP proof was sent.
    pub dpop_nonce: Option<String>,
    pub dpop: bool,
    /// `DPoP` or `Bearer` when a token was issued.
    pub token_type: Option<String>,
    /// The client assertion as received (for leak checks).
    pub assertion: String,
}

struct Issued {
    expires_ms: u64,
    /// The DPoP key thumbprint it is bound to.
    jkt: Option<String>,
    scope: String,
    revoked: bool,
}

/// The authorization server's state.
pub struct Server {
    app: OAuthApp,
    keys: Vec<Jwk>,
    token_url: String,
    nonce: String,
    jtis: HashSet<String>,
    tokens: HashMap<String, Issued>,
    pub(super) records: Vec<TokenRecord>,
}

#[derive(serde::Deserialize)]
struct AssertionClaims {
    exp: u64,
    jti: Option<String>,
}

#[derive(serde::Deserialize)]
struct ProofClaims {
    htm: String,
    htu: String,
    iat: u64,
    jti: String,
    nonce: Option<String>,
    ath: Option<String>,
}

/// A refusal: `error`, `error_description`.
type Refusal = (&'static str, String);

fn random_hex(n: usize) -> String {
    let mut rng = rand::rng();
    (0..n).map(|_| format!("{:02x}", rng.random::<u8>())).collect()
}

fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let body = serde_json::json!({"error": error, "error_description": description});
    (status, [("content-type", "application/json"), ("cache-control", "no-store")], body.to_string()).into_response()
}

impl Server {
    pub(super) fn new(app: OAuthApp, origin: &str) -> Result<Server, String> {
        let keys = app
            .public_keys
            .iter()
            .map(|k| serde_json::from_value::<Jwk>(k.clone()).map_err(|e| format!("a registered public key is not a JWK: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Server {
            app,
            keys,
            token_url: format!("{origin}/oauth2/v1/token"),
            nonce: random_hex(16),
            jtis: HashSet::new(),
            tokens: HashMap::new(),
            records: Vec::new(),
        })
    }

    pub(super) fn issued(&self) -> Vec<String> {
        self.tokens.keys().cloned().collect()
    }

    pub(super) fn set_lifetime(&mut self, expires_in: Duration) {
        self.app.expires_in = expires_in;
    }

    pub(super) fn revoke_all(&mut self) {
        for t in self.tokens.values_mut() {
            t.revoked = true;
        }
    }

    /// `POST /oauth2/v1/token`.
    pub(super) fn token_endpoint(&mut self, headers: &HeaderMap, body: &[u8]) -> Response {
        let form: HashMap<String, String> = url::form_urlencoded::parse(body).into_owned().collect();
        let mut record = TokenRecord {
            at: SystemTime::now(),
            status: 200,
            error: None,
            dpop_nonce: None,
            dpop: headers.contains_key("dpop"),
            token_type: None,
            assertion: form.get("client_assertion").cloned().unwrap_or_default(),
        };
        let response = match self.grant(headers, &form, &mut record) {
            Ok(r) => r,
            Err((status, (error, description))) => {
                record.error = Some(error.into());
                let mut r = oauth_error(status, error, &description);
                if error == "use_dpop_nonce" {
                    r.headers_mut().insert("dpop-nonce", HeaderValue::from_str(&self.nonce).unwrap());
                }
                r
            }
        };
        record.status = response.status().as_u16();
        self.records.push(record);
        response
    }

    fn grant(
        &mut self,
        headers: &HeaderMap,
        form: &HashMap<String, String>,
        record: &mut TokenRecord,
    ) -> Result<Response, (StatusCode, Refusal)> {
        let bad = |e: &'static str, d: &str| (StatusCode::BAD_REQUEST, (e, d.to_string()));
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return Err(bad("unsupported_grant_type", "The authorization grant type is not supported by the authorization server."));
        }
        if form.get("client_assertion_type").map(String::as_str) != Some(ASSERTION_TYPE) {
            return Err(bad("invalid_request", "The client_assertion_type is missing or unsupported."));
        }
        let assertion = form.get("client_assertion").ok_or_else(|| bad("invalid_client", "Client authentication failed."))?;
        self.check_assertion(assertion).map_err(|(e, d)| (StatusCode::UNAUTHORIZED, (e, d)))?;
        let scope = form.get("scope").cloned().unwrap_or_default();
        if scope.is_empty() || scope.split(' ').any(|s| !self.app.granted_scopes.iter().any(|g| g == s)) {
            return Err(bad("invalid_scope", "The following scopes were requested, but not granted or not valid."));
        }
        let jkt = if self.app.dpop {
            let proof = headers
                .get("dpop")
                .and_then(|v| v.to_str().ok())
                .ok_or_else(|| bad("invalid_dpop_proof", "The DPoP proof JWT header is missing."))?;
            let (jkt, nonce) = self.check_proof(proof, "POST", &self.token_url.clone(), None).map_err(|(e, d)| bad(e, &d))?;
            record.dpop_nonce = nonce.clone();
            if nonce.as_deref() != Some(self.nonce.as_str()) {
                return Err(bad("use_dpop_nonce", "Authorization server requires nonce in DPoP proof."));
            }
            Some(jkt)
        } else {
            // An app without DPoP ignores a proof and issues Bearer tokens (RFC 9449 section 5).
            None
        };
        let token = format!("emu-at.{}", random_hex(24));
        let token_type = if jkt.is_some() { "DPoP" } else { "Bearer" };
        record.token_type = Some(token_type.into());
        let expires_in = self.app.expires_in.as_secs().max(1);
        self.tokens.insert(
            token.clone(),
            Issued { expires_ms: super::epoch_ms().saturating_add(expires_in.saturating_mul(1000)), jkt, scope: scope.clone(), revoked: false },
        );
        let body = serde_json::json!({
            "token_type": token_type, "expires_in": expires_in, "access_token": token, "scope": scope,
        });
        Ok((StatusCode::OK, [("content-type", "application/json"), ("cache-control", "no-store")], body.to_string())
            .into_response())
    }

    /// The client assertion: signature, iss, sub, aud, exp, jti.
    fn check_assertion(&mut self, assertion: &str) -> Result<(), Refusal> {
        let invalid = |d: &str| ("invalid_client", d.to_string());
        let header = jsonwebtoken::decode_header(assertion).map_err(|_| invalid("The client_assertion is not a JWT."))?;
        if !matches!(header.alg, Algorithm::RS256 | Algorithm::ES256) {
            return Err(invalid("The client_assertion signing algorithm is not supported."));
        }
        let mut validation = Validation::new(header.alg);
        validation.set_audience(&[&self.token_url]);
        validation.set_issuer(&[&self.app.client_id]);
        validation.sub = Some(self.app.client_id.clone());
        validation.set_required_spec_claims(&["exp", "iss", "sub", "aud"]);
        validation.leeway = 5;
        let candidates: Vec<&Jwk> = self
            .keys
            .iter()
            .filter(|k| header.kid.is_none() || k.common.key_id.is_none() || k.common.key_id == header.kid)
            .collect();
        let mut last = invalid("The client_assertion signature is invalid.");
        for key in candidates {
            let Ok(dk) = DecodingKey::from_jwk(key) else { continue };
            if dk.family() != header.alg.family() {
                continue;
            }
            match jsonwebtoken::decode::<AssertionClaims>(assertion, &dk, &validation) {
                Ok(data) => {
                    let c = data.claims;
                    if c.exp > super::epoch_ms() / 1000 + 3600 {
                        return Err(invalid("The client_assertion token has an expiration too far into the future."));
                    }
                    let Some(jti) = c.jti else {
                        return Err(invalid("The client_assertion token must contain a 'jti' claim."));
                    };
                    if !self.jtis.insert(format!("assertion:{jti}")) {
                        return Err(invalid("The client_assertion token has already been used."));
                    }
                    return Ok(());
                }
                Err(e) => {
                    use jsonwebtoken::errors::ErrorKind::*;
                    last = match e.kind() {
                        InvalidSignature => invalid("The client_assertion signature is invalid."),
                        ExpiredSignature => invalid("The client_assertion token is expired."),
                        InvalidAudience => invalid("The audience claim for client_assertion must be the endpoint invoked for the request."),
                        InvalidIssuer | InvalidSubject => {
                            invalid("The issuer and subject claims of the client_assertion must be the client_id.")
                        }
                        _ => invalid("The client_assertion token is invalid."),
                    };
                    if !matches!(e.kind(), InvalidSignature) {
                        // The signature held: the claims are wrong, no other key will help.
                        return Err(last);
                    }
                }
            }
        }
        Err(last)
    }

    /// A DPoP proof: its key's thumbprint and its nonce.
    fn check_proof(&mut self, proof: &str, htm: &str, htu: &str, token: Option<&str>) -> Result<(String, Option<String>), Refusal> {
        let invalid = |d: &str| ("invalid_dpop_proof", d.to_string());
        let header = jsonwebtoken::decode_header(proof).map_err(|_| invalid("The DPoP proof is not a JWT."))?;
        if header.typ.as_deref() != Some("dpop+jwt") {
            return Err(invalid("The DPoP proof 'typ' must be 'dpop+jwt'."));
        }
        let jwk = header.jwk.ok_or_else(|| invalid("The DPoP proof has no 'jwk' header."))?;
        if !matches!(header.alg, Algorithm::ES256 | Algorithm::RS256) {
            return Err(invalid("The DPoP proof algorithm is not supported."));
        }
        let dk = DecodingKey::from_jwk(&jwk).map_err(|_| invalid("The DPoP proof 'jwk' is not a public key."))?;
        let mut validation = Validation::new(header.alg);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        let claims = jsonwebtoken::decode::<ProofClaims>(proof, &dk, &validation)
            .map_err(|_| invalid("The DPoP proof signature or claims are invalid."))?
            .claims;
        if claims.htm != htm {
            return Err(invalid("The DPoP proof 'htm' does not match the request method."));
        }
        if claims.htu != htu {
            return Err(invalid("The DPoP proof 'htu' does not match the request URL."));
        }
        let now = super::epoch_ms() / 1000;
        if claims.iat.saturating_add(60) < now || claims.iat > now + 5 {
            return Err(invalid("The DPoP proof 'iat' is not recent."));
        }
        if let Some(t) = token {
            let expected = B64.encode(Sha256::digest(t.as_bytes()));
            if claims.ath.as_deref() != Some(expected.as_str()) {
                return Err(invalid("The DPoP proof 'ath' does not match the access token."));
            }
        }
        if !self.jtis.insert(format!("proof:{}", claims.jti)) {
            return Err(invalid("The DPoP proof 'jti' was already used."));
        }
        let jkt = jwk.thumbprint(ThumbprintHash::SHA256).map_err(|_| invalid("The DPoP proof key has no thumbprint."))?;
        Ok((jkt, claims.nonce))
    }

    /// Authorizes an API request made with an OAuth token; the refusal is the answer to send.
    pub(super) fn authorize_api(&mut self, headers: &HeaderMap, htm: &str, htu: &str) -> Result<(), Box<Response>> {
        let authorization = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("");
        let (scheme, token) = authorization.split_once(' ').unwrap_or(("", ""));
        let refuse = |scheme: &str, error: &str, description: &str| {
            let mut r = okta_error(StatusCode::UNAUTHORIZED, "E0000011", "Invalid token provided");
            let value = format!("{scheme} error=\"{error}\", error_description=\"{description}\"");
            r.headers_mut().insert("www-authenticate", HeaderValue::from_str(&value).unwrap());
            Box::new(r)
        };
        let Some(issued) = self.tokens.get(token) else {
            return Err(refuse("Bearer", "invalid_token", "The access token is invalid."));
        };
        if issued.revoked {
            return Err(refuse(scheme, "invalid_token", "The access token is invalid."));
        }
        if issued.expires_ms <= super::epoch_ms() {
            return Err(refuse(scheme, "invalid_token", "The token has expired."));
        }
        if !issued.scope.split(' ').any(|s| s == "okta.logs.read") {
            return Err(Box::new(okta_error(StatusCode::FORBIDDEN, "E0000006", "You do not have permission to perform the requested action")));
        }
        let jkt = issued.jkt.clone();
        match (scheme, jkt) {
            ("Bearer", None) => Ok(()),
            ("DPoP", Some(jkt)) => {
                let proof = headers.get("dpop").and_then(|v| v.to_str().ok()).unwrap_or("");
                let (proof_jkt, nonce) =
                    self.check_proof(proof, htm, htu, Some(token)).map_err(|(e, d)| refuse("DPoP", e, &d))?;
                if proof_jkt != jkt {
                    return Err(refuse("DPoP", "invalid_dpop_proof", "The DPoP proof key is not the one the token is bound to."));
                }
                if self.app.api_nonce && nonce.as_deref() != Some(self.nonce.as_str()) {
                    let mut r = refuse("DPoP", "use_dpop_nonce", "Resource server requires nonce in DPoP proof");
                    r.headers_mut().insert("dpop-nonce", HeaderValue::from_str(&self.nonce).unwrap());
                    return Err(r);
                }
                Ok(())
            }
            ("Bearer", Some(_)) => Err(refuse("DPoP", "invalid_token", "A DPoP-bound token must be sent with the DPoP scheme.")),
            _ => Err(refuse("Bearer", "invalid_token", "The authorization scheme does not match the token.")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oktawatch::sources::okta::auth::dpop::DpopKey;
    use oktawatch::sources::okta::auth::keys::{ClientKey, client_assertion};

    const ORIGIN: &str = "http://127.0.0.1:9";
    const TOKEN_URL: &str = "http://127.0.0.1:9/oauth2/v1/token";

    fn app_and_key() -> (Server, ClientKey) {
        use p256::pkcs8::EncodePrivateKey;
        let secret = loop {
            if let Ok(k) = p256::SecretKey::from_slice(&rand::rng().random::<[u8; 32]>()) {
                break k;
            }
        };
        let public: serde_json::Value = serde_json::from_str(&secret.public_key().to_jwk_string()).unwrap();
        let server = Server::new(OAuthApp::new("0oa1", vec![public]), ORIGIN).unwrap();
        (server, ClientKey::parse(&secret.to_pkcs8_pem(Default::default()).unwrap()).unwrap())
    }

    fn form(assertion: &str) -> Vec<u8> {
        url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("scope", "okta.logs.read")
            .append_pair("client_assertion_type", ASSERTION_TYPE)
            .append_pair("client_assertion", assertion)
            .finish()
            .into_bytes()
    }

    fn with_proof(proof: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("dpop", HeaderValue::from_str(proof).unwrap());
        h
    }

    async fn json(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn token_endpoint_checks_assertions_and_proofs() {
        let (mut s, key) = app_and_key();
        let dpop = DpopKey::generate();
        let assert = || client_assertion(&key, None, "0oa1", TOKEN_URL).unwrap();
        // No nonce yet: refused with one.
        let r = s.token_endpoint(&with_proof(&dpop.proof("POST", TOKEN_URL, None, None).unwrap()), &form(&assert()));
        assert_eq!(r.status(), 400);
        let nonce = r.headers()["dpop-nonce"].to_str().unwrap().to_string();
        assert_eq!(json(r).await["error"], "use_dpop_nonce");
        // A proof for another URL, or none at all.
        let r = s.token_endpoint(&with_proof(&dpop.proof("POST", "http://elsewhere/token", Some(&nonce), None).unwrap()), &form(&assert()));
        assert_eq!(json(r).await["error"], "invalid_dpop_proof");
        let r = s.token_endpoint(&HeaderMap::new(), &form(&assert()));
        assert_eq!(json(r).await["error"], "invalid_dpop_proof");
        // An assertion for another audience, or replayed.
        let proof = || with_proof(&dpop.proof("POST", TOKEN_URL, Some(&nonce), None).unwrap());
        let wrong_aud = client_assertion(&key, None, "0oa1", "https://other.okta.com/oauth2/v1/token").unwrap();
        let r = s.token_endpoint(&proof(), &form(&wrong_aud));
        assert_eq!(r.status(), 401);
        assert!(json(r).await["error_description"].as_str().unwrap().contains("audience"));
        let once = assert();
        let r = s.token_endpoint(&proof(), &form(&once));
        assert_eq!(r.status(), 200);
        let answer = json(r).await;
        assert_eq!(answer["token_type"], "DPoP");
        let r = s.token_endpoint(&proof(), &form(&once));
        assert!(json(r).await["error_description"].as_str().unwrap().contains("already been used"));

        // The API: the bound token with a proof for this request, and nothing else.
        let token = answer["access_token"].as_str().unwrap();
        let htu = format!("{ORIGIN}/api/v1/logs");
        let api = |s: &mut Server, scheme: &str, proof: Option<String>| {
            let mut h = proof.map(|p| with_proof(&p)).unwrap_or_default();
            h.insert("authorization", HeaderValue::from_str(&format!("{scheme} {token}")).unwrap());
            s.authorize_api(&h, "GET", &htu).map_err(|r| r.status().as_u16())
        };
        assert_eq!(api(&mut s, "Bearer", None), Err(401), "a bound token is not a Bearer token");
        assert_eq!(api(&mut s, "DPoP", Some(dpop.proof("GET", &htu, None, None).unwrap())), Err(401), "no ath");
        assert_eq!(api(&mut s, "DPoP", Some(dpop.proof("GET", &htu, None, Some("other")).unwrap())), Err(401), "wrong ath");
        let stranger = DpopKey::generate();
        assert_eq!(api(&mut s, "DPoP", Some(stranger.proof("GET", &htu, None, Some(token)).unwrap())), Err(401), "another key");
        let good = dpop.proof("GET", &htu, None, Some(token)).unwrap();
        assert_eq!(api(&mut s, "DPoP", Some(good.clone())), Ok(()));
        assert_eq!(api(&mut s, "DPoP", Some(good)), Err(401), "a proof is used once");
        s.revoke_all();
        assert_eq!(api(&mut s, "DPoP", Some(dpop.proof("GET", &htu, None, Some(token)).unwrap())), Err(401), "revoked");
    }
}
