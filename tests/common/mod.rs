//! What the integration tests share: a small authoritative upstream served in
//! the test process, the real `hedge` binary started on a temporary config,
//! and a DNS client that can send from any loopback address; and, in
//! [`signed_zones`], DNSSEC-signed zones served by a real authoritative
//! server; in [`browser`], headless Chromium driven through
//! chromedriver; in [`console`], the web console's pages as a browser
//! without script sees them; and, in [`postgres`], a throwaway PostgreSQL
//! cluster on loopback for the central store.

#![allow(dead_code)]

pub mod browser;
pub mod console;
pub mod postgres;
pub mod signed_zones;

use std::net::{IpAddr, SocketAddr, TcpListener as StdTcpListener, UdpSocket as StdUdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, Query};
use hickory_proto::rr::{LowerName, Name, RecordType};
use hickory_server::Server;
use hickory_server::store::file::{FileConfig, FileZoneHandler};
use hickory_server::zone_handler::{AxfrPolicy, Catalog, ZoneType};
use tempfile::TempDir;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

/// How long a test waits for something it expects to happen: generous,
/// since a loaded 2-core machine can be slow. A passing test never waits
/// this long; the deadline only turns a hang into a failure that says what
/// was awaited.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// Polls `check` every 50 ms until it gives `Some`, for at most
/// [`PATIENCE`]; panics saying `what` otherwise.
pub async fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(found) = check() {
            return found;
        }
        if Instant::now() > deadline {
            panic!("waited {PATIENCE:?} in vain for {what}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// For polling loops: yields until [`PATIENCE`] has passed (`for () in
/// patiently() { if done { break } sleep }`), however long each try takes.
pub fn patiently() -> impl Iterator<Item = ()> {
    patiently_for(PATIENCE)
}

/// Like [`patiently`], for `patience`.
pub fn patiently_for(patience: Duration) -> impl Iterator<Item = ()> {
    let deadline = Instant::now() + patience;
    std::iter::from_fn(move || (Instant::now() < deadline).then_some(()))
}

/// The zone the test upstream serves.
pub const UPSTREAM_ZONE: &str = "upstream.example.";

/// The test zone: ordinary names, a CNAME, a short-lived name for
/// serve-stale, and a name whose answer does not fit 512 bytes.
pub fn upstream_zone_text() -> String {
    let mut text = String::from(
        "$ORIGIN upstream.example.\n$TTL 300\n\
         @ IN SOA ns.upstream.example. admin.upstream.example. 1 3600 600 86400 60\n\
         @ IN NS ns.upstream.example.\n\
         ns IN A 192.0.2.1\n\
         www IN A 192.0.2.10\n\
         www IN AAAA 2001:db8::10\n\
         short 1 IN A 192.0.2.11\n\
         alias IN CNAME www.upstream.example.\n\
         mail IN MX 10 www.upstream.example.\n\
         bet IN A 192.0.2.66\n\
         www.bet IN A 192.0.2.66\n\
         tobet IN CNAME www.bet.upstream.example.\n\
         abuse IN A 192.0.2.99\n\
         chat IN A 192.0.2.77\n",
    );
    for i in 0..40 {
        text.push_str(&format!("big IN A 198.51.100.{i}\n"));
    }
    text
}

/// An authoritative server for [`UPSTREAM_ZONE`] on a loopback port, in this
/// process. Stops when dropped or when `stop` is called.
pub struct TestUpstream {
    pub addr: SocketAddr,
    server: Option<Server<Catalog>>,
    _dir: TempDir,
}

impl TestUpstream {
    pub async fn start() -> TestUpstream {
        Self::start_on(
            "127.0.0.1:0".parse().unwrap(),
            UPSTREAM_ZONE,
            &upstream_zone_text(),
        )
        .await
    }

    /// Serves `zone_text` as zone `origin` on `addr` (port 0: any free port).
    pub async fn start_on(addr: SocketAddr, origin: &str, zone_text: &str) -> TestUpstream {
        Self::start_zones(addr, &[(origin, zone_text)]).await
    }

    /// Serves several zones, each `(origin, text)`.
    pub async fn start_zones(addr: SocketAddr, zones: &[(&str, &str)]) -> TestUpstream {
        let dir = TempDir::new().unwrap();
        let mut catalog = Catalog::new();
        for (i, (origin, zone_text)) in zones.iter().enumerate() {
            let path = dir.path().join(format!("zone{i}"));
            std::fs::write(&path, zone_text).unwrap();
            let origin = Name::from_str(origin).unwrap();
            let handler = FileZoneHandler::try_from_config(
                origin.clone(),
                ZoneType::Primary,
                AxfrPolicy::Deny,
                None,
                &FileConfig { zone_path: path },
            )
            .unwrap();
            catalog.upsert(LowerName::from(&origin), vec![Arc::new(handler)]);
        }
        let (udp, tcp, addr) = bind_pair(addr).await;
        let mut server = Server::new(catalog);
        server.register_socket(udp);
        server.register_listener(tcp, Duration::from_secs(5), 65535);
        TestUpstream {
            addr,
            server: Some(server),
            _dir: dir,
        }
    }

    pub async fn stop(&mut self) {
        if let Some(mut server) = self.server.take() {
            let _ = server.shutdown_gracefully().await;
        }
    }
}

/// A UDP socket and a TCP listener on the same port, kept bound (no window
/// in which another test could take the port).
pub async fn bind_pair(addr: SocketAddr) -> (UdpSocket, tokio::net::TcpListener, SocketAddr) {
    for _ in 0..50 {
        let udp = UdpSocket::bind(addr).await.unwrap();
        let bound = udp.local_addr().unwrap();
        if let Ok(tcp) = tokio::net::TcpListener::bind(bound).await {
            return (udp, tcp, bound);
        }
        if addr.port() != 0 {
            break;
        }
    }
    panic!("cannot bind UDP and TCP together on {addr}");
}

/// An address on `addr`'s IP whose port is free for both UDP and TCP (or
/// `addr` itself when it names a port), for a server started later.
///
/// Ports come from below Linux's ephemeral range (32768 and up), so no
/// socket bound to port 0 elsewhere in the tests can be handed the same port
/// between this check and the server's bind.
pub fn free_addr(addr: SocketAddr) -> SocketAddr {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    if addr.port() != 0 {
        return addr;
    }
    let base = std::process::id().wrapping_mul(7919);
    for _ in 0..500 {
        let n = base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed));
        let port = 20_000 + (n % 12_000) as u16;
        let candidate = SocketAddr::new(addr.ip(), port);
        if StdTcpListener::bind(candidate).is_ok() && StdUdpSocket::bind(candidate).is_ok() {
            return candidate;
        }
    }
    panic!("no free port on {addr}");
}

