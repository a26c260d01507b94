//! The request pool: the threads that run requests' CPU work, one a core, started on first
//! use. Unlike rayon's workers, an idle thread sleeps at once instead of yielding the core
//! for a while in case work comes: on a machine the async workers and the clients share,
//! those yields were a tenth of the server's time.
//!
//! Each thread parks on its own: a queued job wakes one sleeping thread, taken off the list
//! of sleepers as it is woken, so no thread is woken twice and no wake-up goes to a thread
//! already awake (a shared condition variable, told of "some idle thread", was woken about
//! twice as often as a thread went to sleep, each a system call).

use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread::Thread;

/// A job for the request pool; it catches its own panics.
pub(super) type Job = Box<dyn FnOnce() + Send>;

/// The queue and the threads serving it.
pub(super) struct CpuPool {
    state: Mutex<PoolState>,
    workers: Box<[Worker]>,
    /// Threads started (none when the system would not start one: then rayon runs the jobs).
    threads: AtomicUsize,
}

#[derive(Default)]
struct PoolState {
    jobs: VecDeque<Job>,
    /// Threads asleep and not yet woken, the last to sleep last.
    sleeping: Vec<usize>,
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

    /// Queues `job`, waking a sleeping thread when there is one (the one that slept last,
    /// whose caches are the warmest).
    pub(super) fn spawn(&self, job: Job) {
        if self.threads.load(Ordering::Relaxed) == 0 {
            return rayon::spawn(job);
        }
        let mut state = self.state();
        state.jobs.push_back(job);
        let sleeper = state.sleeping.pop();
        drop(state);
        if let Some(i) = sleeper {
            self.workers[i].wake();
        }
    }

    /// Thread `i`'s life: run jobs as they come, sleep when there are none.
    fn work(&self, i: usize) {
        let me = &self.workers[i];
        let _ = me.thread.set(std::thread::current());
        let mut state = self.state();
        loop {
            if let Some(job) = state.jobs.pop_front() {
                drop(state);
                // Jobs catch their own panics; this keeps the thread if one did not.
                let _ = std::panic::catch_unwind(AssertUnwindSafe(job));
                state = self.state();
                continue;
            }
            state.sleeping.push(i);
            drop(state);
            me.sleep();
            state = self.state();
        }
    }
}

/// The request pool, started on first use with one thread a core.
pub(super) fn cpu_pool() -> &'static CpuPool {
    static POOL: OnceLock<&'static CpuPool> = OnceLock::new();
    POOL.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let pool: &'static CpuPool = Box::leak(Box::new(CpuPool {
            state: Mutex::new(PoolState::default()),
            workers: (0..cores).map(|_| Worker::default()).collect(),
            threads: AtomicUsize::new(0),
        }));
        for i in 0..cores {
            let spawned = std::thread::Builder::new()
                .name(format!("spacejobs-cpu-{i}"))
                .spawn(move || pool.work(i));
            match spawned {
                Ok(_) => {
                    pool.threads.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => tracing::error!(error = %e, "could not start a request pool thread"),
            }
        }
        pool
    })
}
