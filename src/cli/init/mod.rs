//! `hedge init`: writes a first configuration for a kind of setting from a
//! few answers (flags, or questions at a terminal), then checks it as
//! `hedge config check` does. It never replaces a configuration without
//! `--force`, and then keeps the old one beside it.

mod args;
mod config_file;
mod questions;

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

pub use args::InitArgs;

/// Writes the configuration to `path` (the global `-c`).
pub fn run(args: InitArgs, path: &Path) -> Result<()> {
    if path.exists() && !args.force {
        bail!(
            "{} already exists; hedge init does not replace a configuration unless given --force (the old one is then kept as {}.bak)",
            path.display(),
            path.display()
        );
    }
    let interactive = !args.no_questions && std::io::stdin().is_terminal();
    let answers = questions::gather(&args, interactive)?;
    let text = config_file::render(&answers, &args.data_dir, &args.run_dir)?;
    write(path, &text, args.force)?;
    println!(
        "wrote {} for {}",
        path.display(),
        answers.setting.describe()
    );
    super::config_check::run(path).with_context(|| {
        format!(
            "the configuration hedge init wrote does not check; please report this ({})",
            path.display()
        )
    })?;
    println!(
        "next: read it through, then `sudo systemctl enable --now hedge hedge-lists-update.timer` and point your DHCP server's DNS at this machine"
    );
    println!(
        "then add the people who act through hedge, the approvers above among them: `hedge people add NAME --role approver --os-user ACCOUNT` (README: People)"
    );
    Ok(())
}

/// Writes `text` to `path` readable by its owner and group only, through a
/// temporary file; an existing file (with `force`) is kept as `.bak`.
fn write(path: &Path, text: &str, force: bool) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    let temp = path.with_extension("toml.new");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o640)
        .open(&temp)
        .with_context(|| format!("cannot write {}", temp.display()))?;
    file.write_all(text.as_bytes())?;
    file.sync_all()?;
    drop(file);
    // The server (user hedge, in hedge-admin) and the people who run the
    // hedge commands may read it; nobody else.
    chgrp_admin(&temp);
    if path.exists() {
        if !force {
            let _ = std::fs::remove_file(&temp);
            bail!("{} appeared meanwhile; not replaced", path.display());
        }
        let backup = PathBuf::from(format!("{}.bak", path.display()));
        std::fs::rename(path, &backup)
            .with_context(|| format!("cannot keep the old file as {}", backup.display()))?;
        println!("kept the old configuration as {}", backup.display());
    }
    std::fs::rename(&temp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

fn chgrp_admin(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let Ok(name) = std::ffi::CString::new("hedge-admin") else {
        return;
    };
    let Ok(cpath) = std::ffi::CString::new(path.as_os_str().as_bytes()) else {
        return;
    };
    // SAFETY: getgrnam returns a pointer into static storage or null; chown
    // with uid -1 changes only the group (allowed to root, or to an owner
    // who is in the group).
    unsafe {
        let group = libc::getgrnam(name.as_ptr());
        if !group.is_null() {
            libc::chown(cpath.as_ptr(), u32::MAX, (*group).gr_gid);
        }
    }
}
