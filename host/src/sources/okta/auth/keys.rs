//! The app's private key (RSA or EC P-256; PEM or JWK) and the client
//! assertions it signs (`private_key_jwt`: `iss` = `sub` = the client ID,
//! `aud` = the token URL, five minutes of life, a fresh `jti`).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use std::path::{Path, PathBuf};


/// The `client_assertion_type` of `private_key_jwt`.
pub const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// How long a client assertion is valid.
const ASSERTION_LIFE: u64 = 300;
/// A key file that cannot be used; the message never holds key material.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("reading private_key_file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("private_key_file {path}: {what}")]
    Invalid { path: PathBuf, what: String },
}

/// The app's private key, ready to sign client assertions.
#[derive(Clone)]
pub struct ClientKey {
    key: EncodingKey,
    alg: Algorithm,
    /// The `kid` a JWK file names.
    kid: Option<String>,
}

impl std::fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ClientKey({:?}, ***)", self.alg)
    }
}

impl ClientKey {
    /// Reads a PEM (PKCS#8, PKCS#1 or SEC1) or JWK file holding an RSA or EC P-256 private key.
    pub fn load(path: &Path) -> Result<ClientKey, KeyError> {
        let text = crate::secret::read(path, "private_key_file").map_err(|source| KeyError::Read { path: path.into(), source })?;
        Self::parse(&text).map_err(|what| KeyError::Invalid { path: path.into(), what })
    }

    /// The key from a PEM or JWK text; the error says what is wrong without quoting it.
    pub fn parse(text: &str) -> Result<ClientKey, String> {
        let t = text.trim();
        if t.starts_with('{') {
            return Self::from_jwk(t);
        }
        let Some(begin) = t.find("-----BEGIN ") else {
            return Err("neither a PEM private key nor a JWK (JSON) file".into());
        };
        let block = &t[begin..];
        let label = block["-----BEGIN ".len()..].split("-----").next().unwrap_or("");
        let end_marker = format!("-----END {label}-----");
        let Some(end) = block.find(&end_marker) else {
            return Err(format!("the PEM block `{label}` has no END line"));
        };
        let pem = &block[..end + end_marker.len()];
        match label {
            "PRIVATE KEY" => {
                use rsa::pkcs8::DecodePrivateKey;
                if let Ok(k) = rsa::RsaPrivateKey::from_pkcs8_pem(pem) {
                    return Self::from_rsa(k, None);
                }
                p256::SecretKey::from_pkcs8_pem(pem)
                    .map_err(|_| "a PKCS#8 key that is neither RSA nor EC P-256 (or is damaged)".to_string())
                    .and_then(|k| Self::from_ec(&k, None))
            }
            "RSA PRIVATE KEY" => {
                use rsa::pkcs1::DecodeRsaPrivateKey;
                let k = rsa::RsaPrivateKey::from_pkcs1_pem(pem).map_err(|_| "a damaged PKCS#1 RSA key".to_string())?;
                Self::from_rsa(k, None)
            }
            "EC PRIVATE KEY" => {
                let k = p256::SecretKey::from_sec1_pem(pem)
                    .map_err(|_| "a SEC1 EC key that is not on P-256 (or is damaged)".to_string())?;
                Self::from_ec(&k, None)
            }
            "ENCRYPTED PRIVATE KEY" => Err("encrypted keys are not supported; store the key unencrypted, readable by oktawatch only".into()),
            other => Err(format!("a PEM `{other}` is not a private key")),
        }
    }

    fn from_jwk(text: &str) -> Result<ClientKey, String> {
        let mut v: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| format!("not valid JSON (line {}, column {})", e.line(), e.column()))?;
        if let Some(keys) = v.get("keys").and_then(|k| k.as_array()) {
            // A JWK Set with one key, as some tools save it.
            if keys.len() != 1 {
                return Err(format!("a JWK Set with {} keys; keep the one private key", keys.len()));
            }
            v = keys[0].clone();
        }
        let field = |name: &str| v.get(name).and_then(|x| x.as_str());
        let kid = field("kid").map(str::to_string);
        if field("d").is_none() {
            return Err("a public JWK; the private key (with `d`) is needed".into());
        }
        match field("kty") {
            Some("EC") => {
                if field("crv") != Some("P-256") {
                    return Err("an EC JWK not on P-256 (only P-256 / ES256 is supported)".into());
                }
                // Only the key's own members: `kid`, `use`, `alg` and the like are not for the parser.
                let minimal = serde_json::json!({
                    "kty": "EC", "crv": "P-256", "x": field("x"), "y": field("y"), "d": field("d"),
                });
                let k = p256::SecretKey::from_jwk_str(&minimal.to_string()).map_err(|_| "a damaged EC JWK".to_string())?;
                Self::from_ec(&k, kid)
            }
            Some("RSA") => {
                let num = |name: &str| -> Result<rsa::BigUint, String> {
                    let s = field(name).ok_or_else(|| format!("the RSA JWK has no `{name}`"))?;
                    let bytes = B64.decode(s.trim_end_matches('=')).map_err(|_| format!("the RSA JWK's `{name}` is not base64url"))?;
                    Ok(rsa::BigUint::from_bytes_be(&bytes))
                };
                let k = rsa::RsaPrivateKey::from_components(num("n")?, num("e")?, num("d")?, vec![num("p")?, num("q")?])
                    .map_err(|_| "the RSA JWK's numbers do not make a key".to_string())?;
                Self::from_rsa(k, kid)
            }
            Some(other) => Err(format!("a JWK of type `{other}`; use RSA or EC P-256")),
            None => Err("a JSON file that is not a JWK (no `kty`)".into()),
        }
    }

    fn from_rsa(k: rsa::RsaPrivateKey, kid: Option<String>) -> Result<ClientKey, String> {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        use rsa::traits::PublicKeyParts;
        k.validate().map_err(|_| "the RSA key is not consistent".to_string())?;
        if k.size() < 256 {
            return Err(format!("a {}-bit RSA key; Okta requires at least 2048 bits", k.size() * 8));
        }
        let der = k.to_pkcs1_der().map_err(|_| "cannot encode the RSA key".to_string())?;
        Ok(ClientKey { key: EncodingKey::from_rsa_der(der.as_bytes()), alg: Algorithm::RS256, kid })
    }

    fn from_ec(k: &p256::SecretKey, kid: Option<String>) -> Result<ClientKey, String> {
        use p256::pkcs8::EncodePrivateKey;
        let der = k.to_pkcs8_der().map_err(|_| "cannot encode the EC key".to_string())?;
        Ok(ClientKey { key: EncodingKey::from_ec_der(der.as_bytes()), alg: Algorithm::ES256, kid })
    }

    /// RS256 or ES256.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The `kid` a JWK file carried.
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

/// The claims of a client assertion.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct AssertionClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub iat: u64,
    pub exp: u64,
    pub jti: String,
}

/// A signed client assertion for `token_url`.
pub fn client_assertion(key: &ClientKey, kid: Option<&str>, client_id: &str, token_url: &str) -> jsonwebtoken::errors::Result<String> {
    let iat = crate::sources::okta::http::now_epoch();
    let claims = AssertionClaims {
        iss: client_id.into(),
        sub: client_id.into(),
        aud: token_url.into(),
        iat,
        exp: iat + ASSERTION_LIFE,
        jti: super::random_id(),
    };
    let mut header = Header::new(key.alg);
    header.kid = kid.or(key.kid.as_deref()).map(str::to_string);
    jsonwebtoken::encode(&header, &claims, &key.key)
}

