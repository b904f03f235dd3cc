//! Who is on the other end of the admin socket, and whether they may use it.
//! Users and groups are read from /etc/passwd and /etc/group, which is what
//! a Raspberry Pi or a small server has.

use std::path::Path;

/// A connected peer, from its socket credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
    /// The user name, or `uid N` when it has none.
    pub user: String,
}

impl Peer {
    pub fn new(uid: u32, gid: u32) -> Peer {
        let user = user_name(Path::new("/etc/passwd"), uid).unwrap_or_else(|| format!("uid {uid}"));
        Peer { uid, gid, user }
    }
}

/// The effective uid of this process.
pub fn own_uid() -> Option<u32> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("Uid:"))?;
    line.split_whitespace().nth(2)?.parse().ok()
}

/// The name of the OS account this process runs as, from /etc/passwd.
pub fn own_user_name() -> Option<String> {
    user_name(Path::new("/etc/passwd"), own_uid()?)
}

fn user_name(passwd: &Path, uid: u32) -> Option<String> {
    let text = std::fs::read_to_string(passwd).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() > 2 && fields[2].parse::<u32>().ok() == Some(uid))
            .then(|| fields[0].to_string())
    })
}

/// The gid and member names of an OS group.
pub fn group_entry(group_file: &Path, name: &str) -> Option<(u32, Vec<String>)> {
    let text = std::fs::read_to_string(group_file).ok()?;
    text.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        if fields.len() < 4 || fields[0] != name {
            return None;
        }
        let gid = fields[2].parse().ok()?;
        let members = fields[3]
            .split(',')
            .filter(|m| !m.is_empty())
            .map(str::to_string)
            .collect();
        Some((gid, members))
    })
}

/// Root, the server's own user, and members of `admin_group` may use the
/// socket (membership as primary group or listed member).
pub fn is_allowed(peer: &Peer, admin_group: &str) -> bool {
    if peer.uid == 0 || Some(peer.uid) == own_uid() {
        return true;
    }
    match group_entry(Path::new("/etc/group"), admin_group) {
        Some((gid, members)) => peer.gid == gid || members.contains(&peer.user),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_groups_and_users() {
        let dir = tempfile::TempDir::new().unwrap();
        let group = dir.path().join("group");
        std::fs::write(
            &group,
            "root:x:0:\nhedge-admin:x:990:alice,bob\nother:x:5:\n",
        )
        .unwrap();
        assert_eq!(
            group_entry(&group, "hedge-admin"),
            Some((990, vec!["alice".into(), "bob".into()]))
        );
        assert_eq!(group_entry(&group, "other"), Some((5, vec![])));
        assert_eq!(group_entry(&group, "missing"), None);
        let passwd = dir.path().join("passwd");
        std::fs::write(
            &passwd,
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        assert_eq!(user_name(&passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(user_name(&passwd, 7), None);
    }

    #[test]
    fn root_is_always_allowed() {
        assert!(is_allowed(
            &Peer {
                uid: 0,
                gid: 0,
                user: "root".into()
            },
            "no-such-group"
        ));
        let stranger = Peer {
            uid: 65000,
            gid: 65000,
            user: "stranger".into(),
        };
        if own_uid() != Some(65000) {
            assert!(!is_allowed(&stranger, "no-such-group-hedge-test"));
        }
    }
}
