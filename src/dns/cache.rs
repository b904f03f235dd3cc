//! The answer cache in front of the upstreams, with serve-stale (RFC 8767).
//!
//! hickory-resolver has a cache of its own, but it forgets an answer the
//! moment it expires; serving stale needs the expired answer kept for a while
//! longer. So hedge keeps one cache here, for forwarding and recursion alike,
//! and runs the resolver without one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::{LowerName, Record, RecordType};

/// Longest time any answer is kept fresh, whatever its TTL says.
pub const MAX_POSITIVE_TTL: u32 = 86_400;
/// Longest time a negative answer is kept fresh (RFC 2308 suggests 1-3 h).
pub const MAX_NEGATIVE_TTL: u32 = 3_600;

/// A cache key: the query name (lowercase) in wire form, then the type.
/// Bytes, so that the fast path looks answers up straight from a packet
/// ([`WireKey`]) and comparing keys is one `memcmp`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey(Box<[u8]>);

impl CacheKey {
    pub fn new(name: &LowerName, rtype: RecordType) -> CacheKey {
        let mut bytes = Vec::with_capacity(name.len() + 3);
        for label in name.iter() {
            bytes.push(label.len() as u8);
            bytes.extend_from_slice(label);
        }
        bytes.push(0);
        bytes.extend_from_slice(&u16::from(rtype).to_be_bytes());
        CacheKey(bytes.into())
    }

    /// The key of an answer kept apart from the plain one (asked with DO,
    /// or unchecked): the plain key and one byte more, which no key read
    /// from a packet has.
    pub fn variant(name: &LowerName, rtype: RecordType, variant: Option<u8>) -> CacheKey {
        let key = CacheKey::new(name, rtype);
        match variant {
            None => key,
            Some(byte) => {
                let mut bytes = key.0.into_vec();
                bytes.push(byte);
                CacheKey(bytes.into())
            }
        }
    }
}

/// A key borrowed from bytes laid out as [`CacheKey`]'s: a lowercase wire
/// name and the type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WireKey<'a>(pub &'a [u8]);

impl quick_cache::Equivalent<CacheKey> for WireKey<'_> {
    fn equivalent(&self, key: &CacheKey) -> bool {
        *self.0 == *key.0
    }
}

/// An answer as it came from upstream, with when it arrived.
#[derive(Debug)]
pub struct CachedAnswer {
    pub rcode: ResponseCode,
    /// Boxed slices, not `Vec`s: an answer is kept for hours and a `Vec`
    /// collected from a message holds room for four records (1 KB spare
    /// for one A record).
    pub answers: Box<[Record]>,
    /// For negative answers, the zone's SOA.
    pub authorities: Box<[Record]>,
    /// Seconds the answer is fresh for, already capped.
    pub ttl: u32,
    pub stored_at: Instant,
    /// The records as the fast path sends them, encoded at its first use
    /// (`None`: not an answer the fast path can send).
    pub encoded: OnceLock<Option<super::wire::EncodedRecords>>,
    /// Someone has started refreshing this answer before it expires.
    prefetch_claimed: AtomicBool,
    /// Validated from a trust anchor, or marked AD by a validating upstream.
    pub secure: bool,
    /// The DNSSEC records (RRSIG, NSEC, NSEC3) that came with the answer,
    /// sent only to clients that set DO.
    pub proofs: Option<Box<Proofs>>,
}

/// DNSSEC records kept beside an answer, by the section they go in.
#[derive(Debug, Default)]
pub struct Proofs {
    pub answers: Vec<Record>,
    pub authorities: Vec<Record>,
}

impl CachedAnswer {
    /// Builds an answer whose freshness is the smallest TTL among its records
    /// (or `negative_ttl` for an answer without records), capped.
    pub fn new(
        rcode: ResponseCode,
        answers: Vec<Record>,
        authorities: Vec<Record>,
        negative_ttl: Option<u32>,
        now: Instant,
    ) -> CachedAnswer {
        let ttl = if answers.is_empty() {
            let soa_ttl = authorities.iter().map(|r| r.ttl).min();
            negative_ttl.or(soa_ttl).unwrap_or(60).min(MAX_NEGATIVE_TTL)
        } else {
            answers
                .iter()
                .map(|r| r.ttl)
                .min()
                .unwrap_or(0)
                .min(MAX_POSITIVE_TTL)
        };
        CachedAnswer {
            rcode,
            answers: answers.into_boxed_slice(),
            authorities: authorities.into_boxed_slice(),
            ttl,
            stored_at: now,
            encoded: OnceLock::new(),
            prefetch_claimed: AtomicBool::new(false),
            secure: false,
            proofs: None,
        }
    }

