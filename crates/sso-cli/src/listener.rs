//! The local server's accept loop: hyper's HTTP/1 connections on tokio, with the limits a
//! listener open to the world needs (issue 13, "Hold under abuse").
//!
//! - **Header timeout**: a new connection must deliver its first request's headers within
//!   [`Limits::header_timeout`] of being accepted; a later request on a kept-alive connection
//!   within that time of its first byte. A silent or trickling client is disconnected.
//! - **Idle timeout**: between requests a kept-alive connection may wait
//!   [`Limits::idle_timeout`] for the next one, then it is closed.
//! - **Body timeout**: from its headers, a request's body must have arrived within
//!   [`Limits::body_timeout`]; the router enforces it (`crate::body`), and the adapter answers
//!   an unfinished body as any unreadable one, in its protocol's format.
//! - **Connection cap**: at most [`Limits::max_connections`] connections are served at once,
//!   kept below the process's open-file limit. At the cap the loop stops accepting, so new
//!   connections wait in the kernel's backlog until a slot frees (every held connection is
//!   bounded by the timeouts above); an accept that fails anyway (`EMFILE`, …) is retried
//!   after a short pause, never in a busy loop.
//!
//! hyper's own `header_read_timeout` starts counting as soon as a response is written, so it
//! cannot tell an idle connection from a slow header; [`Watched`] keeps both clocks instead,
//! told by the service when a request starts and ends.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

/// Default [`Limits::header_timeout`].
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`Limits::body_timeout`].
pub const DEFAULT_BODY_TIMEOUT: Duration = Duration::from_secs(15);
/// Default [`Limits::idle_timeout`].
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// The default connection cap when the open-file limit allows it.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;

/// How long clients may take, and how many may be connected at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// For a request's headers (see the module documentation).
    pub header_timeout: Duration,
    /// For a request's body, from its headers.
    pub body_timeout: Duration,
    /// For a kept-alive connection's next request.
    pub idle_timeout: Duration,
    /// Connections served at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS.min(connection_ceiling(open_file_limit())),
        }
    }
}

/// The process's (soft) open-file limit, if the system tells it.
pub fn open_file_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        rlimit::Resource::NOFILE
            .get()
            .ok()
            .map(|(soft, _hard)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// The most connections a process with this open-file limit can hold: the limit less a
/// reserve for everything else it opens (the store's file, standard streams, the runtime's
/// own descriptors, outgoing connections to DynamoDB): a quarter of the limit, at least 16
/// and at most 64. `None` (unknown limit): [`DEFAULT_MAX_CONNECTIONS`].
pub fn connection_ceiling(open_files: Option<u64>) -> usize {
    let Some(limit) = open_files else {
        return DEFAULT_MAX_CONNECTIONS;
    };
    let reserve = (limit / 4).clamp(16, 64);
    usize::try_from(limit.saturating_sub(reserve))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Serves `router` on `listener` under `limits` until `shutdown` completes, then lets the
/// connections finish their requests in flight (idle ones are closed at once).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut builder = http1::Builder::new();
    // `Watched` keeps the header and idle clocks (see the module documentation).
    builder.keep_alive(true).header_read_timeout(None);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned: Option<Instant> = None;
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => permit.map_err(io::Error::other)?,
            () = &mut shutdown => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    pause_after(&e, &mut warned).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let activity = Arc::new(Activity::default());
        let io = TokioIo::new(Watched::new(stream, activity.clone(), limits));
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut req: http::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
            activity.begin();
            let activity = activity.clone();
            let answer = router.clone().oneshot(req);
            async move {
                let resp = answer.await;
                activity.end();
                // This runs in the connection's task: wake it, so that it reads again (and
                // `Watched` starts the idle clock) once the answer is written, instead of
                // waiting for the socket, which a silent client never makes readable.
                std::future::poll_fn(|cx| {
                    cx.waker().wake_by_ref();
                    Poll::Ready(())
                })
                .await;
                resp
            }
        });
        let connection = graceful.watch(builder.serve_connection(io, service));
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                // Timeouts, resets and malformed requests: the client's doing, not ours.
                tracing::debug!(error = %e, "connection closed");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// After a failed accept: nothing for a connection the client already gave up; otherwise
