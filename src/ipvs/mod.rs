//! IPVS over generic netlink: the data model ([`types`]) and the messages ([`codec`], framed
//! by [`crate::netlink::wire`]) are pure; [`client`] talks to the kernel over a
//! [`crate::netlink::socket::Socket`].

pub mod client;
pub mod codec;
pub(crate) mod render;
pub mod types;
