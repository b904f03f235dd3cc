//! Questions waiting for the upstreams. An identical question asked while
//! one is already out waits for that one's answer instead of sending another
//! (thirty pupils opening the same page send one query upstream), and the
//! number of distinct questions waiting is capped: past the cap a question
//! is answered at once, from the stale cache or with SERVFAIL, so that a slow
//! or dead upstream cannot pile up tasks, sockets and memory. One client may
//! hold only a quarter of the places, so a device asking for name after
//! name cannot leave none for the rest of the school.

use std::future::Future;
use std::net::IpAddr;
use std::sync::Arc;

use dashmap::DashMap;
use dashmap::mapref::entry::Entry;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::cache::CacheKey;

/// The questions out at the upstreams, each with the answer it will share.
pub struct Pending<T> {
    waiting: DashMap<CacheKey, Arc<OnceCell<T>>>,
    slots: Arc<Semaphore>,
    limit: usize,
    /// Questions each client has waiting (as the one who asked).
    by_client: DashMap<IpAddr, usize>,
    /// The most one client may have waiting.
    share: usize,
}

/// How a question was answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Waited<T> {
    /// This caller asked the upstreams.
    Asked(T),
    /// Another caller was already asking; this is its answer.
    Shared(T),
    /// `limit` questions were already waiting: nothing was asked.
    Full,
    /// This client already had its share waiting: nothing was asked.
    ClientFull,
}

impl<T: Clone> Pending<T> {
    /// At most `limit` distinct questions wait at once, a quarter of them
    /// (at least one) from any one client.
    pub fn new(limit: usize) -> Pending<T> {
        Pending {
            waiting: DashMap::new(),
            slots: Arc::new(Semaphore::new(limit)),
            limit,
            by_client: DashMap::new(),
            share: (limit / 4).max(1),
        }
    }

    pub fn limit(&self) -> usize {
        self.limit
    }

    /// The most one client may have waiting.
    pub fn share(&self) -> usize {
        self.share
    }

    /// Distinct questions waiting now.
    pub fn len(&self) -> usize {
        self.limit - self.slots.available_permits()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Answers `key` for `client` by running `ask`, unless the same question
    /// is already out (then its answer) or a cap is reached (then
    /// [`Waited::Full`] or [`Waited::ClientFull`]).
    pub async fn ask<F, Fut>(&self, key: &CacheKey, client: IpAddr, ask: F) -> Waited<T>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = T>,
    {
        let (cell, asking) = match self.waiting.entry(key.clone()) {
            Entry::Occupied(entry) => (entry.get().clone(), None),
            Entry::Vacant(entry) => {
                let mut held = self.by_client.entry(client).or_insert(0);
                if *held >= self.share {
                    return Waited::ClientFull;
                }
                let Ok(slot) = self.slots.clone().try_acquire_owned() else {
                    return Waited::Full;
                };
                *held += 1;
                drop(held);
                let cell = Arc::new(OnceCell::new());
                entry.insert(cell.clone());
                let asking = Asking {
                    waiting: &self.waiting,
                    key,
                    cell: cell.clone(),
                    by_client: &self.by_client,
                    client,
                    _slot: slot,
                };
                (cell, Some(asking))
            }
        };
        let mut ran = false;
        let answer = cell
            .get_or_init(|| {
                // A caller that joined runs `ask` itself only when the one
                // asking was cancelled before it finished.
                ran = true;
                ask()
            })
            .await
            .clone();
        // Gone from the table (and its slot free) once answered, so the next
        // asker reads the cache or asks afresh.
        drop(asking);
        if ran {
            Waited::Asked(answer)
        } else {
            Waited::Shared(answer)
        }
    }
}

/// The first asker of a question: takes it off the table when done or
/// cancelled, and holds its slot until then.
struct Asking<'a, T> {
    waiting: &'a DashMap<CacheKey, Arc<OnceCell<T>>>,
    key: &'a CacheKey,
    cell: Arc<OnceCell<T>>,
    by_client: &'a DashMap<IpAddr, usize>,
    client: IpAddr,
    _slot: OwnedSemaphorePermit,
}

