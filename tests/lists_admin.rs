//! `hedge lists update` against an HTTPS server the test runs (conditional
//! requests, failures that keep the old copy, the size limit), the admin
//! socket (`hedge status`, `hedge reload`), `hedge explain` and
//! `hedge lists stats`, all through the real binary.

mod common;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use common::*;
use hickory_proto::rr::RecordType;
use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[derive(Clone)]
struct Route {
    status: u16,
    etag: &'static str,
    body: Vec<u8>,
}

/// A tiny HTTPS server: fixed routes, honours If-None-Match, counts hits.
struct ListServer {
    addr: SocketAddr,
    routes: Arc<Mutex<HashMap<String, Route>>>,
    conditional_hits: Arc<Mutex<usize>>,
    ca_pem: String,
}

async fn list_server() -> ListServer {
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&key, &issuer)
        .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(
        vec![CertificateDer::from(cert.der().to_vec())],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der())),
    )
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let routes: Arc<Mutex<HashMap<String, Route>>> = Arc::default();
    let conditional_hits: Arc<Mutex<usize>> = Arc::default();
    let (r, c) = (routes.clone(), conditional_hits.clone());
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let (acceptor, routes, hits) = (acceptor.clone(), r.clone(), c.clone());
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") {
                    if tls.read_exact(&mut byte).await.is_err() {
                        return;
                    }
                    head.push(byte[0]);
                }
                let head = String::from_utf8_lossy(&head).to_string();
                let path = head.split_whitespace().nth(1).unwrap_or("/").to_string();
                let if_none_match = head
                    .lines()
                    .find(|l| l.to_ascii_lowercase().starts_with("if-none-match:"))
                    .map(|l| l.split_once(':').unwrap().1.trim().to_string());
                let route = routes.lock().unwrap().get(&path).cloned();
                let response = match route {
                    Some(route)
                        if if_none_match.as_deref() == Some(route.etag) && route.status == 200 =>
                    {
                        *hits.lock().unwrap() += 1;
                        b"HTTP/1.1 304 Not Modified\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
                    }
                    Some(route) => {
                        let mut out = format!(
                            "HTTP/1.1 {} X\r\nETag: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            route.status,
                            route.etag,
                            route.body.len()
                        )
                        .into_bytes();
                        out.extend_from_slice(&route.body);
                        out
                    }
                    None => {
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                            .to_vec()
                    }
                };
                let _ = tls.write_all(&response).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    ListServer {
        addr,
        routes,
        conditional_hits,
        ca_pem: ca_cert.pem(),
    }
}

impl ListServer {
    fn route(&self, path: &str, status: u16, etag: &'static str, body: impl Into<Vec<u8>>) {
        self.routes.lock().unwrap().insert(
            path.to_string(),
            Route {
                status,
                etag,
                body: body.into(),
            },
        );
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.addr)
    }
}

