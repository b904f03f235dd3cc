//! A throwaway PostgreSQL cluster, for the tests of the central store: a
//! cluster made by `initdb` in a temporary directory and served by
//! `postgres` on 127.0.0.1 only, on a free port, with password
//! (SCRAM-SHA-256) authentication for everyone, over TCP and the Unix
//! socket alike. Its superuser is [`ADMIN`], with a random password (see
//! [`Postgres::admin_url`]); the tests make their own roles and databases.
//!
//! Needs the PostgreSQL server binaries (the Debian package `postgresql`;
//! CI installs it): the highest version in `/usr/lib/postgresql/*/bin`,
//! else `pg_config --bindir`, whichever has `initdb`, `postgres`, `psql`
//! and `pg_isready`. When they are missing, [`Postgres::start`] gives
//! [`SKIP_REASON`] and the test prints `skipped: <reason>` and returns.
//! The cluster Debian's package makes (`main`, port 5432, sockets in
//! `/var/run/postgresql`) is neither used nor disturbed, whether it runs
//! or not: this one has its own port, directory and socket.
//!
//! `initdb` and `postgres` refuse to run as root, so as root (as in CI)
//! the cluster runs as the `postgres` system account (made by Debian's
//! package), else as `nobody`, and owns the temporary directory (which is
//! made in `$TMPDIR` or `/tmp`, so every account can reach it); as anyone
//! else it runs as the test's own account. `psql` and `pg_isready` run as
//! the test's own account, over TCP.
//!
//! The server runs with `fsync=off`: a test may kill it ([`Postgres::kill`])
//! and nothing committed is lost, since what it wrote is in the kernel's
//! page cache; only a crash of the machine would lose it. Commits stay
//! synchronous and full-page writes stay on, so that a kill never loses an
//! acknowledged commit (with `synchronous_commit=off` one could still be in
//! the server's own memory) nor leaves a torn page that recovery cannot
//! mend.
//!
//! Every call blocks the calling thread (so sync tests and `#[tokio::test]`
//! alike can use it) and waits at most [`PATIENCE`] for what it awaits;
//! every failure panics with the end of the server's log.

use std::fs::OpenOptions;
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{PATIENCE, free_addr, patiently};

/// Why [`Postgres::start`] cannot start a cluster here; the test prints
/// `skipped: <this>`.
pub const SKIP_REASON: &str =
    "PostgreSQL server binaries are not installed (Debian package postgresql)";

/// The cluster's superuser, which [`Postgres::psql`] and
/// [`Postgres::admin_url`] act as.
pub const ADMIN: &str = "hedge_test_admin";

/// The programs the cluster needs, all from one directory.
const TOOLS: [&str; 4] = ["initdb", "postgres", "psql", "pg_isready"];

/// Settings besides the address, port and socket directory: speed for
/// tests (no fsync; see the module's comment for why commits stay
/// synchronous), a small memory footprint, room for many pools.
const SETTINGS: [&str; 3] = ["fsync=off", "shared_buffers=32MB", "max_connections=200"];

/// The server's log (its stderr and stdout, across restarts), in the
/// temporary directory.
const LOG: &str = "server.log";

/// A PostgreSQL cluster in a temporary directory, served on 127.0.0.1.
/// Dropping it kills the server (every process of it) and deletes the
/// directory.
pub struct Postgres {
    /// Where `initdb`, `postgres`, `psql` and `pg_isready` are.
    bin: PathBuf,
    /// Holds the cluster (`data/`), the server's Unix socket, and its log.
    dir: TempDir,
    /// The uid and gid the server runs as, when not the test's own.
    account: Option<(u32, u32)>,
    /// [`ADMIN`]'s password.
    password: String,
    port: u16,
    /// The postmaster, while it runs.
    postmaster: Option<Child>,
}