impl<T> Drop for Asking<'_, T> {
    fn drop(&mut self) {
        self.waiting
            .remove_if(self.key, |_, cell| Arc::ptr_eq(cell, &self.cell));
        self.by_client.remove_if_mut(&self.client, |_, held| {
            *held -= 1;
            *held == 0
        });
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hickory_proto::rr::{LowerName, Name, RecordType};
    use tokio::sync::Notify;

    use super::*;

    fn client(n: u8) -> IpAddr {
        IpAddr::from([10, 0, 0, n])
    }

    fn key(name: &str) -> CacheKey {
        CacheKey::new(
            &LowerName::new(&Name::from_ascii(name).unwrap()),
            RecordType::A,
        )
    }

    #[tokio::test]
    async fn identical_questions_share_one_answer() {
        let pending = Arc::new(Pending::<u32>::new(4));
        let release = Arc::new(Notify::new());
        let asked = Arc::new(std::sync::atomic::AtomicU32::new(0));
        let mut tasks = Vec::new();
        for _ in 0..10 {
            let (pending, release, asked) = (pending.clone(), release.clone(), asked.clone());
            tasks.push(tokio::spawn(async move {
                pending
                    .ask(&key("a.example."), client(1), || async move {
                        asked.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        release.notified().await;
                        7
                    })
                    .await
            }));
        }
        while pending.is_empty() {
            tokio::task::yield_now().await;
        }
        // Let every task reach the table before the answer comes.
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pending.len(), 1, "one question out");
        release.notify_one();
        let mut results = Vec::new();
        for task in tasks {
            results.push(task.await.unwrap());
        }
        assert_eq!(asked.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert_eq!(
            results.iter().filter(|r| **r == Waited::Asked(7)).count(),
            1
        );
        assert_eq!(
            results.iter().filter(|r| **r == Waited::Shared(7)).count(),
            9
        );
        assert!(pending.is_empty(), "slot given back");
        assert!(pending.waiting.is_empty(), "question off the table");
        // Asked again afterwards: asked afresh.
        assert_eq!(
            pending
                .ask(&key("a.example."), client(1), || async { 8 })
                .await,
            Waited::Asked(8)
        );
    }

    #[tokio::test]
    async fn past_the_limit_nothing_is_asked() {
        let pending = Arc::new(Pending::<u32>::new(2));
        let release = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        for (i, name) in [(1, "a.example."), (2, "b.example.")] {
            let (pending, release) = (pending.clone(), release.clone());
            tasks.push(tokio::spawn(async move {
                pending
                    .ask(&key(name), client(i), || async move {
                        release.notified().await;
                        1
                    })
                    .await
            }));
        }
        while pending.len() < 2 {
            tokio::task::yield_now().await;
        }
        let mut ran = false;
        let third = pending
            .ask(&key("c.example."), client(9), || {
                ran = true;
                async { 3 }
            })
            .await;
        assert_eq!(third, Waited::Full);
        assert!(!ran);
        // A question already out is still shared, cap or not.
        let release_shared = release.clone();
        let shared = tokio::spawn({
            let pending = pending.clone();
            async move {
                pending
                    .ask(&key("a.example."), client(9), || async { 9 })
                    .await
            }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        release_shared.notify_waiters();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Waited::Asked(1));
        }
        assert_eq!(shared.await.unwrap(), Waited::Shared(1));
        assert_eq!(
            pending
                .ask(&key("c.example."), client(9), || async { 3 })
                .await,
            Waited::Asked(3)
        );
    }

    #[tokio::test]
    async fn one_client_holds_at_most_a_quarter_of_the_places() {
        let pending = Arc::new(Pending::<u32>::new(8));
        assert_eq!(pending.share(), 2);
        let release = Arc::new(Notify::new());
        let mut tasks = Vec::new();
        for name in ["a.example.", "b.example."] {
            let (pending, release) = (pending.clone(), release.clone());
            tasks.push(tokio::spawn(async move {
                pending
                    .ask(&key(name), client(1), || async move {
                        release.notified().await;
                        1
                    })
                    .await
            }));
        }
        while pending.len() < 2 {
            tokio::task::yield_now().await;
        }
        assert_eq!(
            pending
                .ask(&key("c.example."), client(1), || async { 3 })
                .await,
            Waited::ClientFull
        );
        // Another client still has room, and the first may still share.
        assert_eq!(
            pending
                .ask(&key("c.example."), client(2), || async { 3 })
                .await,
            Waited::Asked(3)
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        release.notify_waiters();
        for task in tasks {
            assert_eq!(task.await.unwrap(), Waited::Asked(1));
        }
        assert!(pending.by_client.is_empty(), "every share given back");
        assert_eq!(
            pending
                .ask(&key("c.example."), client(1), || async { 4 })
                .await,
            Waited::Asked(4)
        );
    }

    #[tokio::test]
    async fn a_cancelled_asker_frees_its_slot_and_question() {
        let pending = Arc::new(Pending::<u32>::new(1));
        let task = tokio::spawn({
            let pending = pending.clone();
            async move {
                pending
                    .ask(&key("a.example."), client(1), std::future::pending::<u32>)
                    .await
            }
        });
        while pending.is_empty() {
            tokio::task::yield_now().await;
        }
        task.abort();
        let _ = task.await;
        assert!(pending.is_empty());
        assert!(pending.waiting.is_empty());
        assert!(pending.by_client.is_empty());
        assert_eq!(
            pending
                .ask(&key("a.example."), client(1), || async { 2 })
                .await,
            Waited::Asked(2)
        );
    }
}
