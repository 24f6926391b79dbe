//! What recording events needs beyond the store: the silences each
//! instance matches events against, cached for a few seconds.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sqlx::PgPool;
use time::OffsetDateTime;
use tokio::sync::Mutex;

use crate::models::event::Incoming;
use crate::models::silence::Silence;
use crate::store;
use crate::store::events::Prepared;

/// How long an instance matches events against the silences it loaded
/// before it loads them again: a silence created or ended on any instance
/// acts on every other within this bound. Its window's start and end act
/// at once, since the cached rows carry them.
pub const SILENCE_CACHE_TTL: Duration = Duration::from_secs(5);

/// When the silences were loaded, and what they were.
type Loaded = Option<(Instant, Arc<Vec<Silence>>)>;

/// The silences not yet over, as last loaded.
#[derive(Clone)]
pub struct SilenceCache {
    ttl: Duration,
    loaded: Arc<Mutex<Loaded>>,
}

impl Default for SilenceCache {
    fn default() -> Self {
        Self::new(SILENCE_CACHE_TTL)
    }
}

impl SilenceCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            loaded: Arc::default(),
        }
    }

    /// The silences to match against, loading them when the copy is older
    /// than the TTL. Concurrent requests wait for one load.
    pub async fn current(&self, db: &PgPool) -> sqlx::Result<Arc<Vec<Silence>>> {
        let mut loaded = self.loaded.lock().await;
        if let Some((at, silences)) = loaded.as_ref()
            && at.elapsed() < self.ttl
        {
            return Ok(silences.clone());
        }
        // Timed from before the query: what it read is at least this old.
        let asked = Instant::now();
        let silences = store::silences::not_over(db).await?;
        let silences = Arc::new(silences);
        *loaded = Some((asked, silences.clone()));
        Ok(silences)
    }

    /// Forgets the copy: this instance changed a silence.
    pub async fn invalidate(&self) {
        *self.loaded.lock().await = None;
    }
}

/// The first silence (lowest id) acting at `now` that matches the event.
pub fn silence_for(silences: &[Silence], event: &Incoming, now: OffsetDateTime) -> Option<i64> {
    silences
        .iter()
        .find(|s| s.acts_at(now) && s.matchers.matches(event))
        .map(|s| s.id)
}

/// The events with the silences that match them now.
pub async fn prepare(
    cache: &SilenceCache,
    db: &PgPool,
    events: Vec<Incoming>,
) -> sqlx::Result<Vec<Prepared>> {
    let silences = cache.current(db).await?;
    let now = OffsetDateTime::now_utc();
    Ok(events
        .into_iter()
        .map(|event| Prepared {
            silence: silence_for(&silences, &event, now),
            event,
        })
        .collect())
}