impl Postgres {
    /// Makes a cluster in a fresh temporary directory and starts the
    /// server on a free port of 127.0.0.1; returns once it accepts
    /// connections. `Err(`[`SKIP_REASON`]`)` when the server binaries are
    /// not installed; panics when they are but something fails.
    pub fn start() -> Result<Postgres, &'static str> {
        let bin = server_binaries().ok_or(SKIP_REASON)?;
        let dir = tempfile::Builder::new()
            .prefix("hedge-postgres")
            .tempdir()
            .unwrap();
        let account = server_account();
        if let Some((uid, gid)) = account {
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).unwrap();
        }
        let mut random = [0u8; 16];
        getrandom::getrandom(&mut random).unwrap();
        let password = random.iter().map(|b| format!("{b:02x}")).collect();
        let mut postgres = Postgres {
            bin,
            dir,
            account,
            password,
            port: 0,
            postmaster: None,
        };
        postgres.initdb();
        postgres.start_on_free_port();
        Ok(postgres)
    }

    /// The TCP port the server listens on (on 127.0.0.1), the same across
    /// [`Self::start_again`].
    pub fn port(&self) -> u16 {
        self.port
    }

    /// [`ADMIN`]'s password.
    pub fn admin_password(&self) -> &str {
        &self.password
    }

    /// `postgres://hedge_test_admin:PASSWORD@127.0.0.1:PORT/postgres`: the
    /// superuser, in the `postgres` database.
    pub fn admin_url(&self) -> String {
        self.url_for(ADMIN, &self.password, "postgres")
    }

    /// `postgres://USER:PASSWORD@127.0.0.1:PORT/DB`, each part
    /// percent-encoded, as sqlx and libpq take it.
    pub fn url_for(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "postgres://{}:{}@127.0.0.1:{}/{}",
            percent_encoded(user),
            percent_encoded(password),
            self.port,
            percent_encoded(db)
        )
    }

    /// Makes a role that may log in with `password`: `CREATE ROLE "name"
    /// LOGIN PASSWORD '...' <extra>` (`extra` may add `CREATEDB`,
    /// `CONNECTION LIMIT 5` and so on, or be empty).
    pub fn create_role(&self, name: &str, password: &str, extra: &str) {
        self.psql(
            "postgres",
            &format!(
                "CREATE ROLE {} LOGIN PASSWORD {} {extra};",
                quoted_identifier(name),
                quoted_literal(password)
            ),
        );
    }

    /// Makes a database: `CREATE DATABASE "name" <extra>` (`extra` may be
    /// `OWNER some_role`, or empty for one [`ADMIN`] owns).
    pub fn create_database(&self, name: &str, extra: &str) {
        self.psql(
            "postgres",
            &format!("CREATE DATABASE {} {extra};", quoted_identifier(name)),
        );
    }

    /// Runs `sql` (any number of statements, each in its own transaction
    /// unless it says otherwise) in database `db` as [`ADMIN`], through
    /// `psql`, stopping at the first error. Gives what the statements
    /// printed: rows one a line, columns joined by `|`, no headers or
    /// command tags (`psql -A -t -q`). Panics with psql's complaint when a
    /// statement fails.
    pub fn psql(&self, db: &str, sql: &str) -> String {
        let mut child = self
            .command("psql", false)
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-f", "-"])
            .arg("--dbname")
            .arg(self.url_for(ADMIN, &self.password, db))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start psql");
        let mut stdin = child.stdin.take().unwrap();
        // Fed from another thread, so that a long answer cannot fill
        // psql's stdout while a long script is still being written.
        let output = std::thread::scope(|scope| {
            scope.spawn(move || {
                let _ = stdin.write_all(sql.as_bytes());
            });
            child.wait_with_output().unwrap()
        });
        assert!(
            output.status.success(),
            "psql in {db} ({}) failed on:\n{sql}\n{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    /// Stops the server as an administrator would (SIGINT: fast shutdown,
    /// which disconnects every client and writes a checkpoint) and waits
    /// until it has exited. Does nothing when it is not running.
    pub fn stop(&mut self) {
        let Some(mut postmaster) = self.postmaster.take() else {
            return;
        };
        signal(postmaster.id(), libc::SIGINT);
        for () in patiently() {
            if let Ok(Some(_)) = postmaster.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        self.postmaster = Some(postmaster);
        self.kill_everything();
        panic!(
            "postgres did not stop within {PATIENCE:?} of SIGINT; its log ends:\n{}",
            self.log_tail()
        );
    }

    /// Kills the server as a crash would: SIGKILL to the postmaster and to
    /// every process it had started, all at once, so that none of them
    /// does anything more (no checkpoint, no goodbye to clients); returns
    /// once they are all gone. The next [`Self::start_again`] recovers
    /// from the write-ahead log. Does nothing when it is not running.
    pub fn kill(&mut self) {
        if !self.kill_everything() {
            panic!(
                "a process of the killed server was still alive after {PATIENCE:?}; the log ends:\n{}",
                self.log_tail()
            );
        }
    }

    /// Starts the server again after [`Self::stop`] or [`Self::kill`], on
    /// the same port and cluster; returns once it accepts connections
    /// (after recovery, following a kill). Panics when it is running
    /// already, or when it cannot start (another process took the port,
    /// say).
    pub fn start_again(&mut self) {
        assert!(
            self.postmaster.is_none(),
            "start_again while the server is running"
        );
        self.spawn();
        if !self.wait_ready() {
            panic!(
                "postgres did not start again on port {}; its log ends:\n{}",
                self.port,
                self.log_tail()
            );
        }
    }

    /// Whether the server is running (started and neither stopped, killed
    /// nor exited on its own).
    pub fn is_running(&mut self) -> bool {
        match self.postmaster.as_mut().map(|child| child.try_wait()) {
            Some(Ok(None)) => true,
            Some(_) => {
                self.postmaster = None;
                false
            }
            None => false,
        }
    }

    /// The temporary directory: the cluster in `data/`, the server's Unix
    /// socket, and its log. Deleted on drop.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything the server has logged, across restarts.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join(LOG)).unwrap_or_default()
    }

    /// The last 40 lines of [`Self::log`], for failure messages.
    pub fn log_tail(&self) -> String {
        let log = self.log();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// A command running `tool` from the server's binaries in the
    /// temporary directory, untouched by the test's `PG*` variables and
    /// locale; as the server's account when `as_server`.
    fn command(&self, tool: &str, as_server: bool) -> Command {
        let mut command = Command::new(self.bin.join(tool));
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("PG") {
                command.env_remove(name);
            }
        }
        command
            .env("LC_ALL", "C")
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        if as_server && let Some((uid, gid)) = self.account {
            command.uid(uid).gid(gid);
        }
        command
    }

    /// Makes the cluster in `data/`, [`ADMIN`] its superuser, password
    /// authentication for every connection.
    fn initdb(&self) {
        let pwfile = self.dir.path().join("admin-password");
        std::fs::write(&pwfile, format!("{}\n", self.password)).unwrap();
        if let Some((uid, gid)) = self.account {
            std::os::unix::fs::chown(&pwfile, Some(uid), Some(gid)).unwrap();
        }
        let output = self
            .command("initdb", true)
            .arg("--pgdata")
            .arg(self.data_dir())
            .args(["--auth=scram-sha-256", "--username", ADMIN, "--pwfile"])
            .arg(&pwfile)
            .args(["--encoding=UTF8", "--locale=C", "--no-sync"])
            .output()
            .expect("run initdb");
        assert!(
            output.status.success(),
            "initdb in {} as {} failed ({}):\n{}{}",
            self.dir.path().display(),
            self.account
                .map_or("the test's own account".into(), |(uid, _)| format!(
                    "uid {uid}"
                )),
            output.status,
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        std::fs::remove_file(&pwfile).unwrap();
    }

    /// Starts the server on a free port and waits until it accepts
    /// connections; tries another port when it exits early (another
    /// process took the port between the check and the bind).
    fn start_on_free_port(&mut self) {
        for _ in 0..5 {
            self.port = free_addr("127.0.0.1:0".parse().unwrap()).port();
            self.spawn();
            if self.wait_ready() {
                return;
            }
        }
        panic!("postgres did not start; its log ends:\n{}", self.log_tail());
    }

    /// Starts the postmaster on [`Self::port`], not waiting for it. It stays
    /// in the test's process group, so that Ctrl-C on `cargo test` reaches
    /// it too (a fast shutdown) rather than leaving it running.
    fn spawn(&mut self) {
        let log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.dir.path().join(LOG))
            .unwrap();
        let mut command = self.command("postgres", true);
        command
            .arg("-D")
            .arg(self.data_dir())
            .arg("-k")
            .arg(self.dir.path())
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()]);
        for setting in SETTINGS {
            command.args(["-c", setting]);
        }
        let postmaster = command
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start postgres");
        self.postmaster = Some(postmaster);
    }

    /// Polls with `pg_isready` until the server accepts connections (true)
    /// or exits (false); panics after [`PATIENCE`].
    fn wait_ready(&mut self) -> bool {
        let port = self.port.to_string();
        for () in patiently() {
            if !self.is_running() {
                return false;
            }
            let ready = self
                .command("pg_isready", false)
                .args(["-q", "-h", "127.0.0.1", "-p", &port, "-t", "5"])
                .args(["-U", ADMIN, "-d", "postgres"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run pg_isready");
            if ready.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.kill_everything();
        panic!(
            "postgres did not accept connections on port {} within {PATIENCE:?}; its log ends:\n{}",
            self.port,
            self.log_tail()
        );
    }

    /// Kills the postmaster and its children with SIGKILL and waits (at
    /// most [`PATIENCE`]) until they are gone; true when they all are.
    ///
    /// The children are found and killed while the postmaster is stopped
    /// (SIGSTOP), so that it can neither start another nor reap one (whose
    /// pid might then be reused) meanwhile. Each child makes itself a
    /// process group of its own, so killing the postmaster's group would
    /// miss them; and the server cannot start again while one of them
    /// still holds the old shared memory. Then the lock files are removed:
    /// their pid is dead, but might be reused by another process before
    /// the server starts again (recovery does not depend on them).
    fn kill_everything(&mut self) -> bool {
        let Some(mut postmaster) = self.postmaster.take() else {
            return true;
        };
        let pid = postmaster.id();
        signal(pid, libc::SIGSTOP);
        let mut all_gone = false;
        for () in patiently() {
            match process_state(pid) {
                Some(('T' | 't', _)) => {
                    let children = children_of(pid);
                    for &child in &children {
                        signal(child, libc::SIGKILL);
                    }
                    all_gone = wait_gone(pid, &children);
                    break;
                }
                // Exited on its own: its children, if any, are no longer
                // its to find; they stop when they notice it has gone.
                Some(('Z', _)) | None => break,
                Some(_) => std::thread::sleep(Duration::from_millis(5)),
            }
        }
        let _ = postmaster.kill();
        let _ = postmaster.wait();
        let _ = std::fs::remove_file(self.data_dir().join("postmaster.pid"));
        let _ = std::fs::remove_file(self.dir.path().join(format!(".s.PGSQL.{}.lock", self.port)));
        all_gone
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.kill_everything();
    }
}

/// The directory with the server binaries, if they are installed.
fn server_binaries() -> Option<PathBuf> {
    let mut versions: Vec<(Vec<u32>, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let name = entry.file_name().into_string().ok()?;
            let version = name
                .split('.')
                .map(|part| part.parse().ok())
                .collect::<Option<Vec<u32>>>()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versions.sort();
    let pg_config = Command::new("pg_config")
        .arg("--bindir")
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| PathBuf::from(String::from_utf8_lossy(&output.stdout).trim()));
    versions
        .into_iter()
        .rev()
        .map(|(_, bin)| bin)
        .chain(pg_config)
        .find(|bin| TOOLS.iter().all(|tool| bin.join(tool).is_file()))
}

/// The uid and gid the server runs as, when the test runs as root (which
/// `initdb` and `postgres` refuse): the `postgres` account, else
/// `nobody`.
fn server_account() -> Option<(u32, u32)> {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    if unsafe { libc::geteuid() } != 0 {
        return None;
    }
    let passwd = std::fs::read_to_string("/etc/passwd").unwrap_or_default();
    let account = |name: &str| {
        passwd.lines().find_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 4 || fields[0] != name {
                return None;
            }
            Some((fields[2].parse().ok()?, fields[3].parse().ok()?))
        })
    };
    Some(
        account("postgres")
            .or_else(|| account("nobody"))
            .unwrap_or((65534, 65534)),
    )
}

