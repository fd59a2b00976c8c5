//! The listener: binding, TLS (rustls with the `ring` provider), the accept
//! loop that gives each connection a [`Slot`] and serves it with hyper.

use super::*;

/// The bound listener, before it serves.
pub struct Listener {
    pub(super) tcp: TcpListener,
    pub(super) tls: Option<TlsAcceptor>,
    pub(super) max_body: usize,
}

impl Listener {
    /// Reads the TLS files and binds `hooks.listen`.
    pub async fn bind(cfg: &HooksConfig) -> anyhow::Result<Listener> {
        let tls = match (&cfg.tls_cert, &cfg.tls_key) {
            (Some(cert), Some(key)) => Some(tls_acceptor(cert, key)?),
            _ => None,
        };
        let tcp = TcpListener::bind(&cfg.listen).await.with_context(|| format!("hooks.listen {}", cfg.listen))?;
        Ok(Listener { tcp, tls, max_body: cfg.max_body_kb as usize * 1024 })
    }

    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// `https` or `http`.
    pub fn scheme(&self) -> &'static str {
        if self.tls.is_some() { "https" } else { "http" }
    }

    /// Serves the orgs' hook paths until `shutdown`.
    pub fn serve(self, orgs: Vec<HookOrg>, counters: Arc<Counters>, shutdown: Shutdown) {
        let slots = Arc::new(Slots::new(LIMITS, counters.clone()));
        let app = Arc::new(App {
            orgs: orgs.into_iter().map(|o| (o.name.clone(), o)).collect(),
            counters,
            max_body: self.max_body,
            warnings: WarnLimiter::default(),
        });
        let fallback_app = app.clone();
        let router = axum::Router::new()
            .route("/hooks/okta/{org}", axum::routing::any(hook))
            .fallback(move || {
                let app = fallback_app.clone();
                async move {
                    app.counters.request(UNKNOWN_ORG, StatusCode::NOT_FOUND);
                    closing(Refusal::UnknownOrg.into_response())
                }
            })
            .with_state(app);
        tokio::spawn(accept_loop(self.tcp, self.tls, router, slots, shutdown));
    }
}

/// Accepts connections until `shutdown`, each with a [`Slot`]; never waits
/// for room (see [`Slots::admit`]). TLS handshakes run in the connections' tasks.
pub(super) async fn accept_loop(
    tcp: TcpListener,
    tls: Option<TlsAcceptor>,
    router: axum::Router,
    slots: Arc<Slots>,
    mut shutdown: Shutdown,
) {
    loop {
        let (stream, peer) = tokio::select! {
            a = tcp.accept() => match a {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("event hooks: accepting a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            _ = shutdown.changed() => break,
        };
        let slot = slots.admit(address_of(peer.ip()));
        let (tls, router, shutdown) = (tls.clone(), router.clone(), shutdown.clone());
        tokio::spawn(async move {
            let work = async {
                match tls {
                    None => serve_connection(stream, router, slot.clone(), shutdown).await,
                    Some(acceptor) => match acceptor.accept(stream).await {
                        Ok(stream) => serve_connection(stream, router, slot.clone(), shutdown).await,
                        Err(e) => tracing::debug!("event hooks: TLS handshake with {peer}: {e}"),
                    },
                }
            };
            tokio::select! {
                _ = work => {}
                _ = slot.cut() => tracing::debug!("event hooks: connection from {peer} closed before it authenticated"),
            }
        });
    }
}

/// HTTP/1.1 on one connection, with the header timeout and the connection's
/// slot handed to each request; finishes the request in hand on shutdown.
pub(super) async fn serve_connection<I>(io: I, router: axum::Router, slot: Arc<Slot>, mut shutdown: Shutdown)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    use hyper::service::Service as _;
    let router = hyper_util::service::TowerToHyperService::new(router);
    let service = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
        req.extensions_mut().insert(slot.clone());
        router.call(req)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(HEADER_TIMEOUT);
    let conn = builder.serve_connection(hyper_util::rt::TokioIo::new(io), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                tracing::debug!("event hooks: connection: {e}");
            }
        }
        _ = shutdown.changed() => {
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        }
    }
}

/// Loads the TLS files as the listener would (for `oktawatch check`).
pub fn check_tls(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<()> {
    tls_acceptor(cert, key).map(|_| ())
}

/// A rustls server config from PEM files (certificate chain, private key).
pub(super) fn tls_acceptor(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("hooks.tls_cert {}", cert.display()))?;
    if certs.is_empty() {
        bail!("hooks.tls_cert {}: no certificate in the file", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key).with_context(|| format!("hooks.tls_key {}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("hooks: the TLS certificate and key do not go together")?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

