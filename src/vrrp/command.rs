//! What the daemon asks of an instance, carried to it by VRRP's thread.

/// What the daemon asks of an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Command {
    /// Resign (priority 0), remove the addresses, run the stop notification, and stop: its
    /// scripts may run as long as the daemon waits for them (`Handle::finished`, within the
    /// daemon's one stop budget).
    Shutdown,
    /// A tracked interface or script changed state.
    Track {
        kind: TrackedKind,
        name: String,
        up: bool,
    },
    /// A tracked file holds a new value.
    TrackFile {
        name: String,
        value: i64,
    },
    /// The sync group is in fault because of another member (or no longer is).
    GroupFault(bool),
    /// Another member of the sync group became master, or left master.
    GroupMaster,
    GroupBackup,
}

/// What a tracked object is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TrackedKind {
    Interface,
    Script,
}

impl TrackedKind {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TrackedKind::Interface => "interface",
            TrackedKind::Script => "script",
        }
    }
}
