//! Folding repeats: a device asking the same name again, with the same
//! answer, within a short window is one log row with a count, not one row
//! per query. Devices repeat themselves constantly (connectivity checks,
//! apps polling, several tabs), and a row costs the writer far more than a
//! count does; nothing a search or report needs is lost, only the exact
//! time of each repeat inside the window.

use std::collections::hash_map::DefaultHasher;
use std::collections::{HashMap, VecDeque};
use std::hash::{Hash, Hasher};
use std::net::IpAddr;
use std::sync::Arc;

use super::record::{Action, QueryRecord};
use crate::config::Mac;

/// A log row: the first query, how many times it was asked in all, and
/// when last (`None`: once).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub record: QueryRecord,
    pub times: u32,
    pub last_ms: Option<i64>,
}

impl Row {
    pub fn once(record: QueryRecord) -> Row {
        Row {
            record,
            times: 1,
            last_ms: None,
        }
    }
}

/// Entries waiting for their window to close, oldest first.
#[derive(Debug)]
pub struct Repeats {
    window_ms: i64,
    /// Most entries held before the oldest are let go early.
    capacity: usize,
    waiting: VecDeque<Waiting>,
    /// Sequence number of `waiting[0]`.
    base: u64,
    /// Key hash -> sequence number of the row it was last seen in. A hash
    /// shared by two different entries only stops them being folded.
    by_key: HashMap<u64, u64>,
}

/// A row while it waits, packed: 96 bytes where a [`Row`] is 176. At full
/// speed one row per name asked waits for the whole window (10,000 rows
/// at 100,000 queries a second, in a ring of 16,384), so this is most of
/// the writer's memory.
#[derive(Debug)]
struct Waiting {
    at_ms: i64,
    /// When last asked; meant only once `times` is over 1.
    last_ms: i64,
    client: IpAddr,
    /// The device's MAC address; all zero when unknown (no MAC address is
    /// all zero), which keeps the row at 96 bytes where an `Option` would
    /// not.
    mac: [u8; 6],
    group: Option<Arc<str>>,
    name: Box<str>,
    /// The fields most entries leave empty.
    rare: Option<Box<Rare>>,
    upstream_us: Option<u32>,
    times: u32,
    qtype: u16,
    rcode: u16,
    action: Action,
}

#[derive(Debug)]
struct Rare {
    client_name: Option<Box<str>>,
    category: Option<Box<str>>,
    rule: Option<Box<str>>,
}

/// What makes two entries the same query with the same answer (all but
/// the time and the upstream's latency), borrowed from either form.
#[derive(PartialEq, Eq, Hash)]
struct Query<'a> {
    client: IpAddr,
    mac: Option<Mac>,
    qtype: u16,
    action: Action,
    rcode: u16,
    name: &'a str,
    group: Option<&'a str>,
    client_name: Option<&'a str>,
    category: Option<&'a str>,
    rule: Option<&'a str>,
}

impl Query<'_> {
    fn hash_key(&self) -> u64 {
        let mut hasher = DefaultHasher::new();
        self.hash(&mut hasher);
        hasher.finish()
    }
}

fn query_of(record: &QueryRecord) -> Query<'_> {
    Query {
        client: record.client,
        mac: record.mac,
        qtype: record.qtype,
        action: record.action,
        rcode: record.rcode,
        name: &record.name,
        group: record.group.as_deref(),
        client_name: record.client_name.as_deref(),
        category: record.category.as_deref(),
        rule: record.rule.as_deref(),
    }
}

impl Waiting {
    fn new(record: QueryRecord) -> Waiting {
        let boxed = |text: Option<String>| text.map(String::into_boxed_str);
        let rare =
            (record.client_name.is_some() || record.category.is_some() || record.rule.is_some())
                .then(|| {
                    Box::new(Rare {
                        client_name: boxed(record.client_name),
                        category: boxed(record.category),
                        rule: boxed(record.rule),
                    })
                });
        Waiting {
            at_ms: record.at_ms,
            last_ms: record.at_ms,
            client: record.client,
            mac: record.mac.map_or([0; 6], |mac| mac.0),
            group: record.group,
            name: record.name.into_boxed_str(),
            rare,
            upstream_us: record.upstream_us,
            times: 1,
            qtype: record.qtype,
            rcode: record.rcode,
            action: record.action,
        }
    }

