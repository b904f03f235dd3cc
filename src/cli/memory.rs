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
//! machine code that serving never runs again. The kernel keeps every page
//! of the program a process has touched mapped for as long as it lives (in
//! 64 KB runs around each page), so that code would stay in hedge's
//! resident memory. Once hedge answers, it asks the kernel to reclaim the
//! program's pages (`MADV_PAGEOUT`, Linux 5.4 and later), as the kernel
//! frees its own start-up code after boot; the pages serving uses come back
//! at their first use. They are clean copies of the program file, so
//! nothing is lost: a page needed again is mapped from the page cache, or
//! read back from the file. Pages another process maps too stay.

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

/// Advises the kernel to reclaim every page of the running program that is
/// mapped from its file, and says how much of it was resident before and
/// after.
pub fn release_startup_code() -> io::Result<Released> {
    let before_kib = resident_kib()?;
    for (start, end) in program_mappings()? {
        // SAFETY: the range is a whole mapping of this process's own
        // program file, read-only; MADV_PAGEOUT only drops clean pages,
        // which the kernel reads back from the file when next touched.
        let done =
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_PAGEOUT) };
        if done != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(Released {
        before_kib,
        after_kib: resident_kib()?,
    })
}

/// The address ranges mapped read-only from the program's own file (its
/// code and constant data), from `/proc/self/maps`.
fn program_mappings() -> io::Result<Vec<(usize, usize)>> {
    let program = std::fs::read_link("/proc/self/exe")?;
    let maps = std::fs::read_to_string("/proc/self/maps")?;
    Ok(maps
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            let range = fields.next()?;
            let permissions = fields.next()?;
            let path = fields.nth(3)?;
            let read_only =
                permissions.starts_with('r') && permissions.as_bytes().get(1) == Some(&b'-');
            if !read_only || std::path::Path::new(path) != program {
                return None;
            }
            let (start, end) = range.split_once('-')?;
            Some((
                usize::from_str_radix(start, 16).ok()?,
                usize::from_str_radix(end, 16).ok()?,
            ))
        })
        .collect())
}

/// How much of the program file is resident, from `/proc/self/smaps`.
fn resident_kib() -> io::Result<u64> {
    let program = std::fs::read_link("/proc/self/exe")?;
    let smaps = std::fs::read_to_string("/proc/self/smaps")?;
    let mut ours = false;
    let mut total = 0;
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && first.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            ours = fields
                .nth(4)
                .is_some_and(|p| std::path::Path::new(p) == program);
        } else if ours && first == "Rss:" {
            total += fields
                .next()
                .and_then(|kib| kib.parse::<u64>().ok())
                .unwrap_or(0);
        }
    }
    Ok(total)
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
    fn the_program_is_found_and_its_pages_given_back() {
        let mappings = program_mappings().unwrap();
        assert!(!mappings.is_empty(), "no read-only mapping of the program");
        assert!(mappings.iter().all(|(start, end)| start < end));
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
