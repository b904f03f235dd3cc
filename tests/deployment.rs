//! Deployment: `hedge init` writes a configuration that checks for every
//! kind of setting; the systemd unit runs the binary the package installs,
//! with the paths `hedge init` writes; the server tells systemd when it is
//! ready, reloading and stopping, and pings the watchdog.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::process::{Command, Stdio};

use common::{PATIENCE, free_addr, hedge_bin};

fn init(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(hedge_bin())
        .arg("init")
        .args(["--data-dir", dir.join("data").to_str().unwrap()])
        .args(["--run-dir", dir.join("run").to_str().unwrap()])
        .arg("--no-questions")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn init_writes_a_configuration_that_checks_for_every_setting() {
    let dir = tempfile::tempdir().unwrap();
    for setting in ["primary", "secondary", "pru", "foster"] {
        let path = dir.path().join(setting).join("hedge.toml");
        let out = init(
            dir.path(),
            &[
                "-c",
                path.to_str().unwrap(),
                "--setting",
                setting,
                "--children-network",
                "192.168.1.0/25",
                "--staff-network",
                "192.168.1.200",
                "--guest-network",
                "10.9.0.0/16",
                "--approver",
                "J. Smith, head teacher",
                "--approver",
                "A. Patel, designated safeguarding lead",
                "--retention-days",
                "60",
                "--site",
                "St \"Quoted\" School",
            ],
        );
        assert!(out.status.success(), "{setting}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("valid"), "{}", text(&out.stdout));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640, "{setting}");
        // The file checks on its own, and says what was asked.
        let check = Command::new(hedge_bin())
            .args(["config", "check", "-c", path.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(check.status.success(), "{}", text(&check.stderr));
        let written = std::fs::read_to_string(&path).unwrap();
        let config: toml::Table = written.parse().unwrap();
        assert_eq!(config["logging"]["retention_days"].as_integer(), Some(60));
        assert_eq!(
            config["reports"]["site"].as_str(),
            Some("St \"Quoted\" School")
        );
        assert_eq!(config["approvers"].as_array().unwrap().len(), 2);
        let groups = config["groups"].as_array().unwrap();
        let names: Vec<&str> = groups.iter().map(|g| g["name"].as_str().unwrap()).collect();
        let expected: &[&str] = match setting {
            "foster" => &[
                "children-under-11",
                "children-11-to-15",
                "young-people-16-17",
                "carers",
                "guests",
            ],
            _ => &["pupils", "staff", "guests"],
        };
        assert_eq!(names, expected, "{setting}");
        // Children are safe-searched and their queries kept; a foster home
        // has a bedtime for every age band but the oldest.
        for group in groups {
            let name = group["name"].as_str().unwrap();
            if name.starts_with("children") || name == "pupils" {
                assert_eq!(group["safe_search"].as_bool(), Some(true), "{name}");
                assert_eq!(group["log"].as_str(), Some("full"), "{name}");
                let blocked = group["block"].as_array().unwrap();
                assert!(blocked.iter().any(|c| c.as_str() == Some("self-harm")));
            }
            if name.starts_with("children") {
                let rules = group["schedule"].as_array().unwrap();
                assert_eq!(rules[0]["name"].as_str(), Some("bedtime"));
                assert_eq!(rules[0]["block_all"].as_bool(), Some(true));
            }
        }
    }

    // Never over an existing file without --force; with it, the old one
    // is kept.
    let path = dir.path().join("primary").join("hedge.toml");
    let again = [
        "-c",
        path.to_str().unwrap(),
        "--setting",
        "secondary",
        "--children-network",
        "10.1.0.0/16",
        "--approver",
        "J. Smith, head teacher",
    ];
    let out = init(dir.path(), &again);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("a primary school")
    );
    let mut forced = again.to_vec();
    forced.push("--force");
    let out = init(dir.path(), &forced);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&path)
            .unwrap()
            .contains("a secondary school")
    );
    let backup = dir.path().join("primary").join("hedge.toml.bak");
    assert!(
        std::fs::read_to_string(backup)
            .unwrap()
            .contains("a primary school")
    );

    // A foster child's device goes to its age band's group.
    let path = dir.path().join("devices").join("hedge.toml");
    let out = init(
        dir.path(),
        &[
            "-c",
            path.to_str().unwrap(),
            "--setting",
            "foster",
            "--device",
            "Sam's tablet=192.168.1.50:under-11",
            "--approver",
            "A. Carer, foster carer",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let config: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let client = &config["clients"].as_array().unwrap()[0];
    assert_eq!(client["name"].as_str(), Some("Sam's tablet"));
    assert_eq!(client["group"].as_str(), Some("children-under-11"));

    // Missing or wrong answers are named.
    let bad = dir.path().join("bad.toml");
    let bad = bad.to_str().unwrap();
    for (args, message) in [
        (
            vec!["--children-network", "10.0.0.0/8"],
            "--setting is needed",
        ),
        (
            vec!["--setting", "pru", "--approver", "a, b"],
            "--children-network is needed",
        ),
        (
            vec![
                "--setting",
                "pru",
                "--children-network",
                "10.0.0.0/33",
                "--approver",
                "a, b",
            ],
            "\"10.0.0.0/33\" is not a network",
        ),
        (
            vec!["--setting", "pru", "--children-network", "10.0.0.0/8"],
            "--approver is needed",
        ),
        (
            vec![
                "--setting",
                "pru",
                "--children-network",
                "10.0.0.0/8",
                "--approver",
                "Nobody",
            ],
            "a name and a role",
        ),
        (
            vec![
                "--setting",
                "foster",
                "--device",
                "Sam=192.168.1.5:toddler",
                "--approver",
                "a, b",
            ],
            "NAME=IP:BAND",
        ),
        (
            vec![
                "--setting",
                "primary",
                "--children-network",
                "10.0.0.0/8",
                "--approver",
                "a, b",
                "--retention-days",
                "0",
            ],
            "out of range",
        ),
    ] {
        let mut all = vec!["-c", bad];
        all.extend(args);
        let out = init(dir.path(), &all);
        assert!(!out.status.success());
        assert!(
            text(&out.stderr).contains(message),
            "{all:?}: {}",
            text(&out.stderr)
        );
        assert!(!Path::new(bad).exists());
    }
}

/// `Key=value` lines of a unit file's section.
fn unit_values(unit: &str, key: &str) -> Vec<String> {
    unit.lines()
        .filter_map(|line| line.strip_prefix(&format!("{key}=")))
        .map(str::to_string)
        .collect()
}

#[test]
fn the_unit_runs_what_the_package_installs_where_init_writes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest: toml::Table = std::fs::read_to_string(root.join("Cargo.toml"))
        .unwrap()
        .parse()
        .unwrap();
    let deb = &manifest["package"]["metadata"]["deb"];
    let assets: Vec<(String, String)> = deb["assets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_array().unwrap();
            (
                a[0].as_str().unwrap().to_string(),
                format!("/{}", a[1].as_str().unwrap()),
            )
        })
        .collect();
    let installed = |source: &str| {
        assets
            .iter()
            .find(|(from, _)| from == source)
            .map(|(_, to)| to.clone())
            .unwrap_or_else(|| panic!("the package does not install {source}"))
    };
    // Every asset exists in the tree (the binary is built by cargo deb).
    for (from, _) in &assets {
        assert!(
            from == "target/release/hedge" || root.join(from).exists(),
            "{from}"
        );
    }
    let binary = installed("target/release/hedge");
    assert_eq!(binary, "/usr/bin/hedge");
    let unit = std::fs::read_to_string(root.join("systemd/hedge.service")).unwrap();
    assert_eq!(
        unit_values(&unit, "ExecStart"),
        [format!("{binary} serve -c /etc/hedge/hedge.toml")]
    );
    // The unit waits for the file `hedge init` writes by default.
    assert_eq!(
        unit_values(&unit, "ConditionPathExists"),
        ["/etc/hedge/hedge.toml"]
    );
    assert_eq!(hedge::config::DEFAULT_CONFIG_PATH, "/etc/hedge/hedge.toml");
    assert_eq!(unit_values(&unit, "Type"), ["notify"]);
    assert_eq!(unit_values(&unit, "User"), ["hedge"]);
    assert_eq!(
        unit_values(&unit, "AmbientCapabilities"),
        ["CAP_NET_BIND_SERVICE"]
    );
    assert_eq!(
        unit_values(&unit, "CapabilityBoundingSet"),
        ["CAP_NET_BIND_SERVICE"]
    );
    // init's default directories are the ones systemd makes for the unit
    // (lists/ inside it comes from hedge.tmpfiles, shared with hedge-admin).
    // Netlink for the neighbour table (devices by MAC address), and /proc
    // still cut down to processes: hedge reads no table through it.
    assert_eq!(
        unit_values(&unit, "RestrictAddressFamilies"),
        ["AF_UNIX AF_INET AF_INET6 AF_NETLINK"]
    );
    assert_eq!(unit_values(&unit, "ProcSubset"), ["pid"]);
    assert_eq!(unit_values(&unit, "ProtectProc"), ["invisible"]);
    assert_eq!(unit_values(&unit, "StateDirectory"), ["hedge"]);
    assert_eq!(unit_values(&unit, "RuntimeDirectory"), ["hedge"]);
    let help = Command::new(hedge_bin())
        .args(["init", "--help"])
        .output()
        .unwrap();
    let help = text(&help.stdout);
    assert!(help.contains("[default: /var/lib/hedge]"), "{help}");
    assert!(help.contains("[default: /run/hedge]"), "{help}");
    // The timer's service runs the same binary; sysusers and tmpfiles are
    // installed where systemd reads them.
    let update = std::fs::read_to_string(root.join("systemd/hedge-lists-update.service")).unwrap();
    assert_eq!(
        unit_values(&update, "ExecStart"),
        [format!("{binary} lists update -c /etc/hedge/hedge.toml")]
    );
    for unit_file in [
        "hedge.service",
        "hedge-lists-update.service",
        "hedge-lists-update.timer",
    ] {
        assert_eq!(
            installed(&format!("systemd/{unit_file}")),
            format!("/lib/systemd/system/{unit_file}")
        );
    }
    assert_eq!(
        installed("systemd/hedge.sysusers"),
        "/usr/lib/sysusers.d/hedge.conf"
    );
    assert_eq!(
        installed("systemd/hedge.tmpfiles"),
        "/usr/lib/tmpfiles.d/hedge.conf"
    );
    let postinst = std::fs::read_to_string(root.join("debian/postinst")).unwrap();
    assert!(postinst.contains("/usr/lib/sysusers.d/hedge.conf"));
    // It says how to start hedge, and never does so itself.
    for line in postinst.lines().map(str::trim) {
        assert!(
            !(line.starts_with("systemctl enable") || line.starts_with("systemctl start")),
            "the package must not start filtering by itself: {line}"
        );
    }
    assert!(postinst.contains("hedge init"));
}

#[tokio::test]
async fn the_server_tells_systemd_what_it_is_doing() {
    let dir = tempfile::tempdir().unwrap();
    let notify = dir.path().join("notify");
    let socket = UnixDatagram::bind(&notify).unwrap();
    socket.set_read_timeout(Some(PATIENCE)).unwrap();
    let addr = free_addr("127.0.0.1:0".parse().unwrap());
    let config = dir.path().join("hedge.toml");
    std::fs::write(
        &config,
        format!(
            "[server]\nlisten = [\"{addr}\"]\n[upstream]\nservers = [\"127.0.0.1:9\"]\n[admin]\nsocket = \"admin.sock\"\n[logging]\ndatabase = \"hedge.db\"\n"
        ),
    )
    .unwrap();
    // Killed however the test ends, so a failure leaves no server behind.
    let mut child = Stopped(
        Command::new(hedge_bin())
            .args(["serve", "-c", config.to_str().unwrap()])
            .env("NOTIFY_SOCKET", &notify)
            .env("WATCHDOG_USEC", "400000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut buf = [0u8; 512];
    let mut next = || {
        // A signal for this process (SIGCHLD, once tokio watches children
        // for another test) interrupts a blocking receive: receive again.
        let n = loop {
            match socket.recv(&mut buf) {
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                other => break other.expect("a notification (within the tests' patience)"),
            }
        };
        // Each KEY=value ends its line; the last newline says nothing.
        text(&buf[..n]).trim_end().to_string()
    };
    // The watchdog may ping while the server is still starting.
    let ready = loop {
        let message = next();
        if message != "WATCHDOG=1" {
            break message;
        }
    };
    assert!(
        ready.starts_with("READY=1\nSTATUS=answering on "),
        "{ready}"
    );
    assert!(ready.contains(&addr.to_string()), "{ready}");
    // Watchdog pings (every 200 ms, half of WATCHDOG_USEC), again and
    // again.
    let mut pings = 0;
    while pings < 3 {
        if next() == "WATCHDOG=1" {
            pings += 1;
        }
    }
    let signal = |name: &str| {
        Command::new("kill")
            .args([&format!("-{name}"), &child.0.id().to_string()])
            .status()
            .unwrap();
    };
    signal("HUP");
    let mut seen = Vec::new();
    while !seen.iter().any(|m: &String| m == "READY=1") {
        let message = next();
        if message != "WATCHDOG=1" {
            seen.push(message);
        }
    }
    assert!(
        seen[0].starts_with("RELOADING=1\nMONOTONIC_USEC="),
        "{seen:?}"
    );
    signal("TERM");
    loop {
        let message = next();
        if message == "STOPPING=1" {
            break;
        }
        assert_eq!(message, "WATCHDOG=1");
    }
    assert!(child.0.wait().unwrap().success());
}

/// A child process killed (and reaped) when dropped.
struct Stopped(std::process::Child);

impl Drop for Stopped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `hedge` as uid and gid 65534 (nobody) with `groups` as its
/// supplementary groups.
fn hedge_as_nobody(binary: &Path, groups: &[u32], args: &[&str]) -> std::process::Output {
    use std::os::unix::process::CommandExt;
    let groups: Vec<libc::gid_t> = groups.to_vec();
    let mut command = Command::new(binary);
    command.args(args);
    // SAFETY: setgroups, setgid and setuid are async-signal-safe; the
    // groups go first, while the child may still change them.
    unsafe {
        command.pre_exec(move || {
            if libc::setgroups(groups.len(), groups.as_ptr()) == 0
                && libc::setgid(65534) == 0
                && libc::setuid(65534) == 0
            {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    // The binary may be a copy just written (see `output_of_copy`).
    common::output_of_copy(&mut command)
}

#[test]
fn a_member_of_hedge_admin_reads_the_list_cache_and_not_the_database() {
    if common::own_uid() != 0 {
        eprintln!("skipped: needs root to make files as other users");
        return;
    }
    if Command::new("systemd-tmpfiles")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!("skipped: systemd-tmpfiles is not installed");
        return;
    }
    // A root with the package's users (hedge 990, hedge-admin 991), laid
    // out by the package's own tmpfiles.d file.
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0::/root:/bin/sh\nhedge:x:990:990::/var/lib/hedge:/usr/sbin/nologin\nnobody:x:65534:65534::/:/usr/sbin/nologin\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\nhedge:x:990:\nhedge-admin:x:991:hedge\nnogroup:x:65534:\n",
    )
    .unwrap();
    let tmpfiles = Path::new(env!("CARGO_MANIFEST_DIR")).join("systemd/hedge.tmpfiles");
    let made = Command::new("systemd-tmpfiles")
        .arg("--create")
        .arg(format!("--root={}", root.display()))
        .arg(&tmpfiles)
        .output()
        .unwrap();
    assert!(made.status.success(), "{}", text(&made.stderr));
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::process::CommandExt;
    let state = std::fs::metadata(root.join("var/lib/hedge")).unwrap();
    assert_eq!((state.mode() & 0o7777, state.uid()), (0o751, 990));
    let lists = root.join("var/lib/hedge/lists");
    let meta = std::fs::metadata(&lists).unwrap();
    assert_eq!((meta.mode() & 0o7777, meta.gid()), (0o2770, 991));

    // hedge (umask 0027, as its unit sets) writes a list and its database.
    let list = lists.join("gambling.txt");
    let wrote = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 0027 && echo bet.example > {} && umask 0077 && echo x > {}",
            list.display(),
            root.join("var/lib/hedge/hedge.db").display()
        ))
        .uid(990)
        .gid(990)
        .status()
        .unwrap();
    assert!(wrote.success());
    assert_eq!(std::fs::metadata(&list).unwrap().gid(), 991);

    let etc = root.join("etc/hedge");
    let config = etc.join("hedge.toml");
    std::fs::write(
        &config,
        format!(
            "[upstream]\nservers = [\"192.0.2.1\"]\n[logging]\ndatabase = \"{}\"\n[lists]\ncache_dir = \"{}\"\n[categories.gambling]\nsources = [\"{}\"]\n[[groups]]\nname = \"pupils\"\nnetworks = [\"10.0.0.0/8\"]\nblock = [\"gambling\"]\n",
            root.join("var/lib/hedge/hedge.db").display(),
            lists.display(),
            list.display()
        ),
    )
    .unwrap();
    std::os::unix::fs::chown(&config, Some(0), Some(991)).unwrap();
    std::fs::set_permissions(&config, std::fs::Permissions::from_mode(0o640)).unwrap();
    let binary = root.join("hedge");
    std::fs::copy(hedge_bin(), &binary).unwrap();
    let args = [
        "explain",
        "www.bet.example",
        "--client",
        "10.0.0.5",
        "-c",
        config.to_str().unwrap(),
    ];

    let member = hedge_as_nobody(&binary, &[991], &args);
    let out = text(&member.stdout);
    assert!(member.status.success(), "{out}{}", text(&member.stderr));
    assert!(out.contains("gambling"), "{out}");
    // A member may add to the cache (what `hedge lists update` does).
    let update = hedge_as_nobody(
        Path::new("/bin/sh"),
        &[991],
        &[
            "-c",
            &format!("echo more.example > {}/new.txt", lists.display()),
        ],
    );
    assert!(update.status.success(), "{}", text(&update.stderr));
    // But not read the database, nor the cache without the group.
    let database = hedge_as_nobody(
        Path::new("/bin/cat"),
        &[991],
        &[root.join("var/lib/hedge/hedge.db").to_str().unwrap()],
    );
    assert!(!database.status.success());
    let stranger = hedge_as_nobody(Path::new("/bin/cat"), &[], &[list.to_str().unwrap()]);
    assert!(!stranger.status.success());
}