    fn query(&self) -> Query<'_> {
        let rare = self.rare.as_deref();
        Query {
            client: self.client,
            mac: Mac::from_bytes(&self.mac),
            qtype: self.qtype,
            action: self.action,
            rcode: self.rcode,
            name: &self.name,
            group: self.group.as_deref(),
            client_name: rare.and_then(|r| r.client_name.as_deref()),
            category: rare.and_then(|r| r.category.as_deref()),
            rule: rare.and_then(|r| r.rule.as_deref()),
        }
    }

    fn into_row(self) -> Row {
        let Rare {
            client_name,
            category,
            rule,
        } = self.rare.map_or(
            Rare {
                client_name: None,
                category: None,
                rule: None,
            },
            |rare| *rare,
        );
        Row {
            record: QueryRecord {
                at_ms: self.at_ms,
                client: self.client,
                client_name: client_name.map(String::from),
                mac: Mac::from_bytes(&self.mac),
                group: self.group,
                name: self.name.into_string(),
                qtype: self.qtype,
                action: self.action,
                category: category.map(String::from),
                rule: rule.map(String::from),
                rcode: self.rcode,
                upstream_us: self.upstream_us,
            },
            times: self.times,
            last_ms: (self.times > 1).then_some(self.last_ms),
        }
    }
}

impl Repeats {
    /// Folds repeats within `window_ms` of an entry's first query; 0 keeps
    /// every query as its own row.
    pub fn new(window_ms: i64, capacity: usize) -> Repeats {
        Repeats {
            window_ms,
            capacity: capacity.max(1),
            waiting: VecDeque::new(),
            base: 0,
            by_key: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Takes in an entry: counted into a waiting row for the same query,
    /// or waiting as a new row. Rows pushed out by the capacity go to
    /// `ready`.
    pub fn add(&mut self, record: QueryRecord, ready: &mut Vec<Row>) {
        if self.window_ms <= 0 {
            ready.push(Row::once(record));
            return;
        }
        let query = query_of(&record);
        let key = query.hash_key();
        if let Some(&seq) = self.by_key.get(&key)
            && let Some(row) = seq
                .checked_sub(self.base)
                .and_then(|i| self.waiting.get_mut(i as usize))
            && row.query() == query
            && record.at_ms >= row.at_ms
            && record.at_ms - row.at_ms < self.window_ms
        {
            row.times = row.times.saturating_add(1);
            row.last_ms = record.at_ms;
            return;
        }
        if self.waiting.len() >= self.capacity {
            self.pop(ready);
        }
        self.by_key
            .insert(key, self.base + self.waiting.len() as u64);
        self.waiting.push_back(Waiting::new(record));
    }

    /// Moves rows whose window has closed by `now_ms` to `ready`.
    pub fn expire(&mut self, now_ms: i64, ready: &mut Vec<Row>) {
        while self
            .waiting
            .front()
            .is_some_and(|row| now_ms - row.at_ms >= self.window_ms)
        {
            self.pop(ready);
        }
    }

    /// Moves every waiting row to `ready` (at shutdown).
    pub fn drain(&mut self, ready: &mut Vec<Row>) {
        while !self.waiting.is_empty() {
            self.pop(ready);
        }
    }

    fn pop(&mut self, ready: &mut Vec<Row>) {
        let Some(row) = self.waiting.pop_front() else {
            return;
        };
        let key = row.query().hash_key();
        if self.by_key.get(&key) == Some(&self.base) {
            self.by_key.remove(&key);
        }
        self.base += 1;
        ready.push(row.into_row());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at_ms: i64, client: &str, name: &str, action: Action) -> QueryRecord {
        QueryRecord {
            at_ms,
            client: client.parse().unwrap(),
            client_name: None,
            mac: None,
            group: Some("pupils".into()),
            name: name.to_string(),
            qtype: 1,
            action,
            category: None,
            rule: None,
            rcode: 0,
            upstream_us: Some(900),
        }
    }

    #[test]
    fn repeats_within_the_window_are_one_row() {
        let mut repeats = Repeats::new(10_000, 100);
        let mut ready = Vec::new();
        for i in 0..5 {
            repeats.add(
                entry(1_000 + i * 1_000, "10.0.0.1", "a.example", Action::Allowed),
                &mut ready,
            );
        }
        // Another client, another name, another outcome: rows of their own.
        repeats.add(
            entry(2_000, "10.0.0.2", "a.example", Action::Allowed),
            &mut ready,
        );
        repeats.add(
            entry(2_000, "10.0.0.1", "b.example", Action::Allowed),
            &mut ready,
        );
        repeats.add(
            entry(2_500, "10.0.0.1", "a.example", Action::Blocked),
            &mut ready,
        );
        // Past the window of the first row: a new row.
        repeats.add(
            entry(11_000, "10.0.0.1", "a.example", Action::Allowed),
            &mut ready,
        );
        assert!(ready.is_empty());
        assert_eq!(repeats.len(), 5);

        repeats.expire(10_999, &mut ready);
        assert!(ready.is_empty());
        repeats.expire(11_000, &mut ready);
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].times, 5);
        assert_eq!(ready[0].last_ms, Some(5_000));
        assert_eq!(ready[0].record.at_ms, 1_000);
        assert_eq!(ready[0].record.upstream_us, Some(900));

        repeats.expire(12_600, &mut ready);
        assert_eq!(ready.len(), 4);
        assert!(
            ready[1..]
                .iter()
                .all(|r| r.times == 1 && r.last_ms.is_none())
        );
        repeats.drain(&mut ready);
        assert_eq!(ready.len(), 5);
        assert!(repeats.is_empty());
        let total: u32 = ready.iter().map(|r| r.times).sum();
        assert_eq!(total, 9);
    }

