//! The compiled index: name -> what the lists say about it (a [`Verdict`]).
//!
//! An entry covers its name and every name below it, so a lookup walks the
//! query name's suffixes (`com`, `example.com`, `www.example.com`) and
//! reports every one that is listed, most specific first.
//!
//! The index is built off to the side and is immutable once built. It keeps
//! no names, only a keyed 64-bit hash of each, computed label by label from
//! the right so that all the suffixes of a query name cost one pass. A slot
//! is one 64-bit word: the hash, with its lowest bits replaced by a small
//! number naming one of the distinct verdicts (as few bits as there are
//! verdicts: 9 for a few hundred), so a million names take about 16 bytes
//! each and a lookup loads one word per suffix. Two different names look
//! the same with probability about 2^-55 per comparison for a few hundred
//! verdicts; the key is random per build so nobody can craft a collision.
//! `hedge explain` re-reads the lists and compares names exactly.

use std::collections::HashMap;
use std::hash::BuildHasher;

use hickory_proto::rr::LowerName;

use super::parse::{Action, RpzAction};
use crate::config::{CategoryId, CategorySet};

/// What the lists say about one name.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Verdict {
    /// Categories whose lists block the name.
    pub block: CategorySet,
    /// Categories whose lists make an exception for it (`@@||name^`,
    /// `rpz-passthru`).
    pub allow: CategorySet,
    /// An RPZ action for the name, with the category of its list.
    pub rpz: Option<(CategoryId, RpzAction)>,
}

impl Verdict {
    fn add(&mut self, category: CategoryId, action: &Action) {
        match action {
            Action::Block => self.block.insert(category),
            Action::Allow => self.allow.insert(category),
            Action::Rpz(rpz) => {
                self.block.insert(category);
                match (&mut self.rpz, rpz) {
                    (Some((c, RpzAction::LocalData(have))), RpzAction::LocalData(more))
                        if *c == category =>
                    {
                        for ip in more {
                            if !have.contains(ip) {
                                have.push(*ip);
                            }
                        }
                    }
                    (None, _) => self.rpz = Some((category, rpz.clone())),
                    _ => {}
                }
            }
        }
    }
}

/// A listed suffix of a looked-up name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match<'a> {
    /// How many labels the listed name has (more is more specific).
    pub depth: u8,
    pub verdict: &'a Verdict,
}

/// Labels looked up together; real names rarely have more.
const FAST_LABELS: usize = 12;

/// At most this many matches are reported (the most specific ones).
const MAX_MATCHES: usize = 8;

/// The matches of one lookup, most specific first, without allocating.
#[derive(Clone, Copy)]
pub struct Matches<'a> {
    verdicts: &'a [Verdict],
    ids: [u32; MAX_MATCHES],
    depths: [u8; MAX_MATCHES],
    len: u8,
}

impl<'a> Matches<'a> {
    fn new(verdicts: &'a [Verdict]) -> Matches<'a> {
        Matches {
            verdicts,
            ids: [0; MAX_MATCHES],
            depths: [0; MAX_MATCHES],
            len: 0,
        }
    }

    #[inline]
    fn push(&mut self, depth: usize, id: u32) {
        let len = usize::from(self.len);
        if len < MAX_MATCHES {
            self.ids[len] = id;
            self.depths[len] = depth.min(255) as u8;
            self.len += 1;
        }
    }

    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    pub fn first(&self) -> Option<Match<'a>> {
        self.iter().next()
    }

    pub fn get(&self, i: usize) -> Option<Match<'a>> {
        (i < self.len()).then(|| Match {
            depth: self.depths[i],
            verdict: &self.verdicts[self.ids[i] as usize],
        })
    }

    pub fn iter(&self) -> impl Iterator<Item = Match<'a>> + '_ {
        (0..self.len()).filter_map(|i| self.get(i))
    }
}

impl std::ops::Index<usize> for Matches<'_> {
    type Output = Verdict;
    fn index(&self, i: usize) -> &Verdict {
        assert!(i < self.len(), "match {i} of {}", self.len);
        &self.verdicts[self.ids[i] as usize]
    }
}