/// The real `hedge` binary, serving a config in a temporary directory.
pub struct Hedge {
    pub addr: SocketAddr,
    pub dir: TempDir,
    pub config_path: PathBuf,
    child: Option<Child>,
}

pub fn hedge_bin() -> &'static str {
    env!("CARGO_BIN_EXE_hedge")
}

/// The smallest config that forwards to `upstream`, listening on `listen`.
/// `extra_server` and `extra` are spliced into `[server]` and after it.
pub fn config_text(
    listen: &[SocketAddr],
    upstream: SocketAddr,
    extra_server: &str,
    extra: &str,
) -> String {
    let listen: Vec<String> = listen.iter().map(|a| format!("\"{a}\"")).collect();
    format!(
        "[server]\nlisten = [{}]\n{extra_server}\n\n[upstream]\nservers = [\"{upstream}\"]\ntimeout_ms = 400\nattempts = 1\n{extra}\n",
        listen.join(", ")
    )
}

impl Hedge {
    /// Starts hedge with `config` (where `LISTEN` is replaced by the chosen
    /// address) and waits until it answers.
    pub async fn start(config: &str) -> Hedge {
        Self::start_with(config, &[]).await
    }

    pub async fn start_with(config: &str, files: &[(&str, &str)]) -> Hedge {
        Self::start_as(config, files, None).await
    }

