//! What the daemon keeps resident. Freed heap goes back to the system after a large one-off
//! job (glibc keeps it otherwise, and a daemon lives long); and once started, the pages of
//! haldir's own code that start-up touched (argument parsing, reading and validating the
//! file, the first reconcile) are let go: the kernel maps back, from the page cache, only
//! what runs afterwards; so are the libraries' code and every read-only mapping the loader
//! did not write (the figures are in docs/performance.md).

use std::sync::OnceLock;

/// Keeps the daemon's memory in small pages. Debian's cloud kernel (THP "always") backs
/// anonymous memory with transparent huge pages whenever it can: a 2 MiB page stays resident whole however little
/// of it is used, and a daemon's heap is small, sparse and long-lived (docs/performance.md).
/// A failure (an old kernel) only leaves the pages as they were.
pub(super) fn small_pages() {
    // SAFETY: PR_SET_THP_DISABLE sets a flag of this process; no memory is involved.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}

/// Returns freed heap pages to the kernel.
pub(super) fn release_memory() {
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

/// The file mappings the process started with, read before any thread runs: the executable
/// and the libraries the loader mapped before `main`, which are never unmapped. Only these
/// are let go: a library being loaded while the maps are read (a name-service module for a
/// check's host name) first maps its whole length read-only, then maps its segments over it
/// and writes their relocations, and dropping the range read a moment before would undo them.
static AT_START: OnceLock<Vec<(usize, usize)>> = OnceLock::new();

/// Notes the mappings the process started with; call before the first thread starts.
pub(super) fn note_start_mappings() {
    let ranges = std::fs::read_to_string("/proc/self/maps")
        .map(|maps| {
            maps.lines()
                .filter_map(header)
                .filter_map(|h| h.candidate.then_some(h.range))
                .collect()
        })
        .unwrap_or_default();
    let _ = AT_START.set(ranges);
}

/// The mappings whose resident pages can be let go and read back as they were: among those
/// the process started with (`at_start`), private, read-only and backed by a file, in pages of
/// the base size, with no page of their own, in memory or in swap (`Anonymous: 0 kB`,
/// `Swap: 0 kB` in /proc/self/smaps). That is haldir's code and read-only data and its
/// libraries'; a read-only mapping the loader wrote (the relocated part of a binary, made
/// read-only after) holds anonymous pages, which dropping would undo, and is left alone.
pub(super) fn clean_file_ranges(
    smaps: &str,
    at_start: &[(usize, usize)],
    page_kb: usize,
) -> Vec<(usize, usize)> {
    let page = format!("{page_kb} kB");
    let mut out = Vec::new();
    let mut current: Option<Candidate> = None;
    for line in smaps.lines() {
        if let Some(h) = header(line) {
            out.extend(current.take().and_then(Candidate::clean));
            current = (h.candidate && at_start.contains(&h.range)).then_some(Candidate {
                range: h.range,
                fields: 0,
            });
            continue;
        }
        let Some(c) = current.as_mut() else { continue };
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match name {
            "Anonymous" | "Swap" if value == "0 kB" => c.fields += 1,
            "KernelPageSize" | "MMUPageSize" if value == page => c.fields += 1,
            _ => {}
        }
    }
    out.extend(current.and_then(Candidate::clean));
    out
}

/// A mapping being read from smaps, and how many of its four conditions hold.
struct Candidate {
    range: (usize, usize),
    fields: u8,
}

impl Candidate {
    fn clean(self) -> Option<(usize, usize)> {
        (self.fields == 4).then_some(self.range)
    }
}

/// A mapping's header line, with whether it may be let go at all (readable, not writable,
/// private, file-backed); None for a field line.
struct Header {
    range: (usize, usize),
    candidate: bool,
}

fn header(line: &str) -> Option<Header> {
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
    Some(Header {
        range: (start, end),
        candidate,
    })
}

/// Lets go of the resident pages of code and read-only data (haldir's and its libraries'):
/// they are clean and file-backed, so the kernel drops them and faults back in, from the page
/// cache, only what runs. Not with `no_swap` (locked pages stay). Failures are harmless: the
/// pages just stay.
pub(super) fn release_code(config: &crate::config::Config) {
    if config.global.no_swap {
        return;
    }
    let (Some(at_start), Ok(smaps)) = (AT_START.get(), std::fs::read_to_string("/proc/self/smaps"))
    else {
        return;
    };
    // SAFETY: sysconf has no memory arguments.
    let page_kb =
        usize::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096) / 1024;
    for (start, end) in clean_file_ranges(&smaps, at_start, page_kb) {
        // SAFETY: the range is a private, read-only, file-backed mapping the process started
        // with and never unmaps, with no anonymous page in memory or in swap: MADV_DONTNEED
        // drops its page table entries, and the next access reads the same bytes from the
        // file again. No memory the program wrote is in it.
        unsafe {
            libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_DONTNEED);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One smaps entry: header, then the fields that matter here.
    fn entry(range: &str, perms: &str, path: &str, anon: u32, swap: u32, page_kb: u32) -> String {
        format!(
            "{range} {perms} 00000000 08:01 123 {path}\nRss:                 984 kB\n\
             Anonymous:      {anon} kB\nSwap:           {swap} kB\n\
             KernelPageSize:     {page_kb} kB\nMMUPageSize:        {page_kb} kB\n\
             VmFlags: rd mr mw me\n"
        )
    }

    #[test]
    fn only_clean_read_only_file_mappings_from_the_start() {
        let exe = "/usr/bin/haldir";
        let libc = "/usr/lib/x86_64-linux-gnu/libc.so.6";
        let smaps = [
            entry("1000-2000", "r--p", exe, 0, 0, 4), // read-only data: yes
            entry("2000-3000", "r-xp", exe, 0, 0, 4), // code: yes
            entry("3000-4000", "r--p", exe, 284, 0, 4), // relocated: no
            entry("4000-5000", "r--p", libc, 0, 8, 4), // relocated, swapped out: no
            entry("5000-6000", "rw-p", exe, 12, 0, 4), // writable: no
            entry("6000-7000", "r-xp", libc, 0, 0, 4), // libc's code: yes
            entry("7000-8000", "---p", libc, 0, 0, 4), // a gap: no
            entry("8000-9000", "rw-p", "", 40, 0, 4), // anonymous: no
            entry("9000-a000", "r--s", "/dev/shm/x", 0, 0, 4), // shared: no
            entry("a000-b000", "r-xp", "[vdso]", 0, 0, 4), // not a file: no
            entry("b000-c000", "r-xp", "/dev/hugepages/x", 0, 0, 2048), // huge pages: no
            entry("c000-d000", "r-xp", "/usr/lib/libnss_x.so", 0, 0, 4), // loaded later: no
        ]
        .concat();
        let at_start: Vec<(usize, usize)> =
            (1..0xc).map(|i| (i * 0x1000, (i + 1) * 0x1000)).collect();
        assert_eq!(
            clean_file_ranges(&smaps, &at_start, 4),
            vec![(0x1000, 0x2000), (0x2000, 0x3000), (0x6000, 0x7000)]
        );
    }

    #[test]
    fn this_process_has_its_code_among_them() {
        note_start_mappings();
        let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
        let code = clean_file_ranges(&smaps, AT_START.get().unwrap(), 4);
        let here = this_process_has_its_code_among_them as *const () as usize;
        assert!(
            code.iter().any(|&(a, b)| (a..b).contains(&here)),
            "the test's own code at {here:#x} is in {code:x?}"
        );
    }
}
