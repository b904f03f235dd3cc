//! Keeping the server's memory to what serving needs: the C allocator's
//! settings, and the pages of hedge's own program that only start-up ran.
//!
//! **Large blocks.** glibc's malloc gives a request of 128 KiB or more a
//! mapping of its own, returned to the system when freed; but each time
//! such a block is freed it raises that threshold to the block's size (up
//! to 32 MiB). After start-up has freed the lists' scratch space, every
//! later buffer below a few megabytes (the waiting rows' ring as it grows,
//! the writer's batches, SQLite's) comes from the heap, where once freed it
//! stays as free space between smaller blocks that live on. hedge fixes the
//! threshold at 128 KiB (benches/README.md, "Memory": 2 to 3 MB less held
//! after a run at full speed, the same CPU per query).
//!
//! **Start-up code.** Starting reads the configuration, opens and migrates
//! the database, parses the lists and builds the index: megabytes of
//! machine code that serving does not run (a reload runs some of it again
//! and maps it back). The kernel keeps every page of the program a process
//! has touched mapped for as long as it lives (in 64 KB runs around each
//! page), so that code would stay in hedge's resident memory. Once hedge
//! answers, it asks the kernel to reclaim the program's pages
//! (`MADV_PAGEOUT`, Linux 5.4 and later), as the kernel frees its own
//! start-up code after boot; the pages serving uses come back at their
//! first use. Only pages that are still copies of the program file are
//! advised, so nothing is lost or sent to swap: a page needed again is
//! mapped from the page cache, or read back from the file. Pages another
//! process maps too stay.

use std::io;

/// hedge's program pages in memory before and after the advice, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Released {
    pub before_kib: u64,
    pub after_kib: u64,
}

/// Fixes malloc's threshold for a mapping of its own at 128 KiB. Call it
/// before the server starts its threads.
pub fn set_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: only changes malloc's settings, which glibc guards itself.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, LARGE_BLOCK as libc::c_int);
    }
}

/// Blocks this large or larger get a mapping of their own.
const LARGE_BLOCK: usize = 128 * 1024;

/// Advises the kernel to reclaim the pages of the running program that
/// are copies of its file (code and constant data), and says how much of
/// the program was resident before and after.
///
/// Every such mapping is advised even if one fails; the first failure is
/// returned.
pub fn release_startup_code() -> io::Result<Released> {
    let mappings = program_mappings()?;
    if mappings.is_empty() {
        return Err(io::Error::other(
            "no mapping of the program file in /proc/self/smaps",
        ));
    }
    let before_kib = mappings.iter().map(|m| m.resident_kib).sum();
    let mut failed = None;
    // Relocated read-only data (a position-independent program's) was
    // written at start: not a copy of the file, so it is left alone
    // rather than sent to swap.
    for mapping in mappings
        .iter()
        .filter(|m| m.read_only && m.written_kib == 0)
    {
        // SAFETY: the range is a whole read-only mapping of this process's
        // own program file, all of it still a copy of the file: reclaimed
        // pages are read back from the file when next touched.
        let done = unsafe {
            libc::madvise(
                mapping.start as *mut libc::c_void,
                mapping.end - mapping.start,
                libc::MADV_PAGEOUT,
            )
        };
        if done != 0 && failed.is_none() {
            failed = Some(io::Error::last_os_error());
        }
    }
    if let Some(error) = failed {
        return Err(error);
    }
    Ok(Released {
        before_kib,
        after_kib: program_mappings()?.iter().map(|m| m.resident_kib).sum(),
    })
}

/// One mapping of the program file.
#[derive(Debug)]
struct ProgramMapping {
    start: usize,
    end: usize,
    read_only: bool,
    resident_kib: u64,
    /// Pages written since they were mapped (smaps' `Anonymous`).
    written_kib: u64,
}

