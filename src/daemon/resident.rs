//! What the daemon keeps resident. Freed heap goes back to the system after a large one-off
//! job (glibc keeps it otherwise, and a daemon lives long); and once started, the pages of
//! haldir's own code that start-up touched (argument parsing, reading and validating the
//! file, the first reconcile) are let go: the kernel maps back, from the page cache, only
//! what runs afterwards. Measured with scripts/bench/idle: a VRRP-only daemon held 5.7 MiB of
//! its code resident after start.

/// Keeps the daemon's memory in small pages. Debian's cloud kernel (THP "always") backs
/// anonymous memory with transparent huge pages whenever it can: a 2 MiB page stays resident whole however little
/// of it is used, and a daemon's heap is small, sparse and long-lived. Measured with 10,000
/// TCP checks (scripts/bench/checks-load): 34 of the heap's 36 MiB were huge pages. A failure
/// (an old kernel) only leaves the pages as they were.
pub fn small_pages() {
    // SAFETY: PR_SET_THP_DISABLE sets a flag of this process; no memory is involved.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Returns freed heap pages to the kernel.
pub fn release_memory() {
    #[cfg(target_env = "gnu")]
    // SAFETY: malloc_trim only returns free heap pages to the kernel; mallinfo2 only reads the
    // allocator's counters.
    unsafe {
        let before = libc::mallinfo2();
        libc::malloc_trim(0);
        let after = libc::mallinfo2();
        tracing::debug!(
            in_use = after.uordblks,
            free = after.fordblks,
            mapped = after.hblkhd,
            heap = after.arena,
            free_before = before.fordblks,
            "heap trimmed"
        );
    }
}

/// The start and end of the executable's code mappings (`r-xp`), from /proc/self/maps lines
/// as the kernel writes them. Only code: a read-only data mapping may hold pages the loader
/// wrote (relocations, then made read-only), which dropping would undo.
pub fn code_ranges(maps: &str, exe: &str) -> Vec<(usize, usize)> {
    maps.lines()
        .filter_map(|line| {
            let mut f = line.split_whitespace();
            let range = f.next()?;
            let perms = f.next()?;
            let path = f.nth(3)?;
            if path != exe || perms != "r-xp" {
                return None;
            }
            let (a, b) = range.split_once('-')?;
            Some((
                usize::from_str_radix(a, 16).ok()?,
                usize::from_str_radix(b, 16).ok()?,
            ))
        })
        .collect()
}

/// Lets go of the resident pages of haldir's own code: they are clean and file-backed, so the
/// kernel drops them and faults back in only what runs. Not with `no_swap` (locked pages
/// stay). Failures are harmless: the pages just stay.
pub fn release_code(config: &crate::config::Config) {
    if config.global.no_swap {
        return;
    }
    let (Ok(maps), Ok(exe)) = (
        std::fs::read_to_string("/proc/self/maps"),
        std::fs::read_link("/proc/self/exe"),
    ) else {
        return;
    };
    for (start, end) in code_ranges(&maps, &exe.to_string_lossy()) {
        // SAFETY: the range is the executable's code, a private file-backed mapping never
        // written:
        // MADV_DONTNEED drops its page table entries, and the next access reads the same
        // bytes from the file again. No memory the program wrote is in it.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_executables_code() {
        let maps = "\
55d0a0000000-55d0a0100000 r--p 00000000 08:01 123 /usr/bin/haldir
55d0a0100000-55d0a0900000 r-xp 00100000 08:01 123 /usr/bin/haldir
55d0a0900000-55d0a0a00000 r--p 00900000 08:01 123 /usr/bin/haldir
55d0a0a00000-55d0a0a10000 rw-p 00a00000 08:01 123 /usr/bin/haldir
7f0000000000-7f0000100000 r-xp 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
";
        assert_eq!(
            code_ranges(maps, "/usr/bin/haldir"),
            vec![(0x55d0a0100000, 0x55d0a0900000)]
        );
    }
}