    /// Like `start_with`, as the user `uid` (the test must be root), in a
    /// directory that user may write.
    pub async fn start_as(config: &str, files: &[(&str, &str)], uid: Option<u32>) -> Hedge {
        let dir = TempDir::new().unwrap();
        if uid.is_some() {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        }
        for (name, text) in files {
            std::fs::write(dir.path().join(name), text).unwrap();
        }
        let addr = free_addr("127.0.0.1:0".parse().unwrap());
        let config_path = dir.path().join("hedge.toml");
        let mut config = config.replace("LISTEN", &addr.to_string());
        if !config.contains("[admin]") {
            // Each test server has its own admin socket.
            config.push_str("\n[admin]\nsocket = \"admin.sock\"\n");
        }
        if !config.contains("[logging]") {
            // And its own query log.
            config.push_str("\n[logging]\ndatabase = \"hedge.db\"\n");
        }
        std::fs::write(&config_path, config).unwrap();
        let mut command = match uid {
            Some(uid) => {
                // A copy the other user can surely run, whatever the
                // permissions of the build directory.
                use std::os::unix::process::CommandExt;
                let copy = dir.path().join("hedge-bin");
                std::fs::copy(hedge_bin(), &copy).unwrap();
                let mut command = Command::new(copy);
                command.uid(uid).gid(uid);
                command
            }
            None => Command::new(hedge_bin()),
        };
        command
            .args(["serve", "-c"])
            .arg(&config_path)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null());
        let child = spawn_copy(&mut command, || {
            Stdio::from(std::fs::File::create(dir.path().join("hedge.log")).unwrap())
        })
        .expect("start hedge");
        let mut hedge = Hedge {
            addr,
            dir,
            config_path,
            child: Some(child),
        };
        hedge.wait_ready().await;
        hedge
    }

    /// Polls with a query that needs no upstream until hedge answers.
    async fn wait_ready(&mut self) {
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(child) = self.child.as_mut()
                && let Ok(Some(status)) = child.try_wait()
            {
                panic!("hedge exited early with {status}");
            }
            let probe = query("probe.invalid.", RecordType::ANY);
            if udp_exchange_from(local(1), self.addr, &probe, Duration::from_millis(200))
                .await
                .is_some()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!(
            "hedge did not start answering on {}; log:\n{}",
            self.addr,
            self.log()
        );
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .args([&format!("-{name}"), &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Sends SIGTERM and returns how the process ended.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        self.signal("TERM");
        let mut child = self.child.take().unwrap();
        let deadline = Instant::now() + PATIENCE;
        while Instant::now() < deadline {
            if let Some(status) = child.try_wait().unwrap() {
                return status;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("hedge did not stop after SIGTERM");
    }

    /// Like `terminate`, handing over the directory so that what hedge
    /// left behind (its database) can be read.
    pub fn terminate_keeping_files(mut self) -> (std::process::ExitStatus, TempDir) {
        let dir = std::mem::replace(&mut self.dir, TempDir::new().unwrap());
        (self.terminate(), dir)
    }

    /// `hedge <args> -c CONFIG`, which must succeed: its stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let output = run_hedge(args, &self.config_path);
        assert!(
            output.status.success(),
            "hedge {args:?} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// `hedge <args> -c CONFIG`, which must be refused (exit 1): its stderr.
    pub fn refused(&self, args: &[&str]) -> String {
        let output = run_hedge(args, &self.config_path);
        assert_eq!(
            output.status.code(),
            Some(1),
            "hedge {args:?} should be refused: {}",
            String::from_utf8_lossy(&output.stdout)
        );
        String::from_utf8(output.stderr).unwrap()
    }

    /// What hedge has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.path("hedge.log")).unwrap_or_default()
    }

    /// Waits (for at most [`PATIENCE`]) until the log contains `needle`.
    pub async fn wait_for_log(&self, needle: &str) {
        self.wait_for_log_after(0, needle).await;
    }

    /// Where the log ends now: a mark for [`Hedge::wait_for_log_after`].
    pub fn log_mark(&self) -> usize {
        self.log().len()
    }

    /// Waits (for at most [`PATIENCE`]) until `needle` is logged after
    /// `mark`, so that a line logged before (by an earlier reload, say)
    /// does not count.
    pub async fn wait_for_log_after(&self, mark: usize, needle: &str) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let log = self.log();
            if log.get(mark..).is_some_and(|new| new.contains(needle)) {
                return;
            }
            if Instant::now() > deadline {
                panic!("hedge never logged {needle:?}; log:\n{log}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// `hedge status --json`.
    pub fn status(&self) -> serde_json::Value {
        serde_json::from_str(&self.ok(&["status", "--json"])).unwrap()
    }

    /// The counter `name` of `hedge status --json` (`stats.NAME`).
    pub fn stat(&self, name: &str) -> u64 {
        self.status()["stats"][name].as_u64().unwrap_or_default()
    }

    /// Waits (for at most [`PATIENCE`]) until `hedge status --json`
    /// satisfies `ready`, which `what` describes; the status then.
    pub async fn wait_for_status(
        &self,
        what: &str,
        ready: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let status = self.status();
            if ready(&status) {
                return status;
            }
            if Instant::now() > deadline {
                panic!("waited {PATIENCE:?} in vain for {what}: {status}");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Waits until the counter `stats.NAME` has reached `at_least`.
    pub async fn wait_for_stat(&self, name: &str, at_least: u64) -> serde_json::Value {
        self.wait_for_status(&format!("stats.{name} >= {at_least}"), |status| {
            status["stats"][name].as_u64().unwrap_or_default() >= at_least
        })
        .await
    }

    /// Waits until the server has opened its database (the query log).
    pub async fn wait_for_database(&self) -> serde_json::Value {
        self.wait_for_status("the database to open", |status| {
            status["log"]["open"] == true
        })
        .await
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

impl Drop for Hedge {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// 127.0.0.N
pub fn local(n: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, n])
}

/// A recursive query for `name`, with no EDNS.
pub fn query(name: &str, rtype: RecordType) -> Message {
    let mut message = Message::query();
    message.metadata.id = rand_id();
    message.metadata.recursion_desired = true;
    message.add_query(Query::query(Name::from_str(name).unwrap(), rtype));
    message
}

/// The same with an EDNS OPT record advertising `payload` bytes.
pub fn query_edns(name: &str, rtype: RecordType, payload: u16) -> Message {
    let mut message = query(name, rtype);
    let mut edns = Edns::new();
    edns.set_max_payload(payload);
    message.set_edns(edns);
    message
}

fn rand_id() -> u16 {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(1000);
    NEXT.fetch_add(7, Ordering::Relaxed)
}

/// Sends raw bytes over UDP from `from` (port chosen by the OS) and returns
/// the first reply, if one comes within `wait`.
pub async fn udp_raw_from(
    from: IpAddr,
    to: SocketAddr,
    bytes: &[u8],
    wait: Duration,
) -> Option<Vec<u8>> {
    let socket = UdpSocket::bind(SocketAddr::new(from, 0)).await.unwrap();
    socket.send_to(bytes, to).await.unwrap();
    let mut buf = vec![0u8; 65535];
    match tokio::time::timeout(wait, socket.recv_from(&mut buf)).await {
        Ok(Ok((len, _))) => Some(buf[..len].to_vec()),
        _ => None,
    }
}

pub async fn udp_exchange_from(
    from: IpAddr,
    to: SocketAddr,
    message: &Message,
    wait: Duration,
) -> Option<Message> {
    let reply = udp_raw_from(from, to, &message.to_vec().unwrap(), wait).await?;
    let reply = Message::from_vec(&reply).expect("reply parses");
    assert_eq!(reply.metadata.id, message.metadata.id, "reply id matches");
    Some(reply)
}

/// A UDP exchange from 127.0.0.1 that must be answered (within
/// [`PATIENCE`]).
pub async fn udp(to: SocketAddr, message: &Message) -> Message {
    udp_exchange_from(local(1), to, message, PATIENCE)
        .await
        .expect("an answer over UDP")
}

/// A query over a new TCP connection from 127.0.0.1.
pub async fn tcp(to: SocketAddr, message: &Message) -> Message {
    let mut stream = TcpStream::connect(to).await.unwrap();
    tcp_exchange(&mut stream, message).await
}

/// One query and its answer over an open TCP connection (length-prefixed,
/// RFC 1035 4.2.2); the answer must come within [`PATIENCE`].
pub async fn tcp_exchange(stream: &mut TcpStream, message: &Message) -> Message {
    let bytes = message.to_vec().unwrap();
    stream
        .write_all(&(bytes.len() as u16).to_be_bytes())
        .await
        .unwrap();
    stream.write_all(&bytes).await.unwrap();
    let len = tokio::time::timeout(PATIENCE, stream.read_u16())
        .await
        .expect("a TCP answer in time")
        .unwrap();
    let mut buf = vec![0u8; usize::from(len)];
    stream.read_exact(&mut buf).await.unwrap();
    Message::from_vec(&buf).unwrap()
}

/// A UDP socket on `from` (any port) with room for thousands of replies
/// waiting to be read, so a test reading a flood's replies on a busy
/// machine loses none of them to a full buffer.
pub fn roomy_udp_socket(from: IpAddr) -> UdpSocket {
    let socket = socket2::Socket::new(
        socket2::Domain::for_address(SocketAddr::new(from, 0)),
        socket2::Type::DGRAM,
        Some(socket2::Protocol::UDP),
    )
    .unwrap();
    let _ = socket.set_recv_buffer_size(4 << 20);
    socket.bind(&SocketAddr::new(from, 0).into()).unwrap();
    socket.set_nonblocking(true).unwrap();
    UdpSocket::from_std(socket.into()).unwrap()
}

/// A TCP socket bound to `from`, connected to `to`.
pub async fn tcp_connect_from(from: IpAddr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = TcpSocket::new_v4()?;
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(to).await
}

/// Spawns `command` (with stderr from `stderr`), which may run a binary
/// the test has just copied: while another thread of the test process
/// forks, the child can briefly hold the copy open for writing and exec
/// fails with ETXTBSY ("Text file busy"). That passes; try again.
pub fn spawn_copy(command: &mut Command, stderr: impl Fn() -> Stdio) -> std::io::Result<Child> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match command.stderr(stderr()).spawn() {
            Err(error)
                if error.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result,
        }
    }
}

/// Like [`spawn_copy`], running `command` to the end: its output.
pub fn output_of_copy(command: &mut Command) -> Output {
    let deadline = Instant::now() + PATIENCE;
    loop {
        match command.output() {
            Err(error)
                if error.kind() == std::io::ErrorKind::ExecutableFileBusy
                    && Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(20));
            }
            result => return result.unwrap(),
        }
    }
}

/// Runs `hedge` with `args` and returns its output.
pub fn run_hedge(args: &[&str], config: &Path) -> Output {
    Command::new(hedge_bin())
        .args(args)
        .arg("-c")
        .arg(config)
        .output()
        .unwrap()
}

/// Writes `text` as a configuration and runs `hedge config check` on it,
/// which must refuse it (exit 1) and say each of `said` after the file's
/// path (`"4: central.url: ..."`), without ever repeating `secret`.
pub fn config_check_refuses(text: &str, said: &[&str], secret: &str) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hedge.toml");
    std::fs::write(&path, text).unwrap();
    let output = run_hedge(&["config", "check"], &path);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    let file = path.display().to_string();
    for line in said {
        let line = format!("{file}:{line}");
        assert!(stderr.contains(&line), "{line}\nnot in:\n{stderr}");
    }
    assert!(
        !stderr.contains(secret),
        "the secret is not repeated: {stderr}"
    );
}

/// The A/AAAA addresses in a response's answer section, as text.
pub fn addresses(message: &Message) -> Vec<String> {
    message
        .answers
        .iter()
        .filter_map(|r| r.data.ip_addr().map(|ip| ip.to_string()))
        .collect()
}

/// The Extended DNS Error (RFC 8914) code and text of a reply.
pub fn extended_error(message: &Message) -> Option<(u16, String)> {
    use hickory_proto::rr::rdata::opt::{EdnsCode, EdnsOption};
    match message.edns.as_ref()?.option(EdnsCode::Unknown(15))? {
        EdnsOption::Unknown(15, data) if data.len() >= 2 => Some((
            u16::from_be_bytes([data[0], data[1]]),
            String::from_utf8_lossy(&data[2..]).into_owned(),
        )),
        _ => None,
    }
}

/// Whether `dig` is installed (CI installs dnsutils).
pub fn have_dig() -> bool {
    Command::new("dig").arg("-v").output().is_ok()
}

/// The uid the tests run as (the owner of /proc/self).
pub fn own_uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self").unwrap().uid()
}

/// The name of the OS account the tests run as.
pub fn own_user() -> String {
    let uid = own_uid().to_string();
    std::fs::read_to_string("/etc/passwd")
        .unwrap()
        .lines()
        .find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            (fields.len() > 2 && fields[2] == uid).then(|| fields[0].to_string())
        })
        .expect("the test's own user is in /etc/passwd")
}

