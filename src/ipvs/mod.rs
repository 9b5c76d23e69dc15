//! IPVS over generic netlink: the data model ([`types`]), the framing ([`wire`]) and the
//! messages ([`codec`]) are pure; [`client`] is the socket.

pub mod client;
pub mod codec;
pub mod render;
pub mod types;
pub mod wire;
