//! What the stream tests share: a server of their own, and a look at what
//! Redis holds.

#![allow(dead_code)] // each test file uses some of it

use std::collections::HashMap;
use std::future::Future;
use std::time::Duration;

use stage::redis::{LocalServer, Receiver, Stream};

/// Fails the test instead of hanging it.
pub(crate) async fn within<T>(what: &str, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), work)
        .await
        .unwrap_or_else(|_| panic!("{what} did not finish within 20 s"))
}

/// A server of the test's own, and its stream `orders`.
pub(crate) fn server() -> (LocalServer, Stream) {
    let server = LocalServer::start().expect("redis-server starts");
    let stream = Stream::open(server.url(), "orders").unwrap();
    (server, stream)
}

/// The consumer `worker-1` of the group `billing`, as it comes.
pub(crate) async fn worker_1(orders: &Stream) -> Receiver<u32> {
    orders
        .receiver::<u32>("billing", "worker-1")
        .connect()
        .await
        .unwrap()
}

/// A plain connection, to look at what Redis holds.
pub(crate) async fn connection(server: &LocalServer) -> redis::aio::MultiplexedConnection {
    redis::Client::open(server.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap()
}

/// An entry as `XRANGE` gives it: its ID and its fields.
type RawEntry = (String, Vec<(String, Vec<u8>)>);

/// The entries of stream `key`, each as its fields.
pub(crate) async fn entries(server: &LocalServer, key: &str) -> Vec<HashMap<String, String>> {
    let mut connection = connection(server).await;
    let reply: Vec<RawEntry> = redis::cmd("XRANGE")
        .arg(key)
        .arg("-")
        .arg("+")
        .query_async(&mut connection)
        .await
        .unwrap();
    reply
        .into_iter()
        .map(|(_, fields)| {
            fields
                .into_iter()
                .map(|(name, value)| (name, String::from_utf8_lossy(&value).into_owned()))
                .collect()
        })
        .collect()
}

/// How many entries the group has delivered and not had acknowledged.
pub(crate) async fn pending(server: &LocalServer, key: &str, group: &str) -> usize {
    let mut connection = connection(server).await;
    let reply: redis::Value = redis::cmd("XPENDING")
        .arg(key)
        .arg(group)
        .query_async(&mut connection)
        .await
        .unwrap();
    match reply {
        redis::Value::Array(parts) => match parts.first() {
            Some(redis::Value::Int(n)) => *n as usize,
            _ => 0,
        },
        _ => 0,
    }
}