    #[test]
    fn a_waiting_row_stays_packed() {
        assert!(std::mem::size_of::<Waiting>() <= 96);
        // Every field comes back as it went in.
        let mut repeats = Repeats::new(10_000, 100);
        let mut ready = Vec::new();
        let mut record = entry(7, "2001:db8::1", "x.example", Action::Blocked);
        record.client_name = Some("laptop-7".into());
        record.category = Some("malware".into());
        record.rule = Some("list".into());
        record.rcode = 3;
        repeats.add(record.clone(), &mut ready);
        repeats.drain(&mut ready);
        assert_eq!(ready, vec![Row::once(record)]);
    }

    #[test]
    fn a_full_table_lets_the_oldest_go_and_no_window_folds_nothing() {
        let mut repeats = Repeats::new(10_000, 2);
        let mut ready = Vec::new();
        repeats.add(
            entry(0, "10.0.0.1", "a.example", Action::Allowed),
            &mut ready,
        );
        repeats.add(
            entry(1, "10.0.0.1", "b.example", Action::Allowed),
            &mut ready,
        );
        repeats.add(
            entry(2, "10.0.0.1", "c.example", Action::Allowed),
            &mut ready,
        );
        assert_eq!(ready.len(), 1);
        assert_eq!(ready[0].record.name, "a.example");
        // a.example again: its row is gone, so it starts a new one.
        repeats.add(
            entry(3, "10.0.0.1", "a.example", Action::Allowed),
            &mut ready,
        );
        assert_eq!(ready.len(), 2);
        repeats.add(
            entry(4, "10.0.0.1", "c.example", Action::Allowed),
            &mut ready,
        );
        repeats.drain(&mut ready);
        let c = ready.iter().find(|r| r.record.name == "c.example").unwrap();
        assert_eq!(c.times, 2);

        let mut none = Repeats::new(0, 100);
        let mut ready = Vec::new();
        none.add(
            entry(0, "10.0.0.1", "a.example", Action::Allowed),
            &mut ready,
        );
        none.add(
            entry(1, "10.0.0.1", "a.example", Action::Allowed),
            &mut ready,
        );
        assert_eq!(ready.len(), 2);
        assert!(none.is_empty());
    }
}
