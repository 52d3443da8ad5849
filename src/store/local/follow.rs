//! The store's background work: follow the backend's change feed, prove with heartbeats that
//! the local state is fresh, reload after a gap, purge.

use super::*;

/// How long the store waits before it retries a backend that failed to subscribe or load,
/// at first and at most (the wait doubles in between; each wait is shortened by a random
/// part of up to half, so that instances do not retry in step).
const RETRY_FIRST: Duration = Duration::from_millis(250);

const RETRY_MAX: Duration = Duration::from_secs(1);

/// How many heartbeats on their way the store remembers.
const BEATS_IN_FLIGHT: usize = 16;

/// A random number, for heartbeat origins and retry jitter; never zero.
pub(super) fn random_u64() -> u64 {
    let mut bytes = [0u8; 8];
    // Without randomness the jitter is merely regular and the origin the clock's.
    if SystemRandom::new().fill(&mut bytes).is_err() {
        bytes = SystemClock.now_millis().to_le_bytes();
    }
    u64::from_le_bytes(bytes).max(1)
}

/// `wait` shortened by a random part of up to half of it (`state` is a xorshift state).
fn jittered(wait: Duration, state: &mut u64) -> Duration {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    let half = wait / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX).max(1);
    wait - Duration::from_nanos(*state % nanos)
}

impl RevocationStore {
    /// Records that every change published before `at` has been applied; reports the end of
    /// a stale period.
    pub(super) fn proved(&self, at: Instant) {
        let fresh = &self.inner.fresh;
        fresh.proven_ns.fetch_max(fresh.nanos(at), Ordering::AcqRel);
        let staleness = fresh.staleness(Instant::now());
        if fresh.shared {
            telemetry::staleness(staleness);
        }
        if fresh.stale.load(Ordering::Relaxed) && fresh.stale.swap(false, Ordering::AcqRel) {
            telemetry::caught_up(staleness);
        }
    }

    /// Watches the bound for as long as [`run`](Self::run) runs: reports the crossing once
    /// (`warn` and a counter), and the staleness as a gauge every heartbeat period.
    async fn watch_staleness(&self) {
        let fresh = &self.inner.fresh;
        let every = fresh.max / 3;
        loop {
            let now = Instant::now();
            let ready = self.inner.ready.load(Ordering::Acquire);
            let deadline = fresh.proven() + fresh.max;
            if ready {
                let staleness = fresh.staleness(now);
                telemetry::staleness(staleness);
                if now > deadline && !fresh.stale.swap(true, Ordering::AcqRel) {
                    telemetry::stale(staleness, fresh.max, fresh.serve_stale);
                }
            }
            // Just past the deadline (the bound is crossed when the staleness exceeds it),
            // or the next gauge update, whichever comes first.
            let next = now + every;
            let wake = if ready && now <= deadline {
                next.min(deadline + Duration::from_nanos(1))
            } else {
                next
            };
            tokio::time::sleep_until(wake).await;
        }
    }

    /// Purges locally and in the backend (a read-only store: locally only). A backend
    /// failure is left for the next purge: nothing live is ever dropped, so a late purge
    /// only costs memory.
    async fn purge_everywhere(&self) {
        self.purge_expired();
        if self.inner.read_only {
            return;
        }
        let now = self.inner.clock.now_secs();
        // The failure has been reported; the next purge tries again.
        let _ = self.call("purge", self.inner.backend.purge(now)).await;
    }