impl Hedge {
    /// Adds a person with `roles` whom no OS account acts as (a member of
    /// staff a request is filed for, say); returns their enrolment code.
    pub fn person_unmapped(&self, name: &str, roles: &[&str]) -> String {
        let mut args = vec!["people", "add", name, "--json"];
        for role in roles {
            args.extend(["--role", role]);
        }
        let added: serde_json::Value = serde_json::from_str(&self.ok(&args)).unwrap();
        added["enrolment_code"].as_str().unwrap().to_string()
    }

    /// Adds a person with `roles` and makes the test's own OS account act
    /// as them (taking it from whoever it acted as); returns their
    /// enrolment code.
    pub fn person(&self, name: &str, roles: &[&str]) -> String {
        self.release_own_user();
        let user = own_user();
        let mut args = vec!["people", "add", name, "--json", "--os-user", &user];
        for role in roles {
            args.extend(["--role", role]);
        }
        let added: serde_json::Value = serde_json::from_str(&self.ok(&args)).unwrap();
        added["enrolment_code"].as_str().unwrap().to_string()
    }

    /// Makes the test's own OS account act as person `name` (taking it
    /// from whoever it acted as).
    pub fn act_as(&self, name: &str) {
        self.release_own_user();
        self.ok(&["people", "map", name, "--os-user", &own_user()]);
    }

    /// Leaves the test's own OS account acting as nobody.
    pub fn release_own_user(&self) {
        let user = own_user();
        let people: serde_json::Value =
            serde_json::from_str(&self.ok(&["people", "list", "--json"])).unwrap();
        for person in people.as_array().unwrap() {
            if person["os_user"].as_str() == Some(user.as_str()) {
                self.ok(&["people", "map", person["name"].as_str().unwrap()]);
            }
        }
    }
}