impl std::fmt::Debug for Matches<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

const P0: u64 = 0xa076_1d64_78bd_642f;
const P1: u64 = 0xe703_7ed1_a0b4_28db;

#[inline]
fn mix(a: u64, b: u64) -> u64 {
    let r = u128::from(a) * u128::from(b);
    (r as u64) ^ ((r >> 64) as u64)
}

#[inline]
fn hash_label(seed: u64, label: &[u8]) -> u64 {
    let mut h = seed ^ (label.len() as u64).wrapping_mul(P1);
    let mut chunks = label.chunks_exact(8);
    for chunk in &mut chunks {
        let word = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        h = mix(h ^ word, P0);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        // Byte by byte: a variable-length copy would call memcpy.
        let mut word = 0u64;
        for (i, &b) in rest.iter().enumerate() {
            word |= u64::from(b) << (8 * i);
        }
        h = mix(h ^ word, P0);
    }
    h
}

/// The hash of a name one label longer than the name hashed to `parent`.
#[inline]
fn extend(seed: u64, parent: u64, label: &[u8]) -> u64 {
    let h = mix(parent ^ P1, hash_label(seed, label) ^ P0);
    // 0 marks an empty slot.
    if h == 0 { 1 } else { h }
}

/// Collects entries, then [`IndexBuilder::build`]s the index.
///
/// Adding only hashes the name and appends: a million names are sorted
/// once at the end rather than kept in a map that grows and rehashes.
pub struct IndexBuilder {
    seed: u64,
    /// (name hash, what one list line said), in the order added.
    entries: Vec<(u64, u32)>,
    /// The distinct (category, action) pairs the entries name.
    actions: Vec<(CategoryId, Action)>,
    action_ids: HashMap<(CategoryId, Action), u32>,
}

impl Default for IndexBuilder {
    fn default() -> Self {
        IndexBuilder::new()
    }
}

impl IndexBuilder {
    pub fn new() -> IndexBuilder {
        let seed =
            std::collections::hash_map::RandomState::new().hash_one(0x0068_6564_6765_u64) | 1;
        IndexBuilder {
            seed,
            entries: Vec::new(),
            actions: Vec::new(),
            action_ids: HashMap::new(),
        }
    }

    /// Makes room for about `entries` more entries.
    pub fn reserve(&mut self, entries: usize) {
        self.entries.reserve(entries);
    }

    /// Records that the list of `category` says `action` about `name`
    /// (normalised, no trailing dot).
    pub fn add(&mut self, name: &str, category: CategoryId, action: &Action) {
        let key = name_hash(self.seed, name);
        // Lines of one list say the same thing: compare with the last
        // pair before hashing it.
        let id = match self.actions.last() {
            Some((c, a)) if *c == category && a == action => self.actions.len() as u32 - 1,
            _ => match self.action_ids.get(&(category, action.clone())) {
                Some(&id) => id,
                None => {
                    self.actions.push((category, action.clone()));
                    let id = self.actions.len() as u32 - 1;
                    self.action_ids.insert((category, action.clone()), id);
                    id
                }
            },
        };
        self.entries.push((key, id));
    }

