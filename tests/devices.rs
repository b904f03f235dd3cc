//! Devices by MAC address through a real link: a veth pair into a network
//! namespace the test creates (198.18.213.0/24, a benchmarking range, and
//! fd00:213::/64, on the pair only), with hedge on the near end learning the far end's MAC
//! address from the kernel's neighbour table. A device named by MAC keeps
//! its group at a new address; an unknown MAC address gets
//! `unknown_group`; `hedge devices list` and the query log carry the MAC
//! address and the DHCP names from lease files of each format.
//!
//! Needs root (as in CI) and iproute2; says "skipped: <why>" otherwise.

mod common;

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::process::Command;

use common::*;
use hickory_proto::op::Message;
use hickory_proto::rr::RecordType;
use serde_json::Value;

const HEDGE_SIDE: &str = "198.18.213.1";
/// A unique local address on the pair only.
const HEDGE_SIDE_V6: &str = "fd00:213::1";
const KNOWN_MAC: &str = "02:00:5e:10:00:01";
const UNKNOWN_MAC: &str = "02:00:5e:10:00:02";

/// A network namespace and the veth pair into it, removed when dropped
/// (a panicking test too).
struct Link {
    namespace: String,
    near: String,
    far: String,
}

impl Link {
    fn create() -> Result<Link, String> {
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            return Err("not root (network namespaces and veth pairs need it)".into());
        }
        if Command::new("ip").arg("-V").output().is_err() {
            return Err("`ip` (iproute2) is not installed".into());
        }
        let id = std::process::id() % 100_000;
        let link = Link {
            namespace: format!("hedge-test-{id}"),
            near: format!("hdg{id}a"),
            far: format!("hdg{id}b"),
        };
        ip(&["netns", "add", &link.namespace])?;
        // From here on, dropping `link` removes what was made.
        link.set_up()?;
        Ok(link)
    }

    fn set_up(&self) -> Result<(), String> {
        let link = self;
        ip(&[
            "link", "add", &link.near, "type", "veth", "peer", "name", &link.far,
        ])?;
        ip(&["link", "set", &link.far, "netns", &link.namespace])?;
        ip(&[
            "addr",
            "add",
            &format!("{HEDGE_SIDE}/24"),
            "dev",
            &link.near,
        ])?;
        let near6 = format!("{HEDGE_SIDE_V6}/64");
        ip(&["addr", "add", &near6, "dev", &link.near, "nodad"])?;
        ip(&["link", "set", &link.near, "up"])?;
        link.inside(&["link", "set", &link.far, "address", KNOWN_MAC])?;
        link.inside(&["addr", "add", "198.18.213.2/24", "dev", &link.far])?;
        link.inside(&["addr", "add", "fd00:213::2/64", "dev", &link.far, "nodad"])?;
        link.inside(&["link", "set", &link.far, "up"])
    }

    /// `ip -n NAMESPACE args...`.
    fn inside(&self, args: &[&str]) -> Result<(), String> {
        let mut all = vec!["-n", self.namespace.as_str()];
        all.extend_from_slice(args);
        ip(&all)
    }

    /// Asks hedge at `server` for `name` from `from` inside the namespace.
    fn ask(&self, from: &str, server: SocketAddr, name: &str) -> Message {
        let path = format!("/var/run/netns/{}", self.namespace);
        let from: IpAddr = from.parse().unwrap();
        let question = query(name, RecordType::A).to_vec().unwrap();
        std::thread::spawn(move || {
            let namespace = std::fs::File::open(path).unwrap();
            // SAFETY: a valid descriptor of a network namespace; this
            // thread alone moves into it.
            let moved = unsafe { libc::setns(namespace.as_raw_fd(), libc::CLONE_NEWNET) };
            assert_eq!(moved, 0, "setns: {}", std::io::Error::last_os_error());
            let socket = UdpSocket::bind((from, 0)).unwrap();
            socket.set_read_timeout(Some(PATIENCE)).unwrap();
            socket.send_to(&question, server).unwrap();
            let mut answer = [0u8; 4096];
            let (size, _) = socket.recv_from(&mut answer).unwrap();
            Message::from_vec(&answer[..size]).unwrap()
        })
        .join()
        .unwrap()
    }
}