    /// The same answer with its DNSSEC standing and records.
    pub fn with_dnssec(mut self, secure: bool, mut proofs: Proofs) -> CachedAnswer {
        self.secure = secure;
        if !proofs.answers.is_empty() || !proofs.authorities.is_empty() {
            proofs.answers.shrink_to_fit();
            proofs.authorities.shrink_to_fit();
            self.proofs = Some(Box::new(proofs));
        }
        self
    }

    /// Every record of the answer with its DNSSEC records, by section.
    pub fn all_records(&self) -> (Vec<Record>, Vec<Record>) {
        let mut answers = self.answers.to_vec();
        let mut authorities = self.authorities.to_vec();
        if let Some(proofs) = &self.proofs {
            answers.extend(proofs.answers.iter().cloned());
            authorities.extend(proofs.authorities.iter().cloned());
        }
        (answers, authorities)
    }

    /// Whether an answer asked for with `left` seconds of freshness left
    /// should be refreshed now: it is in the last tenth of its TTL
    /// (Unbound's rule; so never for a TTL under 10 s) and no refresh has
    /// been started.
    pub fn wants_prefetch(&self, left: u32) -> bool {
        u64::from(left) * 10 <= u64::from(self.ttl)
            && !self.prefetch_claimed.load(Ordering::Relaxed)
    }

    /// Claims the refresh of this answer: true for exactly one caller.
    pub fn claim_prefetch(&self) -> bool {
        !self.prefetch_claimed.swap(true, Ordering::Relaxed)
    }

    fn age(&self, now: Instant) -> Duration {
        now.saturating_duration_since(self.stored_at)
    }

    /// Seconds of freshness left, or `None` once expired.
    pub fn remaining(&self, now: Instant) -> Option<u32> {
        let age = self.age(now).as_secs();
        let left = u64::from(self.ttl).checked_sub(age)?;
        (left > 0).then_some(left as u32)
    }

    /// The records with their TTLs counted down to `remaining` (fresh) or set
    /// to `fixed` (a stale answer).
    pub fn records_with_ttl(records: &[Record], ttl: u32, fixed: bool) -> Vec<Record> {
        records
            .iter()
            .map(|r| {
                let mut r = r.clone();
                r.ttl = if fixed { ttl } else { r.ttl.min(ttl) };
                r
            })
            .collect()
    }
}

/// What the cache holds for a query.
#[derive(Debug)]
pub enum CacheLookup {
    /// Still fresh: serve with this many seconds of TTL left.
    Fresh(Arc<CachedAnswer>, u32),
    /// Expired but inside the stale window: serve only if upstreams fail.
    Stale(Arc<CachedAnswer>),
    Miss,
}

/// A bounded cache of upstream answers.
///
/// Eviction is by capacity (quick_cache's S3-FIFO, which keeps what is asked
/// often); an answer past its TTL and stale window is a miss when looked
/// up, and replaced when the name is next resolved.
pub struct AnswerCache {
    entries: Option<quick_cache::sync::Cache<CacheKey, Arc<CachedAnswer>>>,
    capacity: u64,
    stale_window: Duration,
}

impl AnswerCache {
    /// A cache of up to `capacity` answers (0: no cache), each kept
    /// `stale_window` past its expiry for serve-stale.
    pub fn new(capacity: u64, stale_window: Duration) -> AnswerCache {
        let entries = (capacity > 0).then(|| {
            quick_cache::sync::Cache::new(usize::try_from(capacity).unwrap_or(usize::MAX))
        });
        AnswerCache {
            entries,
            capacity,
            stale_window,
        }
    }

    /// Whether this cache was built with these settings (so a reload can
    /// keep it, and its answers).
    pub fn has_settings(&self, capacity: u64, stale_window: Duration) -> bool {
        self.capacity == capacity && self.stale_window == stale_window
    }

    pub fn get(&self, key: &CacheKey, now: Instant) -> CacheLookup {
        self.lookup(WireKey(&key.0), now)
    }

    /// The same, for a key read straight from a packet.
    pub fn lookup(&self, key: WireKey<'_>, now: Instant) -> CacheLookup {
        let Some(entries) = &self.entries else {
            return CacheLookup::Miss;
        };
        match entries.get(&key) {
            None => CacheLookup::Miss,
            Some(answer) => match answer.remaining(now) {
                Some(left) => CacheLookup::Fresh(answer, left),
                None if answer.age(now)
                    < Duration::from_secs(u64::from(answer.ttl)) + self.stale_window =>
                {
                    CacheLookup::Stale(answer)
                }
                None => CacheLookup::Miss,
            },
        }
    }

