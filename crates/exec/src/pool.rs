//! The request pool: the threads that run requests' CPU work, started on first use. Unlike
//! rayon's workers, an idle thread sleeps at once instead of yielding the core for a while
//! in case work comes: on a machine the async workers and the clients share, those yields
//! were a tenth of the server's time.
//!
//! Fair among tenants: a thread takes the oldest queued job of the tenant with the fewest
//! jobs running, and never one of a tenant already running on as many threads as there are
//! cores. There are twice as many threads as cores, so a tenant that queued a hundred heavy
//! requests keeps the cores busy while another tenant's request starts at once on a thread
//! of its own (the kernel then shares the cores among them).
//!
//! Each thread parks on its own: a queued job wakes one sleeping thread, taken off the list
//! of sleepers as it is woken, so no thread is woken twice and no wake-up goes to a thread
//! already awake (a shared condition variable, told of "some idle thread", was woken about
//! twice as often as a thread went to sleep, each a system call).

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;

/// A job for the request pool; it catches its own panics.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// The queue and the threads serving it.
pub(super) struct CpuPool {
    state: Mutex<PoolState>,
    workers: Box<[Worker]>,
    /// Threads started (none when the system would not start one: then rayon runs the jobs).
    threads: AtomicUsize,
    /// Jobs of one tenant running at once, at most.
    per_tenant: usize,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<(Arc<str>, Job)>,
    /// Jobs running, by tenant (tenants with none are removed).
    running: HashMap<Arc<str>, usize>,
    /// Threads asleep and not yet woken, the last to sleep last.
    sleeping: Vec<usize>,
}

impl PoolState {
    /// The next job to run: the oldest of the tenant with the fewest jobs running, among
    /// tenants under the cap.
    fn next(&mut self, per_tenant: usize) -> Option<(Arc<str>, Job)> {
        let mut best: Option<(usize, usize)> = None;
        for (at, (tenant, _)) in self.jobs.iter().enumerate() {
            let running = self.running.get(tenant).copied().unwrap_or(0);
            if running >= per_tenant {
                continue;
            }
            if best.is_none_or(|(_, fewest)| running < fewest) {
                best = Some((at, running));
                if running == 0 {
                    break;
                }
            }
        }
        let (tenant, job) = self.jobs.remove(best?.0)?;
        *self.running.entry(tenant.clone()).or_insert(0) += 1;
        Some((tenant, job))
    }

    fn done(&mut self, tenant: &Arc<str>) {
        if let Some(n) = self.running.get_mut(tenant) {
            *n -= 1;
            if *n == 0 {
                self.running.remove(tenant);
            }
        }
    }
}

/// One pool thread's parking place.
#[derive(Default)]
struct Worker {
    thread: OnceLock<Thread>,
    woken: AtomicBool,
}

impl Worker {
    fn wake(&self) {
        self.woken.store(true, Ordering::Release);
        if let Some(thread) = self.thread.get() {
            thread.unpark();
        }
    }

    /// Parks until woken (parking may return early; the flag says when it is for real).
    fn sleep(&self) {
        while !self.woken.swap(false, Ordering::Acquire) {
            std::thread::park();
        }
    }
}

impl CpuPool {
    fn state(&self) -> MutexGuard<'_, PoolState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Queues `job` of `tenant`, waking a sleeping thread when there is one (the one that
    /// slept last, whose caches are the warmest).
    pub(super) fn spawn(&self, tenant: &str, job: Job) {
        if self.threads.load(Ordering::Relaxed) == 0 {
            return rayon::spawn(job);
        }
        let mut state = self.state();
        state.jobs.push_back((tenant.into(), job));
        let sleeper = state.sleeping.pop();
        drop(state);
        if let Some(i) = sleeper {
            self.workers[i].wake();
        }
    }

    /// Thread `i`'s life: run jobs as they come, sleep when there are none it may take.
    fn work(&self, i: usize) {
        let me = &self.workers[i];
        let _ = me.thread.set(std::thread::current());
        let mut state = self.state();
        loop {
            if let Some((tenant, job)) = state.next(self.per_tenant) {
                drop(state);
                // Jobs catch their own panics; this keeps the thread if one did not.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                state = self.state();
                state.done(&tenant);
                // A job its tenant's cap held back may now run: on a thread asleep.
                if !state.jobs.is_empty() {
                    if let Some(other) = state.sleeping.pop() {
                        self.workers[other].wake();
                    }
                }
                continue;
            }
            state.sleeping.push(i);
            drop(state);
            me.sleep();
            state = self.state();
        }
    }
}

/// The request pool: threads that run requests' CPU work, shared fairly among tenants (see
/// this module's documentation). A binary makes one with as many threads as its flag says
/// and gives it to its service (`JobService::with_request_pool` in spacejobs-core); work run under a
/// deadline that names no pool goes to [`RequestPool::shared`]. Cheap to clone: clones
/// share the threads, which live as long as the process.
#[derive(Clone)]
pub struct RequestPool(Arc<CpuPool>);

impl std::fmt::Debug for RequestPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequestPool")
            .field("threads", &self.threads())
            .finish()
    }
}

impl RequestPool {
    /// A pool of `threads` threads (at least one), started now; one tenant runs on at most
    /// as many of them as there are cores.
    pub fn new(threads: usize) -> Self {
        let threads = threads.max(1);
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let pool = Arc::new(CpuPool {
            state: Mutex::new(PoolState::default()),
            workers: (0..threads).map(|_| Worker::default()).collect(),
            threads: AtomicUsize::new(0),
            per_tenant: cores.min(threads),
        });
        for i in 0..threads {
            let worker = pool.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("spacejobs-cpu-{i}"))
                .spawn(move || worker.work(i));
            match spawned {
                Ok(_) => {
                    pool.threads.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::error!(error = %e, "could not start a request pool thread"),
            }
        }
        RequestPool(pool)
    }

    /// Twice as many threads as cores: the default.
    pub fn default_threads() -> usize {
        2 * std::thread::available_parallelism().map_or(2, usize::from)
    }

    /// The process's pool of [`Self::default_threads`], started on first use.
    pub fn shared() -> &'static RequestPool {
        static POOL: OnceLock<RequestPool> = OnceLock::new();
        POOL.get_or_init(|| RequestPool::new(Self::default_threads()))
    }

    /// The threads it has.
    pub fn threads(&self) -> usize {
        self.0.threads.load(Ordering::Relaxed)
    }

    /// Queues `job` of `tenant`.
    pub(super) fn spawn(&self, tenant: &str, job: Job) {
        self.0.spawn(tenant, job);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job() -> Job {
        Box::new(|| {})
    }

    #[test]
    fn the_tenant_with_the_fewest_jobs_running_goes_first_and_none_passes_its_cap() {
        let mut state = PoolState::default();
        for tenant in ["a", "a", "a", "b"] {
            state.jobs.push_back((tenant.into(), job()));
        }
        let order: Vec<String> = std::iter::from_fn(|| state.next(2))
            .map(|(tenant, _)| tenant.to_string())
            .collect();
        // a runs, then b (no job running) before a's second, then a's cap holds a's third.
        assert_eq!(order, ["a", "b", "a"]);
        assert_eq!(state.jobs.len(), 1, "a's third waits for one of a's to end");
        state.done(&Arc::from("a"));
        assert_eq!(
            state.next(2).map(|(t, _)| t.to_string()).as_deref(),
            Some("a")
        );
    }
}