impl Drop for Link {
    fn drop(&mut self) {
        // Deleting the namespace deletes the pair with it.
        let _ = ip(&["netns", "del", &self.namespace]);
        let _ = ip(&["link", "del", &self.near]);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("ip: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

fn config(veth: SocketAddr, veth6: SocketAddr, leases: &str) -> String {
    format!(
        r#"[server]
listen = ["LISTEN", "{veth}", "{veth6}"]
allow_networks = ["127.0.0.0/8", "198.18.213.0/24", "fd00:213::/64"]
rate_limit_qps = 0

[upstream]
servers = ["127.0.0.1:9"]
timeout_ms = 200
attempts = 1

[categories.gambling]
sources = ["gambling.txt"]

[categories.pornography]
sources = ["adult.txt"]

[[groups]]
name = "pupils"
networks = ["198.18.213.0/24"]
block = ["gambling", "pornography"]

[[groups]]
name = "staff"
block = ["gambling", "pornography"]

[[groups]]
name = "guests"
block = ["gambling", "pornography"]

[[clients]]
name = "sam-tablet"
mac = "{KNOWN_MAC}"
group = "staff"

[devices]
unknown_group = "guests"
dhcp_leases = [{leases}]

[logging]
database = "hedge.db"
repeat_window_secs = 0

[alerts]
syslog = false
"#
    )
}

const GAMBLING: &str = "bet.test.example\n";

/// dnsmasq's format: expiry, MAC, address, host name, client id.
fn dnsmasq_leases() -> String {
    format!("1764547200 {KNOWN_MAC} 198.18.213.2 sams-ipad 01:{KNOWN_MAC}\n")
}

/// Kea's memfile CSV, as kea-dhcp4 writes it.
fn kea_leases() -> String {
    format!(
        "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context,pool_id\n\
         198.18.213.4,{UNKNOWN_MAC},,4000,1764550000,1,0,0,visitor-phone,0,,0\n"
    )
}

/// ISC dhcpd's lease blocks.
const DHCPD_LEASES: &str = "# This lease file was written by isc-dhcp-4.4.3-P1\n\
authoring-byte-order little-endian;\n\n\
lease 198.18.213.9 {\n  starts 1 2026/11/30 09:00:00;\n  binding state active;\n  \
hardware ethernet 02:00:5e:10:00:09;\n  client-hostname \"library-pc\";\n}\n";

/// The query-log rows of the device with `mac`, once rows for each of
/// `names` are written. (Whether a warm-up query's row carries the MAC
/// address depends on when the kernel learnt it: those are not counted.)
async fn rows_of(hedge: &Hedge, mac: &str, names: &[&str]) -> Vec<Value> {
    wait_until(&format!("log rows of {mac} for {names:?}"), || {
        let rows: Vec<Value> =
            serde_json::from_str(&hedge.ok(&["logs", "search", "--json", "--mac", mac])).unwrap();
        names
            .iter()
            .all(|name| rows.iter().any(|row| row["name"] == *name))
            .then_some(rows)
    })
    .await
}

#[tokio::test]
async fn devices_are_known_by_mac_through_a_real_link() {
    let link = match Link::create() {
        Ok(link) => link,
        Err(why) => {
            eprintln!("skipped: {why}");
            return;
        }
    };
    let veth = free_addr(format!("{HEDGE_SIDE}:0").parse().unwrap());
    let veth6 = free_addr(format!("[{HEDGE_SIDE_V6}]:0").parse().unwrap());
    let hedge = Hedge::start_with(
        &config(
            veth,
            veth6,
            "\"dnsmasq.leases\", \"kea-leases4.csv\", \"dhcpd.leases\"",
        ),
        &[
            ("gambling.txt", GAMBLING),
            ("adult.txt", "adult.test.example\n"),
            ("dnsmasq.leases", &dnsmasq_leases()),
            ("kea-leases4.csv", &kea_leases()),
            ("dhcpd.leases", DHCPD_LEASES),
        ],
    )
    .await;
    hedge.wait_for_database().await;
    // Searches are the safeguarding lead's, whose OS account this is.
    hedge.person("A. Lead", &["safeguarding"]);
    for (file, format) in [
        ("dnsmasq.leases", "dnsmasq"),
        ("kea-leases4.csv", "Kea CSV"),
        ("dhcpd.leases", "ISC dhcpd"),
    ] {
        hedge
            .wait_for_log(&format!("{file} ({format}): 1 named device(s)"))
            .await;
    }

    // The first packet from an address makes the kernel learn the device
    // there (hedge's answer needs its MAC address); hedge follows.
    link.ask("198.18.213.2", veth, "warm-up.test.example");
    hedge
        .wait_for_log(&format!("device {KNOWN_MAC} at 198.18.213.2"))
        .await;
    assert!(
        hedge.status()["neighbours"].as_u64() >= Some(1),
        "{}",
        hedge.status()
    );
    assert!(hedge.ok(&["status"]).contains("MAC addresses known at"));
    let answer = link.ask("198.18.213.2", veth, "first.test.example");
    assert_eq!(answer.queries[0].name().to_ascii(), "first.test.example.");

    // The same device at a new address keeps its group.
    link.inside(&["addr", "add", "198.18.213.3/24", "dev", &link.far])
        .unwrap();
    link.ask("198.18.213.3", veth, "warm-up.test.example");
    hedge
        .wait_for_log(&format!("device {KNOWN_MAC} at 198.18.213.3"))
        .await;
    link.ask("198.18.213.3", veth, "bet.test.example");

    let rows = rows_of(
        &hedge,
        KNOWN_MAC,
        &["first.test.example", "bet.test.example"],
    )
    .await;
    let first = rows
        .iter()
        .find(|r| r["name"] == "first.test.example")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(first["client"], "198.18.213.2");
    assert_eq!(first["group"], "staff", "{first}");
    assert_eq!(first["mac"], KNOWN_MAC);
    assert_eq!(first["client_name"], "sam-tablet");
    assert_eq!(first["dhcp_name"], "sams-ipad");
    let moved = rows
        .iter()
        .find(|r| r["name"] == "bet.test.example")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(moved["client"], "198.18.213.3");
    assert_eq!(moved["group"], "staff", "not the network's pupils: {moved}");
    assert_eq!(moved["action"], "blocked");

    // Over IPv6 the neighbour-discovery entry tells the same device.
    link.ask("fd00:213::2", veth6, "warm-up.test.example");
    hedge
        .wait_for_log(&format!("device {KNOWN_MAC} at fd00:213::2"))
        .await;
    link.ask("fd00:213::2", veth6, "six.test.example");
    let rows = rows_of(&hedge, KNOWN_MAC, &["six.test.example"]).await;
    let six = rows
        .iter()
        .find(|r| r["name"] == "six.test.example")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(six["client"], "fd00:213::2");
    assert_eq!(six["group"], "staff", "{six}");

    let table = hedge.ok(&["logs", "search", "--mac", KNOWN_MAC]);
    assert!(
        table.contains(&format!("198.18.213.3 (sam-tablet, {KNOWN_MAC})")),
        "{table}"
    );
    let csv = hedge.ok(&["logs", "search", "--csv", "--mac", KNOWN_MAC]);
    assert!(
        csv.lines().next().unwrap().ends_with(",mac,dhcp_name")
            && csv.contains(&format!(",{KNOWN_MAC},sams-ipad")),
        "{csv}"
    );

    // Another device (a new MAC address at a new address): no client names
    // it, so unknown_group, not the network's group.
    link.inside(&["link", "set", &link.far, "down"]).unwrap();
    link.inside(&["link", "set", &link.far, "address", UNKNOWN_MAC])
        .unwrap();
    link.inside(&["link", "set", &link.far, "up"]).unwrap();
    link.inside(&["addr", "add", "198.18.213.4/24", "dev", &link.far])
        .unwrap();
    link.ask("198.18.213.4", veth, "warm-up.test.example");
    hedge
        .wait_for_log(&format!("device {UNKNOWN_MAC} at 198.18.213.4"))
        .await;
    link.ask("198.18.213.4", veth, "visitor.test.example");
    let rows = rows_of(&hedge, UNKNOWN_MAC, &["visitor.test.example"]).await;
    let visitor = rows
        .iter()
        .find(|r| r["name"] == "visitor.test.example")
        .unwrap_or_else(|| panic!("{rows:#?}"));
    assert_eq!(visitor["group"], "guests", "{visitor}");
    assert_eq!(
        visitor["client_name"],
        serde_json::Value::Null,
        "a DHCP name is never taken for a configured one"
    );
    assert_eq!(visitor["dhcp_name"], "visitor-phone");

    // A safeguarding alert names the device by its DHCP name and MAC.
    link.ask("198.18.213.4", veth, "adult.test.example");
    let alerts = wait_until("an alert", || {
        let alerts: Vec<Value> =
            serde_json::from_str(&hedge.ok(&["alerts", "list", "--json"])).unwrap();
        (!alerts.is_empty()).then_some(alerts)
    })
    .await;
    assert_eq!(alerts[0]["mac"], UNKNOWN_MAC, "{alerts:#?}");
    assert_eq!(alerts[0]["client_name"], "visitor-phone [DHCP name]");
    assert_eq!(alerts[0]["group"], "guests");
    let table = hedge.ok(&["alerts", "list"]);
    assert!(
        table.contains(&format!(
            "visitor-phone [DHCP name] (198.18.213.4, {UNKNOWN_MAC})"
        )),
        "{table}"
    );

    // The device list: both devices, with addresses, names and groups.
    let devices: Vec<Value> =
        serde_json::from_str(&hedge.ok(&["devices", "list", "--json"])).unwrap();
    let device = |mac: &str| {
        devices
            .iter()
            .find(|d| d["mac"] == mac)
            .unwrap_or_else(|| panic!("{mac} not in {devices:#?}"))
            .clone()
    };
    let sam = device(KNOWN_MAC);
    assert_eq!(sam["address"], "fd00:213::2");
    assert_eq!(sam["last_address"], "198.18.213.3");
    assert_eq!(sam["dhcp_name"], "sams-ipad");
    assert_eq!(sam["configured_name"], "sam-tablet");
    assert_eq!(sam["group"], "staff");
    assert!(sam["first"].as_str().unwrap() <= sam["last"].as_str().unwrap());
    let visitor = device(UNKNOWN_MAC);
    assert_eq!(visitor["address"], "198.18.213.4");
    assert_eq!(visitor["last_address"], Value::Null);
    assert_eq!(visitor["dhcp_name"], "visitor-phone");
    assert_eq!(visitor["configured_name"], Value::Null);
    assert_eq!(visitor["group"], "guests");
    // A lease of a device never seen asking names nobody in the list.
    assert_eq!(devices.len(), 2, "{devices:#?}");

    let csv = hedge.ok(&["devices", "list", "--csv"]);
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("mac,address,last_address,dhcp_name,configured_name,group,first_seen,last_seen")
    );
    assert!(
        csv.contains(&format!(
            "{KNOWN_MAC},fd00:213::2,198.18.213.3,sams-ipad,sam-tablet,staff,"
        )),
        "{csv}"
    );
    let table = hedge.ok(&["devices", "list"]);
    assert!(
        table.contains("sam-tablet") && table.contains(UNKNOWN_MAC),
        "{table}"
    );

    // A lease file rewritten is read again.
    std::fs::write(
        hedge.path("kea-leases4.csv"),
        kea_leases().replace("visitor-phone", "hall-laptop"),
    )
    .unwrap();
    wait_until("the new DHCP name", || {
        let devices: Vec<Value> =
            serde_json::from_str(&hedge.ok(&["devices", "list", "--json"])).unwrap();
        devices
            .iter()
            .any(|d| d["mac"] == UNKNOWN_MAC && d["dhcp_name"] == "hall-laptop")
            .then_some(())
    })
    .await;

    // hedge explain says which rule matched, from the same neighbour table.
    let explained = hedge.ok(&[
        "explain",
        "bet.test.example",
        "--client",
        "198.18.213.9",
        "--mac",
        KNOWN_MAC,
    ]);
    assert!(
        explained.contains("group staff") && explained.contains("by MAC address"),
        "{explained}"
    );
    let explained = hedge.ok(&["explain", "bet.test.example", "--client", "198.18.213.4"]);
    assert!(
        explained.contains(&format!("MAC {UNKNOWN_MAC} (from the neighbour table)"))
            && explained.contains("group guests")
            && explained.contains("unknown_group"),
        "{explained}"
    );
    drop(hedge);
    drop(link);
}
