//! VRRP v2 and v3: the packet codec ([`packet`]) and the state machine ([`fsm`]) are pure; the
//! network side moves the addresses and talks to the peers.

pub mod announce;
pub mod fsm;
pub mod instance;
pub mod link;
pub mod packet;
pub mod socket;
