//! The registry of live sessions: what `pg_stat_activity` lists and what `pg_cancel_backend` and
//! `pg_terminate_backend` act on.
//!
//! Every [`crate::Session`] registers a [`Backend`] in its [`crate::Database`]'s [`Activity`] when
//! it is created and leaves when it is dropped. The front end reports what the connection does
//! (statement started, statement ended, transaction state) and installs the hook that ends the
//! connection; the SQL layer reads the registry from catalog views and functions.
//!
//! ```text
//!   pgwire connection ──begin/end statement──▶ Backend ◀──rows──── pg_stat_activity
//!        ▲                                        │  ◀──cancel──── pg_cancel_backend(pid)
//!        └──────── terminate hook (FATAL 57P01) ◀─┘  ◀──terminate─ pg_terminate_backend(pid)
//! ```
//!
//! Invariants: the registry holds exactly one entry per live session, so it is bounded by the
//! connection limit; entries are keyed by a registration number, so sessions that share a pid
//! (0, outside the front end) never remove each other. Locks are held only to copy a few fields,
//! never across a statement.

use crate::expr::CancelFlag;
use crate::types::now_us;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

/// What the front end runs to end a connection that `pg_terminate_backend` named.
pub type TerminateHook = Box<dyn Fn() + Send + Sync>;

/// Every live session of an instance, by backend pid.
#[derive(Default)]
pub struct Activity {
    /// By registration number.
    backends: Mutex<BTreeMap<u64, Arc<Backend>>>,
    next_registration: AtomicU64,
}

impl std::fmt::Debug for Activity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Activity")
            .field("backends", &self.pids())
            .finish()
    }
}

impl Activity {
    /// Registers a session; the returned entry is what its owner updates.
    pub fn register(
        &self,
        pid: i32,
        database: &str,
        user: &str,
        cancel: Arc<CancelFlag>,
    ) -> Arc<Backend> {
        let registration = self.next_registration.fetch_add(1, Ordering::Relaxed);
        let backend = Arc::new(Backend {
            registration,
            pid,
            database: database.to_string(),
            user: user.to_string(),
            backend_start_us: now_us(),
            cancel,
            terminated: AtomicBool::new(false),
            terminate_hook: Mutex::new(None),
            state: Mutex::new(BackendState::default()),
            settings: Mutex::new(HashMap::new()),
            pending_settings: Mutex::new(Vec::new()),
            cursors: Mutex::new(Vec::new()),
        });
        let old = lock(&self.backends).insert(registration, backend.clone());
        assert!(
            old.is_none(),
            "registration {registration} handed out twice"
        );
        backend
    }

    /// Removes a session (it ended).
    pub fn unregister(&self, backend: &Backend) {
        lock(&self.backends).remove(&backend.registration);
    }

    /// The session with this pid, if it is live.
    #[must_use]
    pub fn get(&self, pid: i32) -> Option<Arc<Backend>> {
        lock(&self.backends)
            .values()
            .find(|b| b.pid == pid)
            .cloned()
    }

    /// Every live session, in pid order.
    #[must_use]
    pub fn list(&self) -> Vec<Arc<Backend>> {
        let mut all: Vec<Arc<Backend>> = lock(&self.backends).values().cloned().collect();
        all.sort_by_key(|b| b.pid);
        all
    }

    fn pids(&self) -> Vec<i32> {
        self.list().iter().map(|b| b.pid).collect()
    }
}

/// One session as other sessions see it.
pub struct Backend {
    registration: u64,
    pub pid: i32,
    pub database: String,
    pub user: String,
    pub backend_start_us: i64,
    /// The session's cancel flag: `pg_cancel_backend` raises it.
    cancel: Arc<CancelFlag>,
    terminated: AtomicBool,
    terminate_hook: Mutex<Option<TerminateHook>>,
    state: Mutex<BackendState>,
    /// The session's settings as of its last change, for `current_setting` and `pg_settings`,
    /// by lower-case name.
    settings: Mutex<HashMap<String, PublishedSetting>>,
    /// `set_config` calls of the running statement, applied by the session when it ends.
    pending_settings: Mutex<Vec<(String, String)>>,
    /// The session's open cursors, for its own `pg_cursors`.
    cursors: Mutex<Vec<CursorListing>>,
}

/// An open cursor as `pg_cursors` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CursorListing {
    pub name: String,
    /// The DECLARE's text.
    pub statement: String,
    pub is_holdable: bool,
    pub is_binary: bool,
    pub is_scrollable: bool,
    /// When it was declared, µs since 1970 UTC.
    pub creation_us: i64,
}

/// A setting as other readers see it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PublishedSetting {
    /// The current value, as `SHOW` prints it.
    pub value: String,
    pub source: SettingSource,
    /// What `RESET` would return it to.
    pub reset: String,
}

/// Where a setting's current value came from (`pg_settings.source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettingSource {
    Default,
    /// A startup parameter of the connection.
    Client,
    /// `SET` or `set_config`.
    Session,
}

impl SettingSource {
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            SettingSource::Default => "default",
            SettingSource::Client => "client",
            SettingSource::Session => "session",
        }
    }
}

