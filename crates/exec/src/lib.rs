//! Where a request's CPU work runs, and when it must stop.
//!
//! Query evaluation, regex matching, sorting and rendering never run on the async worker
//! threads: [`run_cpu`] hands them to the request pool and awaits the answer, so the async
//! workers stay free for I/O and health checks. The pool shares its threads fairly among
//! tenants (a request's domain, [`Deadline::set_tenant`]): one tenant runs on at most as
//! many threads as there are cores, and the pool has twice that, so another tenant's request
//! starts at once however many a first one has queued. Work that splits over many rows (a
//! scan of a large collection) fans out from there to rayon's pool.
//!
//! Every request carries a [`Deadline`]; the work checks it between chunks
//! ([`Deadline::check`]) and stops when it has passed or when the caller went away (the
//! awaiting future was dropped, which cancels the deadline).

pub use error::{Error, Result};
pub use pool::RequestPool;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

mod error;
mod pool;

/// How many items a loop handles between two deadline checks.
pub const CHECK_EVERY: usize = 256;

/// When a request must be done, and whether its caller has gone away. Cheap to clone; clones
/// share the cancellation.
#[derive(Debug, Clone)]
pub struct Deadline {
    at: Instant,
    budget: Duration,
    cancelled: Arc<AtomicBool>,
    /// Whose request it is (its domain), once known: the request pool shares its threads
    /// fairly among tenants.
    tenant: Arc<OnceLock<Box<str>>>,
    /// The pool its CPU work runs on ([`RequestPool::shared`] when none).
    pool: Option<RequestPool>,
}

impl Deadline {
    /// A deadline `budget` from now.
    pub fn after(budget: Duration) -> Self {
        let now = Instant::now();
        Deadline {
            at: now
                .checked_add(budget)
                .unwrap_or(now + Duration::from_secs(86_400 * 365)),
            budget,
            cancelled: Arc::new(AtomicBool::new(false)),
            tenant: Arc::new(OnceLock::new()),
            pool: None,
        }
    }

    /// The same deadline, its CPU work run on `pool`.
    pub fn with_pool(mut self, pool: RequestPool) -> Self {
        self.pool = Some(pool);
        self
    }

    /// The pool its CPU work runs on.
    pub fn pool(&self) -> &RequestPool {
        self.pool.as_ref().unwrap_or_else(|| RequestPool::shared())
    }

    /// Names whose request this is (its domain, once the caller is known); the first name
    /// given stays.
    pub fn set_tenant(&self, tenant: &str) {
        let _ = self.tenant.set(tenant.into());
    }

    /// Whose request this is (`""` until named).
    pub fn tenant(&self) -> &str {
        self.tenant.get().map_or("", |t| t)
    }

    /// A deadline `budget` from now, or `client` from now when that is shorter.
    pub fn within(budget: Duration, client: Option<Duration>) -> Self {
        Self::after(client.map_or(budget, |c| c.min(budget)))
    }

    /// The instant it passes.
    pub fn instant(&self) -> Instant {
        self.at
    }

    /// The whole time the request was given.
    pub fn budget(&self) -> Duration {
        self.budget
    }

    /// Time left (zero once passed).
    pub fn remaining(&self) -> Duration {
        self.at.saturating_duration_since(Instant::now())
    }

    /// Marks the request as abandoned: work checking this deadline stops.
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// True once cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    /// `Err` once the deadline has passed or the request was cancelled.
    pub fn check(&self) -> Result<()> {
        if self.is_cancelled() {
            return Err(Error::Cancelled);
        }
        if Instant::now() >= self.at {
            return Err(self.exceeded());
        }
        Ok(())
    }

    /// The error of a request that ran out of time.
    pub fn exceeded(&self) -> Error {
        Error::DeadlineExceeded {
            budget_ms: u64::try_from(self.budget.as_millis()).unwrap_or(u64::MAX),
        }
    }

    /// A guard that cancels this deadline when dropped, unless [`CancelOnDrop::disarm`]ed.
    pub fn cancel_on_drop(&self) -> CancelOnDrop {
        CancelOnDrop(Some(self.clone()))
    }
}

/// How long a request may run unless told otherwise (`Limits::timeout`'s default).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Default for Deadline {
    /// [`DEFAULT_TIMEOUT`] from now.
    fn default() -> Self {
        Deadline::after(DEFAULT_TIMEOUT)
    }
}

/// Cancels a deadline when dropped: tie it to the future of a request, so a caller that goes
/// away stops the work done for it.
#[derive(Debug)]
pub struct CancelOnDrop(Option<Deadline>);

impl CancelOnDrop {
    /// The request finished: dropping the guard no longer cancels.
    pub fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(deadline) = &self.0 {
            deadline.cancel();
        }
    }
}

