//! Following the kernel's neighbour table over rtnetlink: which MAC
//! address is at which IP address on hedge's own link (ARP entries for
//! IPv4, neighbour-discovery entries for IPv6). hedge dumps the table once
//! and then follows the kernel's change notifications, so a device that
//! moves to a new address is known there as soon as the kernel knows it,
//! with no periodic re-reading; if the kernel drops notifications
//! (`ENOBUFS`), hedge dumps the table again.
//!
//! Needs no privilege: any process may read the table and join its
//! notification group (the unit allows `AF_NETLINK` for it).

use std::io;
use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use netlink_packet_core::{
    NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_packet_route::neighbour::{
    NeighbourAddress, NeighbourAttribute, NeighbourMessage, NeighbourState,
};
use netlink_sys::protocols::NETLINK_ROUTE;
use netlink_sys::{Socket, SocketAddr};
use tracing::{info, warn};

use crate::config::Mac;
use crate::policy::Neighbours;

use super::handler::Handler;

/// The rtnetlink multicast group of neighbour changes (`RTNLGRP_NEIGH`).
const NEIGHBOUR_GROUP: u32 = 3;

/// Why the neighbour table could not be read.
#[derive(Debug, thiserror::Error)]
pub enum NeighbourError {
    #[error("cannot open a netlink socket to read the neighbour table: {0}")]
    Socket(io::Error),
    #[error("cannot read the neighbour table: {0}")]
    Read(io::Error),
    #[error("the kernel refused to list the neighbour table: error {0}")]
    Refused(i32),
}

/// Reads the neighbour table once (for `hedge explain`).
pub fn read_table() -> Result<Neighbours, NeighbourError> {
    let socket = open(false)?;
    let mut table = Neighbours::default();
    request_dump(&socket)?;
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let size = receive(&socket, &mut buffer).map_err(NeighbourError::Read)?;
        if apply(&mut table, &buffer[..size], false)? {
            return Ok(table);
        }
    }
}

/// Follows the neighbour table into `handler` on a thread of its own
/// (blocking reads; the table changes rarely) until the process ends.
/// The first dump is in force before this returns.
pub fn follow(handler: Arc<Handler>) -> Result<(), NeighbourError> {
    let socket = open(true)?;
    let mut table = Neighbours::default();
    let mut buffer = vec![0u8; 64 * 1024];
    request_dump(&socket)?;
    loop {
        let size = receive(&socket, &mut buffer).map_err(NeighbourError::Read)?;
        if apply(&mut table, &buffer[..size], true)? {
            break;
        }
    }
    info!(
        neighbours = table.len(),
        "following the kernel's neighbour table"
    );
    handler.set_neighbours(table.clone());
    handler.neighbours_followed.store(true, Ordering::Relaxed);
    std::thread::Builder::new()
        .name("hedge-neighbours".into())
        .spawn(move || {
            loop {
                match receive(&socket, &mut buffer) {
                    Ok(size) => match apply(&mut table, &buffer[..size], true) {
                        Ok(_) => {}
                        Err(error) => warn!("{error}"),
                    },
                    // Notifications were lost: read the whole table again.
                    Err(error) if error.raw_os_error() == Some(libc::ENOBUFS) => {
                        if let Err(error) = request_dump(&socket) {
                            warn!("{error}; devices are known by address only from now on");
                            handler.neighbours_followed.store(false, Ordering::Relaxed);
                            return;
                        }
                        continue;
                    }
                    Err(error) => {
                        warn!(
                            "{}; devices are known by address only from now on",
                            NeighbourError::Read(error)
                        );
                        handler.neighbours_followed.store(false, Ordering::Relaxed);
                        return;
                    }
                }
                handler.set_neighbours(table.clone());
            }
        })
        .map_err(NeighbourError::Socket)?;
    Ok(())
}

fn open(notifications: bool) -> Result<Socket, NeighbourError> {
    let mut socket = Socket::new(NETLINK_ROUTE).map_err(NeighbourError::Socket)?;
    socket
        .bind(&SocketAddr::new(0, 0))
        .map_err(NeighbourError::Socket)?;
    if notifications {
        socket
            .add_membership(NEIGHBOUR_GROUP)
            .map_err(NeighbourError::Socket)?;
        // Room for a burst of changes (a classroom of tablets waking).
        let _ = socket.set_rx_buf_sz(1 << 20);
    }
    Ok(socket)
}

fn request_dump(socket: &Socket) -> Result<(), NeighbourError> {
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_DUMP | NLM_F_REQUEST;
    let mut request = NetlinkMessage::new(
        header,
        NetlinkPayload::from(RouteNetlinkMessage::GetNeighbour(
            NeighbourMessage::default(),
        )),
    );
    request.finalize();
    let mut bytes = vec![0; request.header.length as usize];
    request.serialize(&mut bytes[..]);
    socket
        .send_to(&bytes, &SocketAddr::new(0, 0), 0)
        .map_err(NeighbourError::Read)?;
    Ok(())
}

fn receive(socket: &Socket, buffer: &mut [u8]) -> io::Result<usize> {
    socket.recv(&mut &mut buffer[..], 0)
}

/// Applies the messages in `bytes` to `table`, logging each device newly
/// seen at an address when `announce`. True once the end of a dump is
/// read.
fn apply(table: &mut Neighbours, mut bytes: &[u8], announce: bool) -> Result<bool, NeighbourError> {
    let mut done = false;
    while !bytes.is_empty() {
        let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(bytes) else {
            break;
        };
        let length = message.header.length as usize;
        match message.payload {
            NetlinkPayload::Done(_) => done = true,
            NetlinkPayload::Error(error) => {
                return Err(NeighbourError::Refused(
                    error.code.map_or(0, |code| code.get()),
                ));
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewNeighbour(entry)) => {
                match entry_of(&entry) {
                    (Some(ip), Some(mac)) if usable(entry.header.state) => {
                        let news = table.learn(ip, mac);
                        if news && announce {
                            info!(%mac, address = %ip, "device {mac} at {ip}");
                        }
                    }
                    (Some(ip), _) => {
                        table.forget(ip);
                    }
                    _ => {}
                }
            }
            NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelNeighbour(entry)) => {
                if let (Some(ip), _) = entry_of(&entry) {
                    table.forget(ip);
                }
            }
            _ => {}
        }
        if length == 0 || length > bytes.len() {
            break;
        }
        bytes = &bytes[length.next_multiple_of(4).min(bytes.len())..];
    }
    Ok(done)
}

/// Whether an entry in this state says which device is at the address.
fn usable(state: NeighbourState) -> bool {
    matches!(
        state,
        NeighbourState::Reachable
            | NeighbourState::Stale
            | NeighbourState::Delay
            | NeighbourState::Probe
            | NeighbourState::Permanent
    )
}

fn entry_of(entry: &NeighbourMessage) -> (Option<IpAddr>, Option<Mac>) {
    let mut ip = None;
    let mut mac = None;
    for attribute in &entry.attributes {
        match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(v4)) => {
                ip = Some(IpAddr::V4(*v4))
            }
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(v6)) => {
                ip = Some(IpAddr::V6(*v6))
            }
            NeighbourAttribute::LinkLayerAddress(bytes) => mac = Mac::from_bytes(bytes),
            _ => {}
        }
    }
    (ip, mac)
}