    /// Entries added (a name listed twice counts twice).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn build(mut self) -> Index {
        // Stable: the entries of one name stay in the order their lists
        // were read, which decides between RPZ actions.
        self.entries.sort_by_key(|&(key, _)| key);
        // A slot keeps a verdict's number in the hash's lowest bits, as
        // few as the verdicts need. Names whose hashes differ only there
        // count as one, which can change the verdicts, so the table is
        // filled again in the rare case that the bits no longer suffice.
        let mut names = 0;
        let mut needed = id_width(self.verdicts_by_key(u64::MAX, |_, _| names += 1).len());
        let capacity = (names * 2).max(16);
        loop {
            let id_bits = needed;
            let mask = key_mask(id_bits);
            let mut slots = vec![0u64; capacity].into_boxed_slice();
            let mut len = 0;
            let verdicts = self.verdicts_by_key(mask, |key, id| {
                let number = u64::from(id) + 1;
                if number & mask != 0 {
                    return;
                }
                let mut slot = home(key, capacity);
                while slots[slot] != 0 {
                    slot = if slot + 1 == capacity { 0 } else { slot + 1 };
                }
                // Never 0, the mark of an empty slot.
                slots[slot] = key | number;
                len += 1;
            });
            needed = id_width(verdicts.len());
            if needed <= id_bits {
                return Index {
                    seed: self.seed,
                    mask,
                    slots,
                    verdicts: verdicts.into_boxed_slice(),
                    len,
                };
            }
        }
    }

    /// The distinct verdicts of the sorted entries, calling `each` with
    /// every distinct `key & mask` and the number of its verdict.
    fn verdicts_by_key(&self, mask: u64, mut each: impl FnMut(u64, u32)) -> Vec<Verdict> {
        let mut verdicts: Vec<Verdict> = Vec::new();
        let mut verdict_ids: HashMap<Verdict, u32> = HashMap::new();
        // The verdict of a name listed once, by action.
        let mut single: Vec<Option<u32>> = vec![None; self.actions.len()];
        let mut intern = |verdict: Verdict| {
            *verdict_ids.entry(verdict).or_insert_with_key(|verdict| {
                verdicts.push(verdict.clone());
                (verdicts.len() - 1) as u32
            })
        };
        for run in self.entries.chunk_by(|a, b| a.0 & mask == b.0 & mask) {
            let id = match run {
                [(_, action)] => *single[*action as usize].get_or_insert_with(|| {
                    let (category, action) = &self.actions[*action as usize];
                    let mut verdict = Verdict::default();
                    verdict.add(*category, action);
                    intern(verdict)
                }),
                _ => {
                    let mut verdict = Verdict::default();
                    for (_, action) in run {
                        let (category, action) = &self.actions[*action as usize];
                        verdict.add(*category, action);
                    }
                    intern(verdict)
                }
            };
            each(run[0].0 & mask, id);
        }
        verdicts
    }
}

/// Bits that number `verdicts` verdicts from 1 (0 marks an empty slot).
fn id_width(verdicts: usize) -> u32 {
    u64::BITS - (verdicts as u64).leading_zeros()
}

/// The bits of a hash a slot keeps beside `id_bits` bits of verdict.
fn key_mask(id_bits: u32) -> u64 {
    u64::MAX.checked_shl(id_bits).unwrap_or(0)
}

fn name_hash(seed: u64, name: &str) -> u64 {
    name.as_bytes()
        .rsplit(|&b| b == b'.')
        .fold(seed, |h, label| extend(seed, h, label))
}

#[inline]
fn home(key: u64, capacity: usize) -> usize {
    ((u128::from(key) * capacity as u128) >> 64) as usize
}

/// An immutable name -> [`Verdict`] index.
pub struct Index {
    seed: u64,
    /// The bits of a slot that hold a name's hash; the rest number its
    /// verdict.
    mask: u64,
    /// Open addressing with linear probing, half full: one load finds a
    /// name's hash and its verdict together.
    slots: Box<[u64]>,
    verdicts: Box<[Verdict]>,
    len: usize,
}

impl Default for Index {
    fn default() -> Self {
        IndexBuilder::new().build()
    }
}

impl Index {
    /// Distinct names in the index.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes the index occupies.
    pub fn memory_bytes(&self) -> usize {
        self.slots.len() * 8 + self.verdicts.len() * std::mem::size_of::<Verdict>()
    }

