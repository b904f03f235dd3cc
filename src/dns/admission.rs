//! Who may use the resolver at all: the allowed networks (so hedge is never an
//! open resolver) and a per-client token-bucket rate limit. A client over its
//! limit over UDP may be a forged address (a reflection attack on someone
//! else), so it gets at most every second query answered, with an empty
//! truncated reply no larger than the query: a real client retries over TCP,
//! a victim receives less than was sent in its name.

use std::net::IpAddr;
use std::time::{Duration, Instant};

use dashmap::DashMap;
use ipnet::IpNet;

/// The networks whose clients get answers.
#[derive(Debug, Clone)]
pub struct AllowList {
    networks: Vec<IpNet>,
}

impl AllowList {
    pub fn new(networks: Vec<IpNet>) -> Self {
        AllowList { networks }
    }

    /// Whether `ip` may be answered. IPv4-mapped IPv6 addresses (from
    /// dual-stack sockets) are judged as the IPv4 address they carry.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.networks.iter().any(|net| net.contains(&ip))
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    /// Queries over the limit so far (not reset by an admitted one, so at
    /// most every second of them is answered however they are spread).
    over: u32,
}

/// What to do with one query from a client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    /// Within the limit: answer it.
    Admitted,
    /// Over the limit, and this one gets an empty truncated reply (UDP) so a
    /// real client knows to retry over TCP.
    Slip,
    /// Over the limit: no reply over UDP.
    Drop,
}

/// Every `SLIP`-th query over the limit gets a truncated reply (as BIND's
/// response rate limiting does by default).
const SLIP: u32 = 2;

/// A token bucket per client address: a client may send `qps` queries a
/// second, with bursts of up to one second's worth.
#[derive(Debug)]
pub struct RateLimiter {
    buckets: DashMap<IpAddr, Bucket>,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter {
            buckets: DashMap::new(),
        }
    }
}

impl RateLimiter {
    /// Takes one token for `ip`; false when the client is over `qps`.
    /// A `qps` of 0 means no limit. A refusal here is not counted towards
    /// the slips: the caller passes the query on to [`RateLimiter::judge`].
    pub fn admit(&self, ip: IpAddr, qps: u32, now: Instant) -> bool {
        self.take(ip, qps, now, false) == Admission::Admitted
    }

    /// Takes one token for `ip`, or says how to treat a query over the
    /// limit: every [`SLIP`]-th gets a truncated reply, the rest none.
    pub fn judge(&self, ip: IpAddr, qps: u32, now: Instant) -> Admission {
        self.take(ip, qps, now, true)
    }

    fn take(&self, ip: IpAddr, qps: u32, now: Instant, count_over: bool) -> Admission {
        if qps == 0 {
            return Admission::Admitted;
        }
        let capacity = f64::from(qps);
        let mut bucket = self.buckets.entry(ip.to_canonical()).or_insert(Bucket {
            tokens: capacity,
            last: now,
            over: 0,
        });
        let elapsed = now.saturating_duration_since(bucket.last).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * capacity).min(capacity);
        bucket.last = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            return Admission::Admitted;
        }
        if !count_over {
            return Admission::Drop;
        }
        bucket.over = bucket.over.wrapping_add(1);
        if bucket.over % SLIP == 1 {
            Admission::Slip
        } else {
            Admission::Drop
        }
    }

    /// Forgets clients idle for longer than `idle`, so the table stays the
    /// size of the active client population.
    pub fn prune(&self, now: Instant, idle: Duration) {
        self.buckets
            .retain(|_, bucket| now.saturating_duration_since(bucket.last) < idle);
    }

    pub fn tracked_clients(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_list_matches_networks_and_mapped_addresses() {
        let list = AllowList::new(vec![
            "10.0.0.0/8".parse().unwrap(),
            "::1/128".parse().unwrap(),
        ]);
        assert!(list.allows("10.2.3.4".parse().unwrap()));
        assert!(list.allows("::ffff:10.2.3.4".parse().unwrap()));
        assert!(list.allows("::1".parse().unwrap()));
        assert!(!list.allows("11.0.0.1".parse().unwrap()));
        assert!(!AllowList::new(vec![]).allows("127.0.0.1".parse().unwrap()));
    }

    #[test]
    fn bucket_allows_burst_then_refills() {
        let limiter = RateLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..5 {
            assert!(limiter.admit(ip, 5, t0));
        }
        assert!(!limiter.admit(ip, 5, t0));
        // Another client is unaffected.
        assert!(limiter.admit("10.0.0.2".parse().unwrap(), 5, t0));
        // 200 ms later one token has come back.
        let t1 = t0 + Duration::from_millis(200);
        assert!(limiter.admit(ip, 5, t1));
        assert!(!limiter.admit(ip, 5, t1));
        assert!(limiter.admit(ip, 0, t1), "0 means no limit");
    }

    #[test]
    fn over_the_limit_every_second_query_slips() {
        let limiter = RateLimiter::default();
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.judge(ip, 3, t0), Admission::Admitted);
        }
        // A refusal on the fast path's check does not move the count.
        assert!(!limiter.admit(ip, 3, t0));
        let over: Vec<Admission> = (0..6).map(|_| limiter.judge(ip, 3, t0)).collect();
        use Admission::{Drop, Slip};
        assert_eq!(over, [Slip, Drop, Slip, Drop, Slip, Drop]);
        // Admitted again in between: the alternation goes on where it was,
        // so a client hovering at its limit still gets half at most.
        let later = t0 + Duration::from_millis(334);
        assert_eq!(limiter.judge(ip, 3, later), Admission::Admitted);
        assert_eq!(limiter.judge(ip, 3, later), Slip);
        let later = later + Duration::from_millis(334);
        assert_eq!(limiter.judge(ip, 3, later), Admission::Admitted);
        assert_eq!(limiter.judge(ip, 3, later), Drop);
    }

    #[test]
    fn prune_forgets_idle_clients() {
        let limiter = RateLimiter::default();
        let t0 = Instant::now();
        limiter.admit("10.0.0.1".parse().unwrap(), 5, t0);
        limiter.admit("10.0.0.2".parse().unwrap(), 5, t0 + Duration::from_secs(50));
        limiter.prune(t0 + Duration::from_secs(70), Duration::from_secs(60));
        assert_eq!(limiter.tracked_clients(), 1);
    }
}
