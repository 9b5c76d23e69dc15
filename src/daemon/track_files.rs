//! The `[[track_file]]`s, watched for the VRRP instances that track them: every change is read
//! as keepalived reads it (trackers/track_file.c: inotify on the file's directory, a missing
//! file reading as 0) and its value sent to the daemon's loop.

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::config::model::TrackFile;
use crate::health::file::{Watch, read};

/// The watches of the tracked files in force.
#[derive(Default)]
pub(super) struct FileTracks {
    files: Vec<TrackFile>,
    tasks: Vec<JoinHandle<()>>,
}

impl FileTracks {
    /// Writes the files whose `init` asks for it: a missing one, or, at start (`reload` false),
    /// a regular file with `overwrite` (keepalived's init_file: never overwritten on a reload).
    /// A symbolic link is never written through.
    pub(super) fn init(files: &[TrackFile], reload: bool) {
        for f in files {
            let Some(init) = f.init else { continue };
            let meta = std::fs::symlink_metadata(&f.file);
            let write = match &meta {
                Err(_) => true,
                Ok(m) => init.overwrite && !reload && m.file_type().is_file(),
            };
            if !write {
                continue;
            }
            if let Err(e) = write_value(&f.file, init.value) {
                warn!(file = %f.file.display(), error = %e, "cannot initialise the track file");
            }
        }
    }

    /// Watches `files`, anew if they changed. Each watch sends the file's value once it is in
    /// place (a write since the instances read it is not lost), then at every change.
    pub(super) fn watch(&mut self, files: &[TrackFile], to: &UnboundedSender<(String, i64)>) {
        if self.files == files {
            return;
        }
        self.stop();
        self.files = files.to_vec();
        for f in files {
            let watch = match Watch::new(&f.file) {
                Ok(w) => w,
                Err(e) => {
                    warn!(track_file = %f.name, file = %f.file.display(), error = %e, "cannot watch the track file: its value stays as read at start");
                    continue;
                }
            };
            self.tasks
                .push(tokio::spawn(follow(watch, f.clone(), to.clone())));
        }
    }

    fn stop(&mut self) {
        for t in self.tasks.drain(..) {
            t.abort();
        }
    }
}

impl Drop for FileTracks {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The value written as keepalived writes it, "%d\n", without following a link put there.
fn write_value(path: &std::path::Path, value: i64) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)?;
    writeln!(f, "{value}")
}

async fn follow(mut watch: Watch, f: TrackFile, to: UnboundedSender<(String, i64)>) {
    loop {
        if to.send((f.name.clone(), read(&f.file))).is_err() {
            return;
        }
        watch.changed().await;
    }
}
