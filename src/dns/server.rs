//! Sockets: UDP and TCP listeners on every configured address, each feeding
//! queries to the shared [`Handler`] and writing back what it answers.
//!
//! Plain UDP queries with a cached or sinkhole answer are answered in the
//! receiving task (the fast path); the rest are handled concurrently, up to
//! a bound, and past it packets are dropped rather than queued. TCP connections are capped per client and in
//! total, idle or slow ones are closed, and queries on one connection are
//! answered in order.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::answer::Transport;
use super::handler::Handler;
use super::stats::bump;
use super::udp_batch::{self, Inbox};

/// UDP queries being answered at once before new ones are dropped.
const MAX_UDP_IN_FLIGHT: usize = 4096;
/// TCP connections open at once, over all clients.
const MAX_TCP_CONNECTIONS: usize = 1024;
/// The largest query hedge reads over UDP.
const UDP_BUFFER: usize = 4096;
/// The kernel's receive buffer asked for on each UDP socket.
const UDP_RECEIVE_BUFFER: usize = 4 << 20;

/// Why the server could not start listening.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr} ({protocol}): {source}")]
    Bind {
        addr: SocketAddr,
        protocol: &'static str,
        source: io::Error,
    },
}

/// Bound sockets, ready to serve.
pub struct Listeners {
    udp: Vec<Arc<UdpSocket>>,
    tcp: Vec<TcpListener>,
}

impl Listeners {
    /// Binds UDP and TCP on every address. IPv6 sockets are IPv6-only, so
    /// `0.0.0.0:53` and `[::]:53` can both be listed.
    pub fn bind(addrs: &[SocketAddr]) -> Result<Listeners, ServeError> {
        let mut udp = Vec::new();
        let mut tcp = Vec::new();
        for &addr in addrs {
            let bind_err = |protocol, source| ServeError::Bind {
                addr,
                protocol,
                source,
            };
            // One UDP socket per core on the same address (SO_REUSEPORT):
            // the kernel spreads clients over them, each read by its own
            // task. The first fixes the port when 0 was asked for.
            let mut bound = addr;
            for _ in 0..udp_sockets_per_address() {
                let socket = new_socket(bound, Type::DGRAM, Protocol::UDP)
                    .map_err(|e| bind_err("UDP", e))?;
                let socket = UdpSocket::from_std(socket.into()).map_err(|e| bind_err("UDP", e))?;
                bound = socket.local_addr().map_err(|e| bind_err("UDP", e))?;
                udp.push(Arc::new(socket));
            }
            // TCP without SO_REUSEPORT: a second hedge on the same address
            // fails here rather than sharing the port unnoticed.
            let socket = new_socket(bound, Type::STREAM, Protocol::TCP)
                .and_then(|s| s.listen(1024).map(|_| s))
                .map_err(|e| bind_err("TCP", e))?;
            let listener = TcpListener::from_std(socket.into()).map_err(|e| bind_err("TCP", e))?;
            tcp.push(listener);
        }
        Ok(Listeners { udp, tcp })
    }

    /// The addresses actually bound (useful when a port 0 was asked for).
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in self.udp.iter().filter_map(|s| s.local_addr().ok()) {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        addrs
    }

    /// Starts serving on every socket until `shutdown` is cancelled. Each
    /// query in flight is a task on `tracker`, so a shutdown can wait for them.
    pub fn spawn(self, handler: Arc<Handler>, shutdown: CancellationToken, tracker: &TaskTracker) {
        let udp_slots = Arc::new(Semaphore::new(MAX_UDP_IN_FLIGHT));
        for socket in self.udp {
            tracker.spawn(serve_udp(
                socket,
                handler.clone(),
                udp_slots.clone(),
                shutdown.clone(),
                tracker.clone(),
            ));
        }
        let tcp_limits = Arc::new(TcpLimits {
            total: Arc::new(Semaphore::new(MAX_TCP_CONNECTIONS)),
            per_client: DashMap::new(),
        });
        for listener in self.tcp {
            tracker.spawn(serve_tcp(
                listener,
                handler.clone(),
                tcp_limits.clone(),
                shutdown.clone(),
                tracker.clone(),
            ));
        }
    }
}

/// UDP sockets per listening address: one per core the process may use,
/// at most 8.
fn udp_sockets_per_address() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
}

fn new_socket(addr: SocketAddr, kind: Type, protocol: Protocol) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), kind, Some(protocol))?;
    if addr.is_ipv6() {
        socket.set_only_v6(true)?;
    }
    if kind == Type::STREAM {
        socket.set_reuse_address(true)?;
    } else {
        socket.set_reuse_port(true)?;
        // Room for a burst while the reading task is busy; the kernel caps
        // it at net.core.rmem_max, which is fine.
        let _ = socket.set_recv_buffer_size(UDP_RECEIVE_BUFFER);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    Ok(socket)
}