    /// Stores an answer. Answers with no freshness at all are not kept.
    pub fn insert(&self, key: CacheKey, answer: Arc<CachedAnswer>) {
        if let Some(entries) = &self.entries
            && (answer.ttl > 0 || !self.stale_window.is_zero())
        {
            entries.insert(key, answer);
        }
    }

    pub fn len(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.len() as u64)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::{Name, RData, rdata::A};
    use std::str::FromStr;

    fn record(ttl: u32) -> Record {
        Record::from_rdata(
            Name::from_str("www.example.org.").unwrap(),
            ttl,
            RData::A(A::new(192, 0, 2, 1)),
        )
    }

    fn key() -> CacheKey {
        CacheKey::new(
            &LowerName::from(Name::from_str("www.Example.org.").unwrap()),
            RecordType::A,
        )
    }

    #[test]
    fn keys_are_lowercase_wire_names_and_types() {
        let cache = AnswerCache::new(100, Duration::ZERO);
        let t0 = Instant::now();
        let answer = CachedAnswer::new(ResponseCode::NoError, vec![record(10)], vec![], None, t0);
        cache.insert(key(), Arc::new(answer));
        let wire = b"\x03www\x07example\x03org\x00\x00\x01";
        assert!(matches!(
            cache.lookup(WireKey(wire), t0),
            CacheLookup::Fresh(_, 10)
        ));
        let aaaa = b"\x03www\x07example\x03org\x00\x00\x1c";
        assert!(matches!(cache.lookup(WireKey(aaaa), t0), CacheLookup::Miss));
    }

    #[test]
    fn fresh_then_stale_then_gone() {
        let cache = AnswerCache::new(100, Duration::from_secs(60));
        let t0 = Instant::now();
        let answer = CachedAnswer::new(ResponseCode::NoError, vec![record(10)], vec![], None, t0);
        cache.insert(key(), Arc::new(answer));
        match cache.get(&key(), t0 + Duration::from_secs(4)) {
            CacheLookup::Fresh(_, left) => assert_eq!(left, 6),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            cache.get(&key(), t0 + Duration::from_secs(30)),
            CacheLookup::Stale(_)
        ));
        assert!(matches!(
            cache.get(&key(), t0 + Duration::from_secs(71)),
            CacheLookup::Miss
        ));
    }

    #[test]
    fn ttl_is_smallest_record_and_capped() {
        let t0 = Instant::now();
        let a = CachedAnswer::new(
            ResponseCode::NoError,
            vec![record(300), record(20)],
            vec![],
            None,
            t0,
        );
        assert_eq!(a.ttl, 20);
        let a = CachedAnswer::new(
            ResponseCode::NoError,
            vec![record(10_000_000)],
            vec![],
            None,
            t0,
        );
        assert_eq!(a.ttl, MAX_POSITIVE_TTL);
        let n = CachedAnswer::new(ResponseCode::NXDomain, vec![], vec![], Some(999_999), t0);
        assert_eq!(n.ttl, MAX_NEGATIVE_TTL);
    }

    #[test]
    fn disabled_cache_misses() {
        let cache = AnswerCache::new(0, Duration::ZERO);
        let t0 = Instant::now();
        let answer = CachedAnswer::new(ResponseCode::NoError, vec![record(10)], vec![], None, t0);
        cache.insert(key(), Arc::new(answer));
        assert!(matches!(cache.get(&key(), t0), CacheLookup::Miss));
    }

    #[test]
    fn served_ttls_count_down() {
        let records = CachedAnswer::records_with_ttl(&[record(300), record(5)], 100, false);
        assert_eq!(records[0].ttl, 100);
        assert_eq!(records[1].ttl, 5);
        let records = CachedAnswer::records_with_ttl(&[record(300)], 30, true);
        assert_eq!(records[0].ttl, 30);
    }

    #[test]
    fn prefetch_is_wanted_in_the_last_tenth_and_claimed_once() {
        let now = Instant::now();
        let answer = CachedAnswer::new(ResponseCode::NoError, vec![record(300)], vec![], None, now);
        assert!(!answer.wants_prefetch(31));
        assert!(answer.wants_prefetch(30));
        assert!(answer.wants_prefetch(1));
        assert!(answer.claim_prefetch());
        assert!(!answer.claim_prefetch(), "once");
        assert!(!answer.wants_prefetch(1), "already under way");
        // A TTL under 10 s has no last tenth to speak of.
        let short = CachedAnswer::new(ResponseCode::NoError, vec![record(9)], vec![], None, now);
        assert!(!short.wants_prefetch(1));
    }
}