/// (out of descriptors, buffers…) a short pause, since accepting again at once would fail
/// the same way, and a warning at most every 10 s.
async fn pause_after(e: &io::Error, warned: &mut Option<Instant>) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    if warned.is_none_or(|at| at.elapsed() >= Duration::from_secs(10)) {
        tracing::warn!(error = %e, "cannot accept connections for now; retrying");
        *warned = Some(Instant::now());
    } else {
        tracing::debug!(error = %e, "accept failed; retrying");
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
}

/// What the service tells the connection's I/O: a request is being served, or how many
/// have been answered.
#[derive(Default)]
struct Activity {
    busy: AtomicBool,
    answered: AtomicU64,
}

impl Activity {
    fn begin(&self) {
        self.busy.store(true, Ordering::Release);
    }

    fn end(&self) {
        self.answered.fetch_add(1, Ordering::Release);
        self.busy.store(false, Ordering::Release);
    }
}

/// What a connection's reads are waiting for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Waiting {
    /// The first request's first byte (the header clock runs from the accept).
    First,
    /// A later request's first byte (the idle clock runs from the last answer).
    Idle,
    /// The rest of a request's headers (the header clock runs).
    Head,
    /// A request is being served: its body has the router's deadline (`crate::body`).
    Busy,
}

/// A TCP stream whose reads fail with `TimedOut` when the client is too slow with its
/// headers, or idle too long between requests.
struct Watched {
    inner: TcpStream,
    activity: Arc<Activity>,
    limits: Limits,
    waiting: Waiting,
    answered: u64,
    deadline: Pin<Box<Sleep>>,
}

impl Watched {
    fn new(inner: TcpStream, activity: Arc<Activity>, limits: Limits) -> Self {
        Self {
            inner,
            activity,
            limits,
            waiting: Waiting::First,
            answered: 0,
            deadline: Box::pin(tokio::time::sleep(limits.header_timeout)),
        }
    }

    /// Catches up with the service: a request started, or one was answered.
    fn observe(&mut self) {
        if self.activity.busy.load(Ordering::Acquire) {
            self.waiting = Waiting::Busy;
            return;
        }
        let answered = self.activity.answered.load(Ordering::Acquire);
        if answered != self.answered || self.waiting == Waiting::Busy {
            self.answered = answered;
            self.waiting = Waiting::Idle;
            self.reset(self.limits.idle_timeout);
        }
    }

    /// Bytes came in.
    fn received(&mut self) {
        match self.waiting {
            Waiting::Idle => {
                self.waiting = Waiting::Head;
                self.reset(self.limits.header_timeout);
            }
            Waiting::First => self.waiting = Waiting::Head,
            Waiting::Head | Waiting::Busy => {}
        }
    }

    fn reset(&mut self, after: Duration) {
        self.deadline.as_mut().reset(Instant::now() + after);
    }
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.observe();
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.received();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Pending
                if this.waiting != Waiting::Busy && this.deadline.as_mut().poll(cx).is_ready() =>
            {
                let what = if this.waiting == Waiting::Idle {
                    "idle timeout"
                } else {
                    "request header timeout"
                };
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)))
            }
            other => other,
        }
    }
}

/// An answer the client does not take (its window stays shut) must be taken within the idle
/// timeout too, or a client that never reads would hold its connection forever.
impl Watched {
    fn write_with<T>(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        self.observe();
        match write(Pin::new(&mut self.inner), cx) {
            Poll::Pending
                if self.waiting == Waiting::Idle && self.deadline.as_mut().poll(cx).is_ready() =>
            {
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the client does not read its answer",
                )))
            }
            other => other,
        }
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut()
            .write_with(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut()
            .write_with(cx, |inner, cx| inner.poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_cap_stays_below_the_open_file_limit() {
        assert_eq!(connection_ceiling(Some(64)), 48);
        assert_eq!(connection_ceiling(Some(128)), 96);
        assert_eq!(connection_ceiling(Some(1024)), 960);
        assert_eq!(connection_ceiling(Some(65_536)), 65_472);
        assert_eq!(connection_ceiling(Some(10)), 1);
        assert_eq!(connection_ceiling(None), DEFAULT_MAX_CONNECTIONS);
        assert!(Limits::default().max_connections <= DEFAULT_MAX_CONNECTIONS);
    }
}