async fn serve_udp(
    socket: Arc<UdpSocket>,
    handler: Arc<Handler>,
    slots: Arc<Semaphore>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let mut inbox = Inbox::new(UDP_BUFFER);
    let mut answers: Vec<Vec<u8>> = (0..udp_batch::BATCH)
        .map(|_| Vec::with_capacity(512))
        .collect();
    let mut to: Vec<SocketAddr> = Vec::with_capacity(udp_batch::BATCH);
    loop {
        let ready = tokio::select! {
            _ = shutdown.cancelled() => break,
            ready = socket.readable() => ready,
        };
        if let Err(error) = ready {
            debug!(%error, "UDP socket not readable");
            continue;
        }
        match inbox.receive(&socket) {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
            // ICMP errors from earlier sends surface here on Linux; they say
            // nothing about this socket's health.
            Err(error) => {
                debug!(%error, "UDP receive error");
                continue;
            }
        }
        // Cached answers and sinkholes are written here, in the receiving
        // task, and sent together; everything else is answered in a task
        // of its own.
        to.clear();
        for i in 0..inbox.len() {
            let (query, src) = inbox.get(i);
            if handler.answer_fast(query, src, &mut answers[to.len()]) {
                to.push(src);
                continue;
            }
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                debug!(%src, "UDP query dropped: too many in flight");
                continue;
            };
            let query = query.to_vec();
            let socket = socket.clone();
            let handler = handler.clone();
            tracker.spawn(async move {
                if let Some(response) = handler.handle(&query, src, Transport::Udp).await
                    && let Err(error) = socket.send_to(&response, src).await
                {
                    debug!(%src, %error, "UDP send failed");
                }
                drop(permit);
            });
        }
        send_answers(&socket, &to, &answers).await;
        // While entries gather in the log's queue, the writer's task runs
        // before more queries are taken: on a saturated core it would
        // otherwise rarely be polled, and most answered queries would go
        // unlogged. The excess waits in the socket instead.
        if handler.log.is_backing_up() {
            tokio::task::yield_now().await;
        }
    }
}

/// Sends `answers[i]` to `to[i]`: in one batch while the socket takes them,
/// then one at a time, waiting for room.
async fn send_answers(socket: &UdpSocket, to: &[SocketAddr], answers: &[Vec<u8>]) {
    let replies: Vec<(SocketAddr, &[u8])> = to
        .iter()
        .zip(answers)
        .map(|(to, answer)| (*to, answer.as_slice()))
        .collect();
    let mut sent = 0;
    while sent < replies.len() {
        match udp_batch::send(socket, &replies[sent..]) {
            Ok(n) if n > 0 => sent += n,
            Ok(_) => break,
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) => {
                // One unreachable client must not cost the others: skip it.
                debug!(to = %replies[sent].0, %error, "UDP send failed");
                sent += 1;
            }
        }
    }
    for (to, answer) in &replies[sent..] {
        if let Err(error) = socket.send_to(answer, *to).await {
            debug!(%to, %error, "UDP send failed");
        }
    }
}

struct TcpLimits {
    total: Arc<Semaphore>,
    per_client: DashMap<IpAddr, usize>,
}

/// Holds one of a client's TCP connection slots until dropped.
struct ClientSlot {
    limits: Arc<TcpLimits>,
    ip: IpAddr,
}

impl ClientSlot {
    fn take(limits: &Arc<TcpLimits>, ip: IpAddr, cap: usize) -> Option<ClientSlot> {
        let mut count = limits.per_client.entry(ip).or_insert(0);
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(ClientSlot {
            limits: limits.clone(),
            ip,
        })
    }
}

impl Drop for ClientSlot {
    fn drop(&mut self) {
        self.limits.per_client.remove_if_mut(&self.ip, |_, count| {
            *count -= 1;
            *count == 0
        });
    }
}

async fn serve_tcp(
    listener: TcpListener,
    handler: Arc<Handler>,
    limits: Arc<TcpLimits>,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    loop {
        let accepted = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, src) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                warn!(%error, "TCP accept failed");
                // Out of file descriptors and the like: don't spin.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let config = handler.config();
        let cap = config.server.tcp_connections_per_client;
        let idle = config.server.tcp_idle_timeout;
        let ip = src.ip().to_canonical();
        let Ok(total) = limits.total.clone().try_acquire_owned() else {
            bump(&handler.stats.tcp_refused);
            continue;
        };
        let Some(slot) = ClientSlot::take(&limits, ip, cap) else {
            bump(&handler.stats.tcp_refused);
            debug!(%src, "TCP connection refused: client has too many open");
            continue;
        };
        let handler = handler.clone();
        let shutdown = shutdown.clone();
        tracker.spawn(async move {
            if let Err(error) = serve_connection(stream, src, &handler, idle, &shutdown).await {
                debug!(%src, %error, "TCP connection closed");
            }
            drop(slot);
            drop(total);
        });
    }
}

/// Reads length-prefixed queries (RFC 1035 4.2.2) and answers each in turn.
/// The connection closes when idle for `idle`, when a query or answer takes
/// longer than that to cross, or when the server shuts down between queries.
async fn serve_connection(
    mut stream: TcpStream,
    src: SocketAddr,
    handler: &Handler,
    idle: Duration,
    shutdown: &CancellationToken,
) -> io::Result<()> {
    stream.set_nodelay(true)?;
    let mut query = Vec::with_capacity(512);
    loop {
        let length = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            length = tokio::time::timeout(idle, stream.read_u16()) => length,
        };
        let length = match length {
            Err(_) => return Ok(()),
            Ok(Err(error)) if error.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
            Ok(result) => usize::from(result?),
        };
        if length == 0 {
            return Ok(());
        }
        query.resize(length, 0);
        tokio::time::timeout(idle, stream.read_exact(&mut query))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "slow query"))??;
        let Some(response) = handler.handle(&query, src, Transport::Tcp).await else {
            // Not a query: a TCP peer sending responses is not a client.
            return Ok(());
        };
        let mut framed = Vec::with_capacity(response.len() + 2);
        framed.extend_from_slice(&(response.len() as u16).to_be_bytes());
        framed.extend_from_slice(&response);
        tokio::time::timeout(idle, stream.write_all(&framed))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "slow reader"))??;
    }
}