/// Runs CPU-heavy `work` on the request pool and awaits it, answering
/// [`Error::DeadlineExceeded`] when the deadline passes first (the work is told to stop). If the
/// returned future is dropped, the work is cancelled too. A panic in `work` is an internal
/// error, never a crash.
pub async fn run_cpu<T, E, F>(deadline: &Deadline, work: F) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Error> + Send + 'static,
    F: FnOnce(&Deadline) -> Result<T, E> + Send + 'static,
{
    deadline.check()?;
    let guard = deadline.cancel_on_drop();
    let (tx, rx) = tokio::sync::oneshot::channel();
    let inner = deadline.clone();
    deadline.pool().spawn(
        deadline.tenant(),
        Box::new(move || {
            let _ = tx.send(run_here(&inner, work));
        }),
    );
    let result = tokio::select! {
        answer = rx => answer.unwrap_or_else(|_| Err(Error::Internal("evaluation lost".into()).into())),
        () = tokio::time::sleep_until(deadline.instant().into()) => Err(deadline.exceeded().into()),
    };
    // Out of time (here or in the work, which checks the same deadline): tell the rest of the
    // request's work to stop too.
    if result.is_err() && Instant::now() >= deadline.instant() {
        deadline.cancel();
    } else {
        guard.disarm();
    }
    result
}

/// `work` on the calling thread, unless the deadline has passed or was cancelled; a panic
/// in it is an internal error. Only for work known to be short (see [`run_cpu`]).
pub fn run_here<T, E: From<Error>>(
    deadline: &Deadline,
    work: impl FnOnce(&Deadline) -> Result<T, E>,
) -> Result<T, E> {
    deadline.check()?;
    std::panic::catch_unwind(AssertUnwindSafe(|| work(deadline)))
        .unwrap_or_else(|_| Err(Error::Internal("evaluation panicked".to_string()).into()))
}

/// [`run_cpu`], or `work` right here when `small` says it is bounded by a small constant (a
/// query without patterns to compile: time linear in a query whose size the limits bound):
/// work that short costs less than the two thread wake-ups of a handoff to the pool, and
/// keeps the async threads within tokio's tens of microseconds between awaits.
pub async fn run_cpu_unless_small<T, E, F>(
    deadline: &Deadline,
    small: bool,
    work: F,
) -> Result<T, E>
where
    T: Send + 'static,
    E: From<Error> + Send + 'static,
    F: FnOnce(&Deadline) -> Result<T, E> + Send + 'static,
{
    if small {
        deadline.check()?;
        return work(deadline);
    }
    run_cpu(deadline, work).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spin(deadline: &Deadline) -> Result<u64> {
        let mut n = 0u64;
        loop {
            n += 1;
            if n.is_multiple_of(CHECK_EVERY as u64) {
                deadline.check()?;
            }
        }
    }

    #[tokio::test]
    async fn work_past_its_deadline_is_stopped() {
        let deadline = Deadline::after(Duration::from_millis(50));
        let started = Instant::now();
        let err = run_cpu(&deadline, spin).await.unwrap_err();
        assert!(
            matches!(err, Error::DeadlineExceeded { budget_ms: 50 }),
            "{err}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
        assert!(deadline.is_cancelled(), "the worker is told to stop");
    }

    #[tokio::test]
    async fn dropping_the_caller_cancels_the_work() {
        let deadline = Deadline::after(Duration::from_secs(60));
        let call = run_cpu(&deadline, spin);
        let _ = tokio::time::timeout(Duration::from_millis(30), call).await;
        assert!(deadline.is_cancelled());
    }

    #[tokio::test]
    async fn work_runs_on_the_pool_its_deadline_names() {
        let pool = RequestPool::new(1);
        assert_eq!(pool.threads(), 1);
        let deadline = Deadline::after(Duration::from_secs(5)).with_pool(pool);
        let thread = |_: &Deadline| Ok::<_, Error>(std::thread::current().id());
        let first = run_cpu(&deadline, thread).await.expect("runs");
        let second = run_cpu(&deadline.clone(), thread).await.expect("runs");
        assert_eq!(first, second, "a pool of one thread runs everything on it");
        assert_ne!(first, std::thread::current().id());
    }

    #[tokio::test]
    async fn finished_work_leaves_the_deadline_usable_and_panics_are_errors() {
        let deadline = Deadline::after(Duration::from_secs(5));
        assert_eq!(run_cpu(&deadline, |_| Ok::<_, Error>(7)).await, Ok(7));
        deadline.check().expect("not cancelled by a finished call");
        let err = run_cpu(&deadline, |_| -> Result<()> { panic!("boom") })
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Internal(_)));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_pool_runs_many_requests_at_once_and_outlives_panics() {
        let deadline = Deadline::after(Duration::from_secs(30));
        for _ in 0..8 {
            let err = run_cpu(&deadline, |_| -> Result<()> { panic!("boom") }).await;
            assert!(matches!(err, Err(Error::Internal(_))));
        }
        let calls = (0..64u64).map(|i| {
            let deadline = deadline.clone();
            tokio::spawn(async move {
                run_cpu(&deadline, move |_| {
                    std::thread::sleep(Duration::from_millis(1));
                    let name = std::thread::current().name().map(str::to_string);
                    Ok((i * 2, name))
                })
                .await
            })
        });
        let answers: Vec<_> = futures_join(calls).await;
        for (i, answer) in answers.into_iter().enumerate() {
            let (doubled, thread) = answer.expect("answered");
            assert_eq!(doubled, i as u64 * 2);
            let thread = thread.unwrap_or_default();
            assert!(thread.starts_with("spacejobs-cpu-"), "ran on {thread}");
        }
    }

    /// Awaits every task in order.
    async fn futures_join<T>(
        tasks: impl Iterator<Item = tokio::task::JoinHandle<Result<T>>>,
    ) -> Vec<Result<T>> {
        let mut out = Vec::new();
        for task in tasks.collect::<Vec<_>>() {
            out.push(task.await.expect("task"));
        }
        out
    }
}
