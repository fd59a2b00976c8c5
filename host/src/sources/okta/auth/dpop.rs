//! DPoP (RFC 9449): this process's P-256 key pair and the proofs it signs
//! (`htm`, `htu`, `iat`, `jti`, the server's `nonce`, `ath` for API calls).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use jsonwebtoken::jwk::{AlgorithmParameters, CommonParameters, EllipticCurve, EllipticCurveKeyParameters, EllipticCurveKeyType, Jwk};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::RngExt;
use sha2::{Digest, Sha256};
use url::Url;


/// The claims of a DPoP proof.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct ProofClaims {
    pub htm: String,
    pub htu: String,
    pub iat: u64,
    pub jti: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
}

/// This process's DPoP key pair (EC P-256), made at start and never stored.
pub struct DpopKey {
    key: EncodingKey,
    jwk: Jwk,
}

impl std::fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DpopKey(ES256, ***)")
    }
}

impl DpopKey {
    pub fn generate() -> DpopKey {
        use p256::elliptic_curve::sec1::ToEncodedPoint;
        use p256::pkcs8::EncodePrivateKey;
        let secret = loop {
            let bytes: [u8; 32] = rand::rng().random();
            // Fails only for zero or a value past the group order: practically never.
            if let Ok(k) = p256::SecretKey::from_slice(&bytes) {
                break k;
            }
        };
        let point = secret.public_key().to_encoded_point(false);
        let (x, y) = (point.x().expect("uncompressed"), point.y().expect("uncompressed"));
        let jwk = Jwk {
            common: CommonParameters::default(),
            algorithm: AlgorithmParameters::EllipticCurve(EllipticCurveKeyParameters {
                key_type: EllipticCurveKeyType::EC,
                curve: EllipticCurve::P256,
                x: B64.encode(x),
                y: B64.encode(y),
            }),
        };
        let der = secret.to_pkcs8_der().expect("a P-256 key encodes");
        DpopKey { key: EncodingKey::from_ec_der(der.as_bytes()), jwk }
    }

    /// The public key, as put in each proof's header.
    pub fn jwk(&self) -> &Jwk {
        &self.jwk
    }

    /// A proof for one request; `access_token` gives `ath` (API calls).
    pub fn proof(&self, htm: &str, htu: &str, nonce: Option<&str>, access_token: Option<&str>) -> jsonwebtoken::errors::Result<String> {
        let claims = ProofClaims {
            htm: htm.into(),
            htu: htu.into(),
            iat: crate::sources::okta::http::now_epoch(),
            jti: super::random_id(),
            nonce: nonce.map(str::to_string),
            ath: access_token.map(ath),
        };
        let mut header = Header::new(Algorithm::ES256);
        header.typ = Some("dpop+jwt".into());
        header.jwk = Some(self.jwk.clone());
        jsonwebtoken::encode(&header, &claims, &self.key)
    }
}

/// `htu`: the request URL without its query and fragment.
pub fn htu(url: &Url) -> String {
    let mut u = url.clone();
    u.set_query(None);
    u.set_fragment(None);
    u.to_string()
}

/// `ath`: base64url (no padding) of the SHA-256 of the access token.
pub fn ath(access_token: &str) -> String {
    B64.encode(Sha256::digest(access_token.as_bytes()))
}

