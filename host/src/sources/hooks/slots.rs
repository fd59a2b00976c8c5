//! The bounds on what a client can hold without the secret: pending and
//! authenticated connection pools, per-address caps, the pre-auth timeout
//! (see the module doc of [`super`]).

use super::*;

/// The listener's connection limits (see the module doc).
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Pending connections (not yet authenticated), all addresses together.
    pub pending: usize,
    /// Pending connections from one IP address.
    pub per_ip: usize,
    /// Authenticated connections, a pool of their own.
    pub authenticated: usize,
    /// From accept (TLS handshake included) to an authenticated request's headers.
    pub pre_auth_timeout: Duration,
}

/// The limits the listener runs with: 256 connections at most, 64 of them kept for authenticated clients.
pub const LIMITS: Limits =
    Limits { pending: 192, per_ip: 16, authenticated: 64, pre_auth_timeout: Duration::from_secs(3) };

/// An authenticated connection must send each request's headers within this
/// (also the longest it may sit idle between requests).
pub(super) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the listener closed a connection before it authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Closed {
    /// A newer connection from the same address came while it had [`Limits::per_ip`] pending.
    PerIp,
    /// A newer connection came while [`Limits::pending`] were pending.
    PendingFull,
    /// No authenticated request within [`Limits::pre_auth_timeout`].
    Timeout,
}

impl Closed {
    pub(super) fn label(self) -> &'static str {
        match self {
            Closed::PerIp => "per_ip",
            Closed::PendingFull => "pre_auth_full",
            Closed::Timeout => "pre_auth_timeout",
        }
    }
}

/// The connection slots: which connections are pending (oldest first) and
/// from where, and how many are authenticated.
pub struct Slots {
    pub(super) limits: Limits,
    pub(super) counters: Arc<Counters>,
    pub(super) warnings: WarnLimiter,
    pub(super) inner: Mutex<SlotsInner>,
}

#[derive(Default)]
pub(super) struct SlotsInner {
    pub(super) next_id: u64,
    /// Pending connections by id (ids grow, so the first is the oldest).
    pub(super) pending: BTreeMap<u64, (IpAddr, Arc<Notify>)>,
    pub(super) pending_per_ip: HashMap<IpAddr, usize>,
    pub(super) authenticated: usize,
}

impl SlotsInner {
    /// Takes a connection out of the pending set; its push-out signal if it was there.
    pub(super) fn unpend(&mut self, id: u64) -> Option<Arc<Notify>> {
        let (ip, notify) = self.pending.remove(&id)?;
        if let Some(n) = self.pending_per_ip.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                self.pending_per_ip.remove(&ip);
            }
        }
        Some(notify)
    }
}

impl Slots {
    pub fn new(limits: Limits, counters: Arc<Counters>) -> Slots {
        Slots { limits, counters, warnings: WarnLimiter::default(), inner: Mutex::default() }
    }

    pub(super) fn lock(&self) -> std::sync::MutexGuard<'_, SlotsInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A pending slot for a new connection from `ip`; pushes out the oldest
    /// pending connection of that address, or of all, when a cap is reached.
    pub(super) fn admit(self: &Arc<Self>, ip: IpAddr) -> Arc<Slot> {
        let mut g = self.lock();
        if g.pending_per_ip.get(&ip).copied().unwrap_or(0) >= self.limits.per_ip {
            let oldest = g.pending.iter().find(|(_, (a, _))| *a == ip).map(|(id, _)| *id);
            self.push_out(&mut g, oldest, Closed::PerIp);
        }
        if g.pending.len() >= self.limits.pending {
            let oldest = g.pending.keys().next().copied();
            self.push_out(&mut g, oldest, Closed::PendingFull);
        }
        let id = g.next_id;
        g.next_id += 1;
        let pushed_out = Arc::new(Notify::new());
        g.pending.insert(id, (ip, pushed_out.clone()));
        *g.pending_per_ip.entry(ip).or_default() += 1;
        drop(g);
        Arc::new(Slot {
            id,
            slots: self.clone(),
            pushed_out,
            authenticated: AtomicBool::new(false),
            deadline: tokio::time::Instant::now() + self.limits.pre_auth_timeout,
        })
    }

    pub(super) fn push_out(&self, g: &mut SlotsInner, id: Option<u64>, why: Closed) {
        let Some(notify) = id.and_then(|id| g.unpend(id)) else { return };
        // A stored permit: the connection's task sees it even if not waiting yet.
        notify.notify_one();
        self.close_counted(why);
    }

    pub(super) fn close_counted(&self, why: Closed) {
        self.counters.closed(why);
        if let Some(more) = self.warnings.allow(why.label(), 0) {
            let what = match why {
                Closed::PerIp => format!("a newer one came from the same address ({} pending at most)", self.limits.per_ip),
                Closed::PendingFull => format!("a newer one came while {} were pending", self.limits.pending),
                Closed::Timeout => format!("no request with the secret within {:?}", self.limits.pre_auth_timeout),
            };
            tracing::warn!("event hooks: a connection not yet authenticated was closed: {what}{more}");
        }
    }

    /// (pending, authenticated) connections now.
    #[cfg(test)]
    pub fn in_use(&self) -> (usize, usize) {
        let g = self.lock();
        (g.pending.len(), g.authenticated)
    }
}

/// One connection's place in [`Slots`]; given back when dropped.
pub struct Slot {
    pub(super) id: u64,
    pub(super) slots: Arc<Slots>,
    pub(super) pushed_out: Arc<Notify>,
    pub(super) authenticated: AtomicBool,
    pub(super) deadline: tokio::time::Instant,
}

impl Slot {
    /// Moves the connection to the authenticated pool (a request showed a
    /// right secret). False when that pool is full, or the connection was
    /// pushed out meanwhile.
    pub(super) fn authenticate(&self) -> bool {
        if self.is_authenticated() {
            return true;
        }
        let mut g = self.slots.lock();
        if g.authenticated >= self.slots.limits.authenticated || !g.pending.contains_key(&self.id) {
            return false;
        }
        g.unpend(self.id);
        g.authenticated += 1;
        self.authenticated.store(true, Ordering::Release);
        true
    }

    pub(super) fn is_authenticated(&self) -> bool {
        self.authenticated.load(Ordering::Acquire)
    }

    /// Completes when the connection is to be closed: pushed out by a
    /// newcomer, or its pre-authentication time is up. Never, once authenticated.
    pub(super) async fn cut(&self) {
        tokio::select! {
            _ = self.pushed_out.notified() => {}
            _ = tokio::time::sleep_until(self.deadline) => {
                let pending = self.slots.lock().unpend(self.id).is_some();
                if !pending {
                    // Authenticated (or pushed out at this very moment).
                    if self.is_authenticated() {
                        std::future::pending::<()>().await;
                    }
                    return;
                }
                self.slots.close_counted(Closed::Timeout);
            }
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut g = self.slots.lock();
        if self.is_authenticated() {
            g.authenticated -= 1;
        } else {
            g.unpend(self.id);
        }
    }
}

/// The address a connection counts against for [`Limits::per_ip`]: the IPv4
/// address, or the /64 of an IPv6 one (a single host often has a whole /64).
pub(super) fn address_of(ip: IpAddr) -> IpAddr {
    match ip.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & !u128::from(u64::MAX)).into()),
        v4 => v4,
    }
}