/// The mappings of the program's own file, from `/proc/self/smaps`. The
/// file is known by its device and inode: its path may hold spaces, or end
/// in ` (deleted)` once an upgrade has replaced it.
fn program_mappings() -> io::Result<Vec<ProgramMapping>> {
    use std::os::unix::fs::MetadataExt;
    let program = std::fs::metadata("/proc/self/exe")?;
    let file = (
        libc::major(program.dev()),
        libc::minor(program.dev()),
        program.ino(),
    );
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut mappings: Vec<ProgramMapping> = Vec::new();
    let mut ours = false;
    for line in smaps.lines() {
        if let Some(header) = MappingHeader::parse(line) {
            ours = header.file == file;
            if ours {
                mappings.push(ProgramMapping {
                    start: header.start,
                    end: header.end,
                    read_only: header.read_only,
                    resident_kib: 0,
                    written_kib: 0,
                });
            }
            continue;
        }
        let Some(mapping) = mappings.last_mut().filter(|_| ours) else {
            continue;
        };
        let mut fields = line.split_whitespace();
        let name = fields.next();
        let kib = fields.next().and_then(|kib| kib.parse::<u64>().ok());
        match name {
            Some("Rss:") => mapping.resident_kib = kib.unwrap_or(0),
            Some("Anonymous:") => mapping.written_kib = kib.unwrap_or(0),
            _ => {}
        }
    }
    Ok(mappings)
}

/// The first line of a mapping in `/proc/PID/smaps` (as in `maps`):
/// `start-end perms offset major:minor inode [path]`.
struct MappingHeader {
    start: usize,
    end: usize,
    read_only: bool,
    file: (u32, u32, u64),
}

impl MappingHeader {
    fn parse(line: &str) -> Option<MappingHeader> {
        let mut fields = line.split_whitespace();
        let (start, end) = fields.next()?.split_once('-')?;
        let permissions = fields.next()?.as_bytes();
        let _offset = fields.next()?;
        let (major, minor) = fields.next()?.split_once(':')?;
        let inode = fields.next()?.parse().ok()?;
        Some(MappingHeader {
            start: usize::from_str_radix(start, 16).ok()?,
            end: usize::from_str_radix(end, 16).ok()?,
            read_only: permissions.len() == 4 && permissions[0] == b'r' && permissions[1] == b'-',
            file: (
                u32::from_str_radix(major, 16).ok()?,
                u32::from_str_radix(minor, 16).ok()?,
                inode,
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[test]
    fn a_large_block_keeps_its_own_mapping_after_a_larger_one_is_freed() {
        set_allocator();
        // SAFETY: plain malloc and free of blocks used for nothing else.
        let usable = unsafe {
            // Without the fixed threshold, freeing this raises it to 16 MiB
            // and the next block comes from the heap.
            libc::free(libc::malloc(16 << 20));
            let block = libc::malloc(2 * LARGE_BLOCK);
            let usable = libc::malloc_usable_size(block);
            libc::free(block);
            usable
        };
        // A mapping is whole pages, a heap block 8 bytes more at most.
        assert!(
            usable >= 2 * LARGE_BLOCK + 4000,
            "{usable} bytes: from the heap"
        );
    }

    #[test]
    fn mapping_headers_are_told_from_the_other_lines() {
        let header = MappingHeader::parse(
            "55d3b10dc000-55d3b2078000 r-xp 00a13000 fd:01 1311521  /opt/my hedge/hedge (deleted)",
        )
        .unwrap();
        assert_eq!((header.start, header.end), (0x55d3b10dc000, 0x55d3b2078000));
        assert!(header.read_only);
        assert_eq!(header.file, (0xfd, 1, 1311521));
        let written = MappingHeader::parse("7f00-7f10 rw-p 00000000 00:00 0").unwrap();
        assert!(!written.read_only);
        for other in [
            "Rss:                 412 kB",
            "VmFlags: rd ex mr mw me",
            "THPeligible:    0",
        ] {
            assert!(MappingHeader::parse(other).is_none(), "{other}");
        }
    }

    #[test]
    fn the_program_is_found_and_its_pages_given_back() {
        let mappings = program_mappings().unwrap();
        assert!(mappings.iter().any(|m| m.read_only), "{mappings:?}");
        assert!(mappings.iter().all(|m| m.start < m.end));
        let released = match release_startup_code() {
            Err(error) if error.raw_os_error() == Some(libc::EINVAL) => {
                eprintln!("skipped: this kernel has no MADV_PAGEOUT ({error})");
                return;
            }
            other => other.unwrap(),
        };
        assert!(released.before_kib > 0, "{released:?}");
        assert!(released.after_kib < released.before_kib, "{released:?}");
    }
}
