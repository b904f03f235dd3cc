//! UDP many datagrams at a time: one `recvmmsg` takes up to [`BATCH`]
//! waiting queries and one `sendmmsg` sends the answers written for them,
//! so that the cost of a system call is shared by a batch under load (and
//! a quiet server still answers each query as it comes).

use std::io;
use std::mem::{size_of, zeroed};
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;

use socket2::SockAddr;
use tokio::io::Interest;
use tokio::net::UdpSocket;

/// Datagrams read or sent by one system call at most.
pub const BATCH: usize = 32;

/// Buffers for one batch of received datagrams.
pub struct Inbox {
    size: usize,
    data: Vec<u8>,
    /// (offset in `data`, length, sender) of each datagram read.
    received: Vec<(usize, usize, SocketAddr)>,
}

impl Inbox {
    /// Room for [`BATCH`] datagrams of up to `size` bytes each (longer
    /// ones are cut, as `recv_from` would).
    pub fn new(size: usize) -> Inbox {
        Inbox {
            size,
            data: vec![0; size * BATCH],
            received: Vec::with_capacity(BATCH),
        }
    }

    /// How many datagrams the last [`Inbox::receive`] read.
    pub fn len(&self) -> usize {
        self.received.len()
    }

    /// Datagram `i` of the last batch and who sent it.
    pub fn get(&self, i: usize) -> (&[u8], SocketAddr) {
        let (start, len, src) = self.received[i];
        (&self.data[start..start + len], src)
    }

    /// Reads the datagrams waiting on `socket` without blocking:
    /// `WouldBlock` when there are none (and the socket's readiness is
    /// cleared, so that `readable().await` waits for more).
    pub fn receive(&mut self, socket: &UdpSocket) -> io::Result<usize> {
        self.received.clear();
        // SAFETY: all-zero bytes are valid for these C structs.
        let mut names: [libc::sockaddr_storage; BATCH] = unsafe { zeroed() };
        let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
        let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
        for (i, chunk) in self.data.chunks_exact_mut(self.size).enumerate() {
            iovecs[i] = libc::iovec {
                iov_base: chunk.as_mut_ptr().cast(),
                iov_len: chunk.len(),
            };
            let header = &mut headers[i].msg_hdr;
            header.msg_name = (&mut names[i] as *mut libc::sockaddr_storage).cast();
            header.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            header.msg_iov = &mut iovecs[i];
            header.msg_iovlen = 1;
        }
        let count = socket.try_io(Interest::READABLE, || {
            // SAFETY: every header points at a live buffer and address of
            // this function's frame or of `self.data`, sized as declared.
            let n = unsafe {
                libc::recvmmsg(
                    socket.as_raw_fd(),
                    headers.as_mut_ptr(),
                    BATCH as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if n < 0 {
                Err(io::Error::last_os_error())
            } else {
                Ok(n as usize)
            }
        })?;
        for i in 0..count {
            let len = (headers[i].msg_len as usize).min(self.size);
            // Anything but an IP sender is nobody to answer.
            if let Some(src) = socket_addr(&names[i]) {
                self.received.push((i * self.size, len, src));
            }
        }
        Ok(self.received.len())
    }
}

/// Sends `replies` (each to its address) with as few system calls as the
/// kernel allows; returns how many went. `WouldBlock` when the socket's
/// send buffer is full: the caller sends the rest one at a time.
pub fn send(socket: &UdpSocket, replies: &[(SocketAddr, &[u8])]) -> io::Result<usize> {
    let count = replies.len().min(BATCH);
    let addrs: Vec<SockAddr> = replies[..count]
        .iter()
        .map(|(to, _)| SockAddr::from(*to))
        .collect();
    // SAFETY: all-zero bytes are valid for these C structs.
    let mut iovecs: [libc::iovec; BATCH] = unsafe { zeroed() };
    let mut headers: [libc::mmsghdr; BATCH] = unsafe { zeroed() };
    for i in 0..count {
        iovecs[i] = libc::iovec {
            iov_base: replies[i].1.as_ptr() as *mut libc::c_void,
            iov_len: replies[i].1.len(),
        };
        let header = &mut headers[i].msg_hdr;
        header.msg_name = addrs[i].as_ptr() as *mut libc::c_void;
        header.msg_namelen = addrs[i].len();
        header.msg_iov = &mut iovecs[i];
        header.msg_iovlen = 1;
    }
    socket.try_io(Interest::WRITABLE, || {
        // SAFETY: as in `receive`; the kernel only reads these buffers.
        let n = unsafe {
            libc::sendmmsg(
                socket.as_raw_fd(),
                headers.as_mut_ptr(),
                count as libc::c_uint,
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(n as usize)
        }
    })
}

/// The IPv4 or IPv6 address a `sockaddr_storage` holds.
fn socket_addr(storage: &libc::sockaddr_storage) -> Option<SocketAddr> {
    match i32::from(storage.ss_family) {
        libc::AF_INET => {
            // SAFETY: the family says this storage holds a sockaddr_in.
            let v4 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in) };
            Some(SocketAddr::V4(SocketAddrV4::new(
                Ipv4Addr::from(u32::from_be(v4.sin_addr.s_addr)),
                u16::from_be(v4.sin_port),
            )))
        }
        libc::AF_INET6 => {
            // SAFETY: the family says this storage holds a sockaddr_in6.
            let v6 = unsafe { &*(storage as *const _ as *const libc::sockaddr_in6) };
            Some(SocketAddr::V6(SocketAddrV6::new(
                Ipv6Addr::from(v6.sin6_addr.s6_addr),
                u16::from_be(v6.sin6_port),
                v6.sin6_flowinfo,
                v6.sin6_scope_id,
            )))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_batch_in_and_a_batch_out() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let client = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let v6 = UdpSocket::bind("[::1]:0").await.ok();
        let to = server.local_addr().unwrap();
        for i in 0..40u8 {
            client.send_to(&[i; 3], to).await.unwrap();
        }
        let mut inbox = Inbox::new(16);
        server.readable().await.unwrap();
        let mut got = Vec::new();
        while got.len() < 40 {
            match inbox.receive(&server) {
                Ok(n) => {
                    assert!(n <= BATCH);
                    for i in 0..n {
                        let (data, src) = inbox.get(i);
                        assert_eq!(src, client.local_addr().unwrap());
                        got.push(data.to_vec());
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => server.readable().await.unwrap(),
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(got, (0..40u8).map(|i| vec![i; 3]).collect::<Vec<_>>());

        let from = client.local_addr().unwrap();
        let replies: Vec<(SocketAddr, &[u8])> = vec![(from, b"one"), (from, b"two")];
        assert_eq!(send(&server, &replies).unwrap(), 2);
        let mut buf = [0u8; 16];
        let (n, _) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one");
        let (n, _) = client.recv_from(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"two");

        // IPv6 senders are read with their address.
        if let Some(v6) = v6 {
            let server6 = UdpSocket::bind("[::1]:0").await.unwrap();
            v6.send_to(b"six", server6.local_addr().unwrap())
                .await
                .unwrap();
            server6.readable().await.unwrap();
            let n = loop {
                match inbox.receive(&server6) {
                    Ok(n) => break n,
                    Err(_) => server6.readable().await.unwrap(),
                }
            };
            assert_eq!(n, 1);
            assert_eq!(inbox.get(0), (&b"six"[..], v6.local_addr().unwrap()));
        }
    }
}
