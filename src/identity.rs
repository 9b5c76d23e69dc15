//! The uid and gid a script runs as, from "user" or "user:group" (keepalived's
//! `script_user USER [GROUP]` and a script's own `USER [GROUP]`): the user's own group unless
//! one is named. Looked up with the reentrant getpwnam_r/getgrnam_r, so any thread may ask.

use std::ffi::CString;
use std::io;

use crate::config::model::split_identity;

/// The user and group a script runs as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub uid: u32,
    pub gid: u32,
}

/// `None` for "root" alone: scripts then run as haldir itself, root.
pub(crate) fn resolve(spec: &str) -> io::Result<Option<Identity>> {
    let (user, group) = split_identity(spec);
    if user == "root" && group.is_none() {
        return Ok(None);
    }
    let (uid, own_gid) = user_ids(user)?;
    let gid = match group {
        Some(g) => group_id(g)?,
        None => own_gid,
    };
    Ok(Some(Identity { uid, gid }))
}

fn cstring(name: &str) -> io::Result<CString> {
    CString::new(name).map_err(|_| io::Error::other("name has a NUL byte"))
}

/// A user's uid and own gid.
pub(crate) fn user_ids(name: &str) -> io::Result<(u32, u32)> {
    let c = cstring(name)?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: passwd is plain data; getpwnam_r fills it with pointers into `buf`, which
    // outlives every read below.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; the length is buf's.
    let rc = unsafe {
        libc::getpwnam_r(
            c.as_ptr(),
            &mut pw,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    answer(rc, found.is_null(), "user", name)?;
    Ok((pw.pw_uid, pw.pw_gid))
}

/// A group's gid.
pub(crate) fn group_id(name: &str) -> io::Result<u32> {
    let c = cstring(name)?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: as in user_ids, with struct group.
    let mut gr: libc::group = unsafe { std::mem::zeroed() };
    let mut found: *mut libc::group = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; the length is buf's.
    let rc = unsafe {
        libc::getgrnam_r(
            c.as_ptr(),
            &mut gr,
            buf.as_mut_ptr().cast(),
            buf.len(),
            &mut found,
        )
    };
    answer(rc, found.is_null(), "group", name)?;
    Ok(gr.gr_gid)
}

/// The outcome of a get*nam_r call: its error, or none found.
fn answer(rc: i32, none: bool, what: &str, name: &str) -> io::Result<()> {
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    if none {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no {what} named {name}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_and_groups() {
        assert_eq!(resolve("root").unwrap(), None);
        let root = Identity { uid: 0, gid: 0 };
        assert_eq!(resolve("root:root").unwrap(), Some(root));
        assert_eq!(resolve("root:daemon").unwrap().map(|i| i.uid), Some(0));
        assert_ne!(resolve("root:daemon").unwrap(), Some(root));
        assert!(resolve("no-such-user-here").is_err());
        assert!(resolve("root:no-such-group-here").is_err());
    }
}