/// What a session is doing, as `pg_stat_activity` shows it.
#[derive(Clone, Debug, Default)]
pub struct BackendState {
    pub client_addr: Option<String>,
    pub client_port: Option<i64>,
    /// `active`, `idle`, `idle in transaction`, `idle in transaction (aborted)`.
    pub state: &'static str,
    /// The current statement, or the last one when idle.
    pub query: String,
    pub query_start_us: Option<i64>,
    pub xact_start_us: Option<i64>,
    pub state_change_us: Option<i64>,
}

impl Backend {
    /// The connection's peer address, set once by the front end.
    pub fn set_client(&self, addr: std::net::SocketAddr) {
        let mut s = lock(&self.state);
        s.client_addr = Some(addr.ip().to_string());
        s.client_port = Some(i64::from(addr.port()));
        s.state = "idle";
        s.state_change_us = Some(now_us());
    }

    /// A statement starts; `in_transaction` says whether a transaction block was already open.
    pub fn statement_started(&self, query: &str, in_transaction: bool) {
        let now = now_us();
        let mut s = lock(&self.state);
        s.state = "active";
        s.query = query.to_string();
        s.query_start_us = Some(now);
        s.state_change_us = Some(now);
        if !in_transaction || s.xact_start_us.is_none() {
            s.xact_start_us = Some(now);
        }
    }

    /// The statement ended, leaving the session in `status`.
    pub fn statement_ended(&self, status: crate::TxnStatus) {
        let mut s = lock(&self.state);
        s.state = match status {
            crate::TxnStatus::Idle => "idle",
            crate::TxnStatus::InBlock => "idle in transaction",
            crate::TxnStatus::Failed => "idle in transaction (aborted)",
        };
        s.state_change_us = Some(now_us());
        if status == crate::TxnStatus::Idle {
            s.xact_start_us = None;
        }
    }

    #[must_use]
    pub fn state(&self) -> BackendState {
        lock(&self.state).clone()
    }

    /// `pg_cancel_backend`: the running statement fails with 57014 (an idle session ignores it:
    /// the next statement clears the flag before it starts).
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Installs what ends the connection on `pg_terminate_backend`.
    pub fn set_terminate_hook(&self, hook: TerminateHook) {
        *lock(&self.terminate_hook) = Some(hook);
    }

    /// `pg_terminate_backend`: marks the session terminated, cancels its statement and lets the
    /// front end close the connection with FATAL 57P01.
    pub fn terminate(&self) {
        self.terminated.store(true, Ordering::Release);
        self.cancel.cancel();
        if let Some(hook) = lock(&self.terminate_hook).as_ref() {
            hook();
        }
    }

    #[must_use]
    pub fn is_terminated(&self) -> bool {
        self.terminated.load(Ordering::Acquire)
    }

    /// Publishes the session's settings.
    pub fn publish_settings(&self, settings: impl IntoIterator<Item = (String, PublishedSetting)>) {
        let mut s = lock(&self.settings);
        s.clear();
        s.extend(settings);
    }

    /// Replaces the session's list of open cursors.
    pub fn publish_cursors(&self, cursors: Vec<CursorListing>) {
        *lock(&self.cursors) = cursors;
    }

    /// The session's open cursors, by name.
    #[must_use]
    pub fn cursors(&self) -> Vec<CursorListing> {
        lock(&self.cursors).clone()
    }

    /// A setting's current value, source and reset value, by name (any case).
    #[must_use]
    pub fn setting(&self, name: &str) -> Option<PublishedSetting> {
        lock(&self.settings).get(&name.to_lowercase()).cloned()
    }

    /// `set_config(name, value, false)`: visible to the rest of the statement at once, applied to
    /// the session (with its checks) when the statement ends.
    pub fn set_pending(&self, name: &str, value: &str) {
        let name = name.to_lowercase();
        if let Some(s) = lock(&self.settings).get_mut(&name) {
            s.value = value.to_string();
            s.source = SettingSource::Session;
        }
        lock(&self.pending_settings).push((name, value.to_string()));
    }

    /// Takes the `set_config` calls not yet applied.
    pub fn take_pending(&self) -> Vec<(String, String)> {
        std::mem::take(&mut *lock(&self.pending_settings))
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_register_and_leave() {
        let a = Activity::default();
        let b = a.register(7, "db", "ann", Arc::default());
        b.statement_started("SELECT 1", false);
        assert_eq!(a.list().len(), 1);
        assert_eq!(a.get(7).unwrap().state().state, "active");
        b.statement_ended(crate::TxnStatus::InBlock);
        assert_eq!(a.get(7).unwrap().state().state, "idle in transaction");
        // Another session with the same pid (0 outside the front end) stays when one leaves.
        let twin = a.register(7, "db", "bob", Arc::default());
        a.unregister(&b);
        assert_eq!(a.get(7).unwrap().user, "bob");
        a.unregister(&twin);
        assert!(a.get(7).is_none());
    }

    #[test]
    fn terminate_runs_the_hook_once_installed() {
        let a = Activity::default();
        let b = a.register(8, "db", "ann", Arc::default());
        let fired = Arc::new(AtomicBool::new(false));
        let f = fired.clone();
        b.set_terminate_hook(Box::new(move || f.store(true, Ordering::Release)));
        b.terminate();
        assert!(b.is_terminated() && fired.load(Ordering::Acquire));
    }
}