    /// Every listed suffix of `labels` (given left to right, lowercase),
    /// most specific first.
    ///
    /// All suffix hashes are computed first and the first slot of each is
    /// loaded in one independent batch, so the processor waits for the
    /// table's cache misses together rather than one after another.
    pub fn matches_labels<'a, 'l>(
        &'a self,
        labels: impl DoubleEndedIterator<Item = &'l [u8]>,
    ) -> Matches<'a> {
        let mut found = Matches::new(&self.verdicts);
        if self.len == 0 {
            return found;
        }
        // Names deeper than FAST_LABELS are rare; their extra labels are
        // looked up one at a time.
        let mut hashes = [0u64; FAST_LABELS];
        let mut slots = [0usize; FAST_LABELS];
        let mut first = [0u64; FAST_LABELS];
        let mut deeper: Vec<u64> = Vec::new();
        let mut count = 0;
        let mut h = self.seed;
        let capacity = self.slots.len();
        for label in labels.rev() {
            h = extend(self.seed, h, label);
            if count < FAST_LABELS {
                hashes[count] = h & self.mask;
                count += 1;
            } else {
                deeper.push(h & self.mask);
            }
        }
        for i in 0..count {
            slots[i] = home(hashes[i], capacity);
        }
        for i in 0..count {
            first[i] = self.slots[slots[i]];
        }
        for (i, key) in deeper.iter().enumerate().rev() {
            if let Some(id) = self.probe(*key, home(*key, capacity), 0) {
                found.push(FAST_LABELS + i + 1, id);
            }
        }
        for i in (0..count).rev() {
            if let Some(id) = self.probe(hashes[i], slots[i], first[i]) {
                found.push(i + 1, id);
            }
        }
        found
    }

    /// The verdict number in `slot` if it holds `key` (a masked hash).
    #[inline]
    fn holds(&self, slot: u64, key: u64) -> Option<u32> {
        (slot & self.mask == key).then(|| ((slot & !self.mask) - 1) as u32)
    }

    /// Finds `key` starting at its home slot, whose content `first` may
    /// already have been loaded (0 means: load it).
    #[inline]
    fn probe(&self, key: u64, home: usize, first: u64) -> Option<u32> {
        let first = if first == 0 { self.slots[home] } else { first };
        if first == 0 {
            return None;
        }
        if let Some(id) = self.holds(first, key) {
            return Some(id);
        }
        self.probe_from(key, home)
    }

    /// Linear probing past a home slot that holds another key.
    fn probe_from(&self, key: u64, home: usize) -> Option<u32> {
        let capacity = self.slots.len();
        let mut slot = home;
        loop {
            slot = if slot + 1 == capacity { 0 } else { slot + 1 };
            let found = self.slots[slot];
            if found == 0 {
                return None;
            }
            if let Some(id) = self.holds(found, key) {
                return Some(id);
            }
        }
    }

    /// The same for a DNS name as received.
    pub fn matches(&self, name: &LowerName) -> Matches<'_> {
        self.matches_labels(name.iter())
    }

    /// The same for a normalised name in text (`www.example.com`).
    pub fn matches_str(&self, name: &str) -> Matches<'_> {
        self.matches_labels(name.as_bytes().split(|&b| b == b'.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::rr::Name;

    const ADS: CategoryId = CategoryId(1);
    const GAMBLING: CategoryId = CategoryId(2);

    fn index(entries: &[(&str, CategoryId, Action)]) -> Index {
        let mut builder = IndexBuilder::new();
        for (name, category, action) in entries {
            builder.add(name, *category, action);
        }
        builder.build()
    }

    #[test]
    fn an_entry_covers_every_name_below_it() {
        let index = index(&[("example.com", ADS, Action::Block)]);
        for hit in ["example.com", "www.example.com", "a.b.c.example.com"] {
            let found = index.matches_str(hit);
            assert_eq!(found.len(), 1, "{hit}");
            assert_eq!(found.first().unwrap().depth, 2);
            assert!(found[0].block.contains(ADS));
        }
        for miss in [
            "com",
            "example.org",
            "notexample.com",
            "example.com.au",
            "xexample.com",
        ] {
            assert!(index.matches_str(miss).is_empty(), "{miss}");
        }
    }

    #[test]
    fn matches_come_most_specific_first_and_merge_categories() {
        let index = index(&[
            ("example.com", ADS, Action::Block),
            ("bet.example.com", GAMBLING, Action::Block),
            ("bet.example.com", ADS, Action::Allow),
        ]);
        let found = index.matches_str("www.bet.example.com");
        assert_eq!(found.len(), 2);
        assert_eq!(found.get(0).unwrap().depth, 3);
        assert!(found[0].block.contains(GAMBLING));
        assert!(found[0].allow.contains(ADS));
        assert_eq!(found.get(1).unwrap().depth, 2);
    }

    #[test]
    fn dns_names_and_text_agree() {
        let index = index(&[("ads.example", ADS, Action::Block)]);
        let name = LowerName::from(Name::from_ascii("WWW.Ads.Example.").unwrap());
        assert_eq!(index.matches(&name).len(), 1);
        let name = LowerName::from(Name::from_ascii("ads.example.org.").unwrap());
        assert!(index.matches(&name).is_empty());
    }

    #[test]
    fn rpz_local_data_accumulates() {
        let a = Action::Rpz(RpzAction::LocalData(vec!["192.0.2.1".parse().unwrap()]));
        let aaaa = Action::Rpz(RpzAction::LocalData(vec!["2001:db8::1".parse().unwrap()]));
        let index = index(&[("r.example", ADS, a), ("r.example", ADS, aaaa)]);
        let found = index.matches_str("r.example");
        match &found[0].rpz {
            Some((ADS, RpzAction::LocalData(ips))) => assert_eq!(ips.len(), 2),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_name_keeps_its_own_verdict_among_thousands() {
        // Every name answers with its own address: 3,000 verdicts take
        // 12 bits of each slot.
        let mut builder = IndexBuilder::new();
        for i in 0..3_000u32 {
            let ip = std::net::Ipv4Addr::from(0xc000_0200 + i).into();
            let action = Action::Rpz(RpzAction::LocalData(vec![ip]));
            builder.add(&format!("r{i}.example"), ADS, &action);
        }
        let index = builder.build();
        assert_eq!(index.mask.trailing_zeros(), 12);
        for i in 0..3_000u32 {
            let ip: std::net::IpAddr = std::net::Ipv4Addr::from(0xc000_0200 + i).into();
            let found = index.matches_str(&format!("www.r{i}.example"));
            match &found[0].rpz {
                Some((ADS, RpzAction::LocalData(ips))) => assert_eq!(ips, &[ip], "r{i}"),
                other => panic!("r{i}: {other:?}"),
            }
        }
        assert!(index.matches_str("r3000.example").is_empty());
    }

    #[test]
    fn hashes_that_differ_only_in_the_verdict_bits_are_one_name() {
        // Three verdicts need 2 bits; 0x100 and 0x101 then look the same,
        // and their merged verdict makes four, which need 3 bits.
        let mut builder = IndexBuilder::new();
        builder.actions = (1..=3).map(|c| (CategoryId(c), Action::Block)).collect();
        builder.entries = vec![(0x100, 0), (0x101, 1), (0x200, 0), (0x300, 1), (0x400, 2)];
        let index = builder.build();
        assert_eq!(index.mask.trailing_zeros(), 3);
        assert_eq!((index.len(), index.verdicts.len()), (4, 4));
        let verdict = |key: u64| {
            let key = key & index.mask;
            let id = index.probe(key, home(key, index.slots.len()), 0).unwrap();
            &index.verdicts[id as usize]
        };
        assert_eq!(verdict(0x100), verdict(0x101));
        assert!(verdict(0x100).block.contains(CategoryId(1)));
        assert!(verdict(0x100).block.contains(CategoryId(2)));
        assert!(!verdict(0x200).block.contains(CategoryId(2)));
        assert!(verdict(0x400).block.contains(CategoryId(3)));
    }

    #[test]
    fn a_large_index_finds_every_name() {
        let mut builder = IndexBuilder::new();
        for i in 0..50_000 {
            builder.add(
                &format!("host{i}.example{}.com", i % 97),
                ADS,
                &Action::Block,
            );
        }
        let index = builder.build();
        assert_eq!(index.len(), 50_000);
        for i in (0..50_000).step_by(7) {
            assert_eq!(
                index
                    .matches_str(&format!("www.host{i}.example{}.com", i % 97))
                    .len(),
                1
            );
            assert!(
                index
                    .matches_str(&format!("host{i}.example{}.net", i % 97))
                    .is_empty()
            );
        }
        assert!(
            index.memory_bytes() / index.len() <= 17,
            "{}",
            index.memory_bytes()
        );
        assert!(Index::default().matches_str("anything.example").is_empty());
    }
}
