//! Raw bytes as a UDP query from an allowed client: the fast path, then the
//! general path. Neither may panic; an answer must parse as DNS and carry
//! the query's ID.
#![no_main]

use std::net::SocketAddr;
use std::sync::OnceLock;

use hedge::config::Config;
use hedge::dns::{Handler, Transport};
use hedge::store::QueryLog;
use libfuzzer_sys::fuzz_target;

struct Setup {
    handler: Handler,
    runtime: tokio::runtime::Runtime,
}

fn setup() -> &'static Setup {
    static SETUP: OnceLock<Setup> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("hedge-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("gambling.txt"), "bet.example\n").unwrap();
        // Port 9 on loopback refuses at once: queries that reach the
        // upstream fail fast.
        let text = "[server]\nlisten = [\"127.0.0.1:0\"]\nrate_limit_qps = 0\n\
                    [upstream]\nservers = [\"127.0.0.1:9\"]\ntimeout_ms = 50\nattempts = 1\n\
                    [categories.gambling]\nsources = [\"gambling.txt\"]\n\
                    [[groups]]\nname = \"pupils\"\nnetworks = [\"127.0.0.0/8\"]\nblock = [\"gambling\"]\nsafe_search = true\n";
        let config = Config::from_str(text, &dir.join("hedge.toml")).unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let handler = runtime.block_on(async { Handler::new(&config, QueryLog::disabled()).unwrap() });
        Setup { handler, runtime }
    })
}

fuzz_target!(|data: &[u8]| {
    let setup = setup();
    let src: SocketAddr = "127.0.0.1:5300".parse().unwrap();
    let mut out = Vec::new();
    if setup.handler.answer_fast(data, src, &mut out) {
        check(data, &out);
    }
    for transport in [Transport::Udp, Transport::Tcp] {
        if let Some(answer) = setup
            .runtime
            .block_on(setup.handler.handle(data, src, transport))
        {
            check(data, &answer);
        }
    }
});

fn check(query: &[u8], answer: &[u8]) {
    assert!(answer.len() >= 12, "an answer shorter than a header");
    assert_eq!(answer[..2], query[..2], "the answer carries another ID");
    assert!(answer[2] & 0x80 != 0, "the answer is not a response");
}