fn hedge_cmd(hedge: &Hedge, args: &[&str]) -> (i32, String, String) {
    let out = run_hedge(args, &hedge.config_path);
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn lists_update_downloads_keeps_good_copies_and_reloads_the_server() {
    let upstream = TestUpstream::start().await;
    let lists = list_server().await;
    lists.route(
        "/gambling.txt",
        200,
        "\"v1\"",
        "# gambling\nbet.upstream.example\n",
    );
    lists.route("/broken.txt", 500, "\"x\"", "oops");
    lists.route(
        "/page.txt",
        200,
        "\"p\"",
        "<html><body>Moved</body></html>\n",
    );
    lists.route("/huge.txt", 200, "\"h\"", "big.example\n".repeat(100_000));
    let config = format!(
        r#"[server]
listen = ["LISTEN"]
rate_limit_qps = 0

[upstream]
servers = ["{}"]
timeout_ms = 1000
attempts = 1

[lists]
cache_dir = "cache"
max_download_mb = 1
tls_ca_file = "ca.pem"

[categories.gambling]
sources = ["{}", "{}", "{}", "{}"]

[[groups]]
name = "pupils"
networks = ["127.0.0.2/32"]
block = ["gambling"]
"#,
        upstream.addr,
        lists.url("/gambling.txt"),
        lists.url("/broken.txt"),
        lists.url("/page.txt"),
        lists.url("/huge.txt"),
    );
    let hedge = Hedge::start_with(&config, &[("ca.pem", &lists.ca_pem)]).await;
    assert!(
        hedge.log().contains("not downloaded yet"),
        "{}",
        hedge.log()
    );

    // Nothing downloaded yet: served all the same, nothing blocked.
    let ask = |hedge: &Hedge| {
        let addr = hedge.addr;
        async move {
            udp_exchange_from(
                local(2),
                addr,
                &query("bet.upstream.example.", RecordType::A),
                PATIENCE,
            )
            .await
            .unwrap()
        }
    };
    assert_eq!(addresses(&ask(&hedge).await), ["192.0.2.66"]);

    let (code, out, err) = hedge_cmd(&hedge, &["lists", "update"]);
    assert_eq!(code, 1, "some downloads failed: {out}{err}");
    assert!(
        out.contains(&format!(
            "updated    {} (1 entries",
            lists.url("/gambling.txt")
        )),
        "{out}"
    );
    assert!(out.contains("HTTP 500"), "{out}");
    assert!(out.contains("no usable entry"), "{out}");
    assert!(out.contains("larger than the limit"), "{out}");
    assert!(out.contains("server reloaded"), "{out}");
    assert!(err.contains("3 of 4 downloads failed"), "{err}");
    assert_eq!(
        addresses(&ask(&hedge).await),
        ["0.0.0.0"],
        "the downloaded list is in force"
    );

    // Unchanged on the server: a conditional request, nothing rewritten.
    let (_, out, _) = hedge_cmd(&hedge, &["lists", "update"]);
    assert!(
        out.contains(&format!("unchanged  {}", lists.url("/gambling.txt"))),
        "{out}"
    );
    assert_eq!(*lists.conditional_hits.lock().unwrap(), 1);

    // The list turns into a web page: the good copy is kept.
    lists.route("/gambling.txt", 200, "\"v2\"", "<html>we moved</html>\n");
    let (_, out, _) = hedge_cmd(&hedge, &["lists", "update"]);
    assert!(
        out.contains("FAILED") && out.contains("previous copy is kept"),
        "{out}"
    );
    assert_eq!(
        addresses(&ask(&hedge).await),
        ["0.0.0.0"],
        "the old copy is still used"
    );

    // The other commands see the same lists.
    let (code, out, _) = hedge_cmd(&hedge, &["lists", "stats"]);
    assert_eq!(code, 0);
    let gambling = out.lines().find(|l| l.starts_with("gambling")).unwrap();
    assert!(
        gambling.split_whitespace().nth(2) == Some("1"),
        "{gambling}"
    );
    assert!(out.contains("URL source(s) not downloaded yet"), "{out}");

    let (code, out, _) = hedge_cmd(
        &hedge,
        &[
            "explain",
            "www.bet.upstream.example",
            "--client",
            "127.0.0.2",
        ],
    );
    assert_eq!(code, 0);
    assert!(out.contains("group pupils"), "{out}");
    assert!(
        out.contains("BLOCKED by category gambling: entry bet.upstream.example"),
        "{out}"
    );
    assert!(
        out.contains("cache/gambling--"),
        "the cached file and line are named: {out}"
    );
    let (_, out, _) = hedge_cmd(
        &hedge,
        &[
            "explain",
            "www.bet.upstream.example",
            "--client",
            "127.0.0.9",
        ],
    );
    assert!(
        out.contains("group default") && out.contains("ALLOWED"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn status_and_reload_over_the_admin_socket() {
    let upstream = TestUpstream::start().await;
    let config = config_text(
        &[],
        upstream.addr,
        "",
        "[categories.gambling]\nsources = [\"g.txt\"]\n",
    )
    .replace("listen = []", "listen = [\"LISTEN\"]");
    let hedge = Hedge::start_with(&config, &[("g.txt", "bet.upstream.example\n")]).await;
    udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;

    let (code, out, err) = hedge_cmd(&hedge, &["status"]);
    assert_eq!(code, 0, "{err}");
    // One configured file and the built-in circumvention list.
    assert!(out.contains("from 2 file(s)"), "{out}");
    assert!(out.contains("queries:"), "{out}");
    let (code, out, _) = hedge_cmd(&hedge, &["status", "--json"]);
    assert_eq!(code, 0);
    let status: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(status["stats"]["queries"].as_u64().unwrap() >= 1);
    let names_before = status["index_names"].as_u64().unwrap();

    std::fs::write(hedge.path("g.txt"), "bet.upstream.example\nmore.example\n").unwrap();
    let (code, out, err) = hedge_cmd(&hedge, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&format!("{} names", names_before + 1)),
        "{out}"
    );

    // A reload that fails says why, and the server keeps going.
    std::fs::write(hedge.path("g.txt"), "not a list at all\n").unwrap();
    let (code, _, err) = hedge_cmd(&hedge, &["reload"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("not one usable entry") && err.contains("running configuration is kept"),
        "{err}"
    );
    udp(hedge.addr, &query("www.upstream.example.", RecordType::A)).await;

    // A request the server does not know is answered with an error.
    use std::io::{BufRead, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(hedge.path("admin.sock")).unwrap();
    stream
        .write_all(b"{\"command\":\"format-disk\"}\n")
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(&stream)
        .read_line(&mut line)
        .unwrap();
    assert!(
        line.contains("\"ok\":false") && line.contains("bad request"),
        "{line}"
    );

    // The socket file goes when the server does.
    let socket = hedge.path("admin.sock");
    assert!(socket.exists());
    assert!(hedge.terminate().success());
    assert!(!socket.exists(), "the admin socket is removed on shutdown");

    // With no server, the CLI says so.
    let dir = tempfile::TempDir::new().unwrap();
    let config = dir.path().join("hedge.toml");
    std::fs::write(
        &config,
        "[upstream]\nservers = [\"192.0.2.1\"]\n[admin]\nsocket = \"nobody.sock\"\n",
    )
    .unwrap();
    let out = run_hedge(&["status"], &config);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("hedge is not running"));
}