    /// The store's background work, for as long as the returned future runs: spawn it once
    /// next to the server (`tokio::spawn(store.clone().run())`).
    ///
    /// It subscribes to the backend's change feed, loads the shared state (until then a
    /// store with a shared backend refuses every token with 503), applies every revocation
    /// the other instances make, and purges what can no longer matter at the purge interval.
    /// After a gap in the feed (an error, or the feed ending), or when the feed has brought
    /// none of the store's own heartbeats for longer than the
    /// [staleness bound](RevocationStoreBuilder::with_max_staleness), it subscribes and loads
    /// again; a backend that cannot be reached is retried with a growing, jittered wait
    /// (from 250 ms to at most 1 s), so the store is back about a second after the backend
    /// is. With a shared backend it publishes a heartbeat every third of the bound, and
    /// while it runs the bound is enforced ([`is_ready`](Self::is_ready)).
    /// It runs on tokio time, so tests drive it with `tokio::time::pause`.
    ///
    /// ```
    /// use tower_jwt_auth::store::RevocationStore;
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build()?.block_on(async {
    /// let store = RevocationStore::new();
    /// let task = tokio::spawn(store.clone().run());
    /// task.abort();
    /// # });
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub async fn run(self) {
        let fresh = &self.inner.fresh;
        if fresh.shared && !fresh.serve_stale {
            fresh.enforcing.store(true, Ordering::Release);
        }
        if fresh.shared {
            tokio::join!(self.follow_always(), self.watch_staleness());
        } else {
            self.follow_always().await;
        }
    }

    /// Subscribes, loads and follows the feed, again after every gap.
    async fn follow_always(&self) {
        let mut purges = tokio::time::interval(self.inner.purge_every);
        purges.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut wait = RETRY_FIRST;
        let mut jitter = self.inner.fresh.origin;
        let mut beats = 0;
        // Since when the store has not been following the feed: other instances'
        // revocations made since then reach it only with the next load.
        let mut behind_since = Instant::now();
        loop {
            match self.connect(behind_since).await {
                Ok(feed) => {
                    wait = RETRY_FIRST;
                    self.follow(feed, &mut purges, &mut beats).await;
                    behind_since = Instant::now();
                }
                Err(error) => {
                    let pause = jittered(wait, &mut jitter);
                    telemetry::connect_failed(&error, pause);
                    tokio::time::sleep(pause).await;
                    wait = (wait * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// Subscribes to the change feed, then loads the state: subscribing first means that
    /// nothing revoked in between is missed.
    async fn connect(&self, behind_since: Instant) -> Result<ChangeStream, RevocationError> {
        let feed = self
            .call("subscribe", self.inner.backend.subscribe())
            .await?;
        let entries = self.load().await?;
        telemetry::loaded(entries, behind_since.elapsed());
        Ok(feed)
    }

    /// Applies the feed, purges on time and, with a shared backend, publishes heartbeats,
    /// until the feed has a gap or has been silent past the staleness bound. `beats` counts
    /// the heartbeats sent.
    async fn follow(
        &self,
        mut feed: ChangeStream,
        purges: &mut tokio::time::Interval,
        beats: &mut u64,
    ) {
        let fresh = &self.inner.fresh;
        let every = fresh.max / 3;
        let mut ticks = tokio::time::interval_at(Instant::now() + every, every);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // The heartbeats on their way, by sequence number, with when each was sent.
        let mut sent: VecDeque<(u64, Instant)> = VecDeque::new();
        // The heartbeat being published: one at a time, never holding up the feed.
        let mut publishing: Option<BoxFuture<'_, ()>> = None;
        loop {
            let deadline = fresh.proven() + fresh.max;
            tokio::select! {
                change = feed.next() => match change {
                    Some(Ok(Change::Entry(entry))) => self.apply(&entry),
                    Some(Ok(Change::Heartbeat(beat))) if beat.origin == fresh.origin => {
                        while let Some((seq, at)) = sent.pop_front() {
                            if seq == beat.seq {
                                self.proved(at);
                                break;
                            }
                            if seq > beat.seq {
                                sent.push_front((seq, at));
                                break;
                            }
                        }
                    }
                    // Another instance's heartbeat.
                    Some(Ok(Change::Heartbeat(_))) => {}
                    Some(Err(error)) => return telemetry::feed_gap(Some(&*error)),
                    None => return telemetry::feed_gap(None),
                },
                _ = purges.tick() => self.purge_everywhere().await,
                _ = ticks.tick(), if fresh.shared && publishing.is_none() => {
                    *beats += 1;
                    let beat = Heartbeat { origin: fresh.origin, seq: *beats };
                    if sent.len() == BEATS_IN_FLIGHT {
                        sent.pop_front();
                    }
                    sent.push_back((beat.seq, Instant::now()));
                    publishing = Some(Box::pin(async move {
                        // A failure is reported; the missing heartbeat shows in the staleness.
                        let _ = self.call("heartbeat", self.inner.backend.heartbeat(&beat)).await;
                    }));
                }
                () = async {
                    if let Some(publish) = publishing.as_mut() {
                        publish.await;
                    }
                }, if publishing.is_some() => publishing = None,
                () = tokio::time::sleep_until(deadline), if fresh.shared => {
                    return telemetry::feed_silent(fresh.max);
                }
            }
        }
    }
}
