//! What the daemon keeps resident. Freed heap goes back to the system after a large one-off
//! job (glibc keeps it otherwise, and a daemon lives long); and once started, the pages of
//! haldir's own code that start-up touched (argument parsing, reading and validating the
//! file, the first reconcile) are let go: the kernel maps back, from the page cache, only
//! what runs afterwards; so are the libraries' code and every read-only mapping the loader
//! did not write. Measured with scripts/bench/idle: a VRRP-only daemon held 5.7 MiB of its
//! code resident after start, then 3.3 MiB of libraries' code and read-only data.

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

/// The mappings whose resident pages can be let go and read back as they were: private,
/// read-only, backed by a file, with no page of their own (`Anonymous: 0 kB` in
/// /proc/self/smaps). That is haldir's code and read-only data and the shared libraries'; a
/// read-only mapping the loader wrote (the relocated part of a binary, made read-only after)
/// holds anonymous pages, which dropping would undo, and is left alone.
pub fn clean_file_ranges(smaps: &str) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(usize, usize)> = None;
    for line in smaps.lines() {
        if let Some(range) = mapping(line) {
            current = range;
        } else if let Some(kb) = line.strip_prefix("Anonymous:")
            && let Some(r) = current.take()
            && kb.trim() == "0 kB"
        {
            out.push(r);
        }
    }
    out
}

/// A mapping's header line: Some(Some(range)) when it is a candidate (private, not writable,
/// readable, file-backed), Some(None) for any other mapping, None for a field line.
fn mapping(line: &str) -> Option<Option<(usize, usize)>> {
    let mut f = line.split_whitespace();
    let (a, b) = f.next()?.split_once('-')?;
    let start = usize::from_str_radix(a, 16).ok()?;
    let end = usize::from_str_radix(b, 16).ok()?;
    let perms = f.next()?.as_bytes();
    let path = f.nth(3);
    let candidate = perms.len() == 4
        && perms[0] == b'r'
        && perms[1] == b'-'
        && perms[3] == b'p'
        && path.is_some_and(|p| p.starts_with('/'));
    Some(candidate.then_some((start, end)))
}

/// Lets go of the resident pages of code and read-only data (haldir's and its libraries'):
/// they are clean and file-backed, so the kernel drops them and faults back in, from the page
/// cache, only what runs. Not with `no_swap` (locked pages stay). Failures are harmless: the
/// pages just stay.
pub fn release_code(config: &crate::config::Config) {
    if config.global.no_swap {
        return;
    }
    let Ok(smaps) = std::fs::read_to_string("/proc/self/smaps") else {
        return;
    };
    for (start, end) in clean_file_ranges(&smaps) {
        // SAFETY: the range is a private, read-only, file-backed mapping with no anonymous
        // page: MADV_DONTNEED drops its page table entries, and the next access reads the
        // same bytes from the file again. No memory the program wrote is in it.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clean_read_only_file_mappings() {
        let smaps = "\
55d0a0000000-55d0a0100000 r--p 00000000 08:01 123 /usr/bin/haldir
Rss:                 984 kB
Anonymous:             0 kB
55d0a0100000-55d0a0900000 r-xp 00100000 08:01 123 /usr/bin/haldir
Anonymous:             0 kB
55d0a0900000-55d0a0a00000 r--p 00900000 08:01 123 /usr/bin/haldir
Anonymous:           284 kB
55d0a0a00000-55d0a0a10000 rw-p 00a00000 08:01 123 /usr/bin/haldir
Anonymous:            12 kB
7f0000000000-7f0000100000 r-xp 00000000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000100000-7f0000110000 ---p 00100000 08:01 456 /usr/lib/x86_64-linux-gnu/libc.so.6
Anonymous:             0 kB
7f0000200000-7f0000300000 rw-p 00000000 00:00 0
Anonymous:            40 kB
7f0000300000-7f0000301000 r--s 00000000 08:01 789 /dev/shm/x
Anonymous:             0 kB
7ffd00000000-7ffd00002000 r-xp 00000000 00:00 0 [vdso]
Anonymous:             0 kB
";
        assert_eq!(
            clean_file_ranges(smaps),
            vec![
                (0x55d0a0000000, 0x55d0a0100000),
                (0x55d0a0100000, 0x55d0a0900000),
                (0x7f0000000000, 0x7f0000100000),
            ]
        );
    }

    #[test]
    fn this_process_has_its_code_among_them() {
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let code = clean_file_ranges(&smaps);
        let here = this_process_has_its_code_among_them as *const () as usize;
        assert!(
            code.iter().any(|&(a, b)| (a..b).contains(&here)),
            "the test's own code at {here:#x} is in {code:x?}"
        );
    }
}
