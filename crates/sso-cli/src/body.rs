//! Request bodies under the local server's limits: a body longer than any endpoint reads is
//! never read at all, and a body must have arrived within the body timeout of its headers.
//!
//! Both show to the adapters as a body that cannot be read, so each answers in its own
//! protocol's format as for any bad body (a redirect with `errorID=1`, the call center's JSON
//! `400 INVALID_REQUEST`…), never an error page of the server's. Because an oversized body is
//! replaced before anything polls it, hyper never sends `100 Continue` for it: a client that
//! sent `Expect: 100-continue` gets its answer at once, without uploading a byte.
//!
//! (tower-http was considered: its `RequestBodyLimit` answers a bare `413` of its own, its
//! `TimeoutBody` times each frame, so a byte every few seconds never trips it, and its
//! `Timeout` answers a bare `408` and also cuts a handler that is merely slow.)

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use http::header::CONTENT_LENGTH;
use http_body::{Frame, SizeHint};
use tokio::time::Sleep;

/// The largest request body any endpoint accepts: every form and JSON body is read through
/// `sso_web::form::read_body`, which stops there.
pub const MAX_REQUEST_BODY: usize = sso_web::form::MAX_FORM_BYTES;

/// Middleware: bounds the request's body (see the module documentation). The state is the
/// body timeout.
pub async fn bounded(State(timeout): State<Duration>, req: Request, next: Next) -> Response {
    let too_long = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .is_some_and(|n| n > MAX_REQUEST_BODY as u64);
    let req = req.map(|body| {
        if too_long {
            // The real body is dropped unread.
            Body::new(Unreadable("request body over the limit"))
        } else {
            Body::new(Deadline {
                inner: body,
                deadline: Box::pin(tokio::time::sleep(timeout)),
            })
        }
    });
    next.run(req).await
}

/// A body whose reading fails at once.
struct Unreadable(&'static str);

impl http_body::Body for Unreadable {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
            io::ErrorKind::InvalidData,
            self.0,
        )))))
    }
}

/// A body that must have arrived by a fixed deadline (not one per frame).
struct Deadline {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
}

impl http_body::Body for Deadline {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        match self.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(axum::Error::new(io::Error::new(
                io::ErrorKind::TimedOut,
                "request body timeout",
            ))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body::Body as _;

    /// A body of `n` bytes, one every 50 ms (the first after 50 ms).
    fn trickle(n: usize) -> Body {
        let mut interval = tokio::time::interval(Duration::from_millis(50));
        interval.reset();
        let bytes =
            futures_util::stream::unfold((interval, n), |(mut interval, left)| async move {
                if left == 0 {
                    return None;
                }
                interval.tick().await;
                let byte = Ok::<_, io::Error>(Bytes::from_static(b"x"));
                Some((byte, (interval, left - 1)))
            });
        Body::from_stream(bytes)
    }

    #[tokio::test]
    async fn a_body_that_has_not_arrived_by_the_deadline_fails() {
        let mut slow = Deadline {
            inner: trickle(10),
            deadline: Box::pin(tokio::time::sleep(Duration::from_millis(220))),
        };
        let mut got = 0;
        let err = loop {
            match std::future::poll_fn(|cx| Pin::new(&mut slow).poll_frame(cx)).await {
                Some(Ok(_)) => got += 1,
                Some(Err(e)) => break e,
                None => panic!("the body ended"),
            }
        };
        assert!(err.to_string().contains("timeout"), "{err}");
        // Four bytes are due before the deadline; a busy machine may deliver fewer.
        assert!((1..=4).contains(&got), "{got} bytes before the deadline");
    }

    #[tokio::test]
    async fn a_body_in_time_is_read_whole() {
        let body = Body::new(Deadline {
            inner: trickle(3),
            deadline: Box::pin(tokio::time::sleep(Duration::from_secs(2))),
        });
        let bytes = axum::body::to_bytes(body, 16).await.unwrap();
        assert_eq!(&bytes[..], b"xxx");
    }
}
