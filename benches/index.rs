//! The filter index at a million names: lookups (a mix of hits and misses,
//! names 2 to 6 labels deep) and the build, plus the memory it takes.
//!
//!   cargo bench --bench index
//!
//! The name set is every list in ../shared/data/lists (about 450,000
//! distinct names) topped up to 1,000,000 with generated names
//! (`n<i>.<word>-<i % 5000>.<tld>`); with the data absent it is all
//! generated. Query names are listed names with 0 to 3 extra labels in front
//! (hits) and the OpenDNS top and random domains with 0 to 3 extra labels
//! (misses, mostly), half and half.

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hedge::config::CategoryId;
use hedge::filter::parse::{detect, parse, read_list};
use hedge::filter::{Action, IndexBuilder};
use hickory_proto::rr::{LowerName, Name};

const TARGET: usize = 1_000_000;

fn data_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data")
}

/// The names to index, as (name, category).
fn name_set() -> Vec<(String, CategoryId)> {
    let mut names = Vec::with_capacity(TARGET);
    let mut seen = std::collections::HashSet::new();
    if let Ok(dir) = std::fs::read_dir(data_dir().join("lists")) {
        let mut files: Vec<_> = dir.filter_map(|e| e.ok()).map(|e| e.path()).collect();
        files.sort();
        for (i, file) in files.iter().enumerate() {
            let text = read_list(file).expect("readable list");
            parse(&text, detect(&text), |entry| {
                if seen.insert(entry.name.clone()) {
                    names.push((entry.name, CategoryId((i % 16) as u8)));
                }
            });
        }
    }
    let real = names.len();
    let tlds = ["com", "net", "org", "co.uk", "io", "xyz", "info", "de"];
    let words = [
        "ads", "track", "cdn", "bet", "media", "stats", "play", "shop",
    ];
    let mut i = 0;
    while names.len() < TARGET {
        let name = format!(
            "n{i}.{}-{}.{}",
            words[i % words.len()],
            i % 5000,
            tlds[i % tlds.len()]
        );
        names.push((name, CategoryId((i % 16) as u8)));
        i += 1;
    }
    eprintln!(
        "name set: {real} distinct names from the real lists, {} generated, {} in all",
        names.len() - real,
        names.len()
    );
    names
}

fn query_set(names: &[(String, CategoryId)]) -> Vec<String> {
    let mut misses: Vec<String> = ["opendns-top-domains.txt", "opendns-random-domains.txt"]
        .iter()
        .filter_map(|f| std::fs::read_to_string(data_dir().join("queries").join(f)).ok())
        .flat_map(|t| {
            t.lines()
                .map(|l| l.trim().to_ascii_lowercase())
                .collect::<Vec<_>>()
        })
        .filter(|l| !l.is_empty())
        .collect();
    if misses.is_empty() {
        misses = (0..10_000)
            .map(|i| format!("site{i}.example{}.com", i % 37))
            .collect();
    }
    let prefixes = ["", "www.", "a.b.", "x.y.z."];
    let mut queries = Vec::with_capacity(20_000);
    let mut rng: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    for i in 0..20_000 {
        let prefix = prefixes[(next() % 4) as usize];
        let base = if i % 2 == 0 {
            &names[(next() % names.len() as u64) as usize].0
        } else {
            &misses[(next() % misses.len() as u64) as usize]
        };
        let name = format!("{prefix}{base}");
        let labels = name.split('.').count();
        if (2..=6).contains(&labels) {
            queries.push(name);
        } else {
            queries.push(base.clone());
        }
    }
    queries
}

fn resident_bytes() -> usize {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<usize>().ok())
        })
        .map_or(0, |pages| pages * 4096)
}

fn bench(c: &mut Criterion) {
    let names = name_set();
    let queries = query_set(&names);

    let before = resident_bytes();
    let index = {
        let mut builder = IndexBuilder::new();
        for (name, category) in &names {
            builder.add(name, *category, &Action::Block);
        }
        builder.build()
    };
    let after = resident_bytes();
    eprintln!(
        "index: {} names, {} bytes in its tables ({:.1} per name); resident memory grew {} bytes ({:.1} per name)",
        index.len(),
        index.memory_bytes(),
        index.memory_bytes() as f64 / index.len() as f64,
        after.saturating_sub(before),
        after.saturating_sub(before) as f64 / index.len() as f64
    );
    // As the server has them: parsed from the wire, lowercased.
    let queries: Vec<LowerName> = queries
        .iter()
        .map(|q| LowerName::from(Name::from_ascii(format!("{q}.")).expect("valid name")))
        .collect();
    let hits = queries
        .iter()
        .filter(|q| !index.matches(q).is_empty())
        .count();
    eprintln!("queries: {} ({hits} hit a listed name)", queries.len());

    let mut group = c.benchmark_group("index");
    group.throughput(Throughput::Elements(queries.len() as u64));
    group.bench_function("lookup 20k mixed names", |b| {
        b.iter(|| {
            let mut found = 0usize;
            for query in &queries {
                found += index.matches(black_box(query)).len();
            }
            found
        })
    });
    group.sample_size(10);
    group.throughput(Throughput::Elements(names.len() as u64));
    group.bench_function("build 1M names", |b| {
        b.iter(|| {
            let mut builder = IndexBuilder::new();
            for (name, category) in &names {
                builder.add(name, *category, &Action::Block);
            }
            builder.build()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