/// Sends `signal` to process `pid`.
fn signal(pid: u32, signal: libc::c_int) {
    if let Ok(pid) = libc::pid_t::try_from(pid) {
        // SAFETY: kill(2) on a server process this harness started; the
        // postmaster is not reaped before it is killed, nor its children
        // before it is.
        unsafe { libc::kill(pid, signal) };
    }
}

/// The state letter and parent pid of process `pid`, from
/// `/proc/PID/stat`; `None` when there is no such process.
fn process_state(pid: u32) -> Option<(char, u32)> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid ...", where comm may hold anything.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    let state = fields.next()?.chars().next()?;
    let parent = fields.next()?.parse().ok()?;
    Some((state, parent))
}

/// The processes whose parent is `pid`.
fn children_of(pid: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .filter(|&child| process_state(child).is_some_and(|(_, parent)| parent == pid))
        .collect()
}

/// Waits (at most [`PATIENCE`]) until each of `children` of the stopped
/// `parent` has died (a zombie has let go of everything, shared memory
/// included); true when they all have.
fn wait_gone(parent: u32, children: &[u32]) -> bool {
    let alive = |child: u32| {
        process_state(child).is_some_and(|(state, ppid)| state != 'Z' && ppid == parent)
    };
    for () in patiently() {
        if !children.iter().any(|&child| alive(child)) {
            return true;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    false
}

/// `text` with every byte but ASCII letters, digits and `-._~`
/// percent-encoded, for a part of a URL.
fn percent_encoded(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// `name` as an SQL identifier: in double quotes, any inside doubled.
fn quoted_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as an SQL string literal: in single quotes, any inside doubled
/// (backslashes are plain characters: `standard_conforming_strings` is on).
fn quoted_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}
