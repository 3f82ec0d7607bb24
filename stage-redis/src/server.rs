//! A throwaway `redis-server` on a loopback port, for tests, benches and
//! examples: started and stopped by the program that needs it.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long a server may take to accept connections.
const START_TIMEOUT: Duration = Duration::from_secs(10);

/// A `redis-server` process of its own, on a free loopback port, with a
/// data directory of its own; killed and its directory removed when
/// dropped.
///
/// It needs the `redis-server` program (Debian's package `redis-server`).
///
/// # Examples
///
/// ```
/// let server = stage::redis::LocalServer::start().unwrap();
/// assert!(server.url().starts_with("redis://127.0.0.1:"));
/// ```
#[derive(Debug)]
pub struct LocalServer {
    child: Option<Child>,
    port: u16,
    dir: PathBuf,
    durable: bool,
}

impl LocalServer {
    /// Starts a server that keeps its data in memory only.
    ///
    /// # Errors
    ///
    /// If `redis-server` is not installed, or does not start and accept
    /// connections within 10 seconds.
    ///
    /// # Examples
    ///
    /// See [`LocalServer`].
    pub fn start() -> io::Result<Self> {
        Self::launch(false)
    }

    /// Starts a server that writes every change to its append-only file
    /// before it answers (`appendfsync always`): killed and
    /// [restarted](LocalServer::restart), it has lost nothing it
    /// acknowledged.
    ///
    /// # Errors
    ///
    /// As [`start`](LocalServer::start).
    ///
    /// # Examples
    ///
    /// ```
    /// let mut server = stage::redis::LocalServer::start_durable().unwrap();
    /// server.restart().unwrap();
    /// ```
    pub fn start_durable() -> io::Result<Self> {
        Self::launch(true)
    }

    fn launch(durable: bool) -> io::Result<Self> {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "stage-redis-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir)?;
        let mut server = Self {
            child: None,
            port: 0,
            dir,
            durable,
        };
        // A port found free may be taken before the server binds it: then
        // another.
        let mut last = None;
        for _ in 0..5 {
            server.port = free_port()?;
            match server.run() {
                Ok(()) => return Ok(server),
                Err(error) => last = Some(error),
            }
        }
        Err(last.expect("tried at least once"))
    }

    /// Starts the process on `self.port` and waits until it answers.
    fn run(&mut self) -> io::Result<()> {
        let mut command = Command::new("redis-server");
        command
            .arg("--port")
            .arg(self.port.to_string())
            .arg("--bind")
            .arg("127.0.0.1")
            .arg("--dir")
            .arg(&self.dir)
            .arg("--save")
            .arg("")
            .arg("--logfile")
            .arg(self.dir.join("redis.log"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if self.durable {
            command.args(["--appendonly", "yes", "--appendfsync", "always"]);
        } else {
            command.args(["--appendonly", "no"]);
        }
        let child = command.spawn().map_err(|error| {
            if error.kind() == io::ErrorKind::NotFound {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    "redis-server is not installed (Debian: apt-get install redis-server)",
                )
            } else {
                error
            }
        })?;
        self.child = Some(child);
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            // The server answering must be this one, not another that took
            // the port first (this one then exits).
            if let Ok(stream) = TcpStream::connect(("127.0.0.1", self.port)) {
                if serves_dir(stream, &self.dir).unwrap_or(false) {
                    return Ok(());
                }
            }
            let child = self.child.as_mut().expect("spawned above");
            if let Some(status) = child.try_wait()? {
                self.child = None;
                return Err(io::Error::other(format!(
                    "redis-server exited ({status}); see {}",
                    self.dir.join("redis.log").display()
                )));
            }
            if Instant::now() >= deadline {
                self.kill();
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "redis-server did not accept connections within 10 s",
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// The server's URL (`redis://127.0.0.1:<port>/`).
    ///
    /// # Examples
    ///
    /// See [`LocalServer`].
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The server's port on 127.0.0.1.
    ///
    /// # Examples
    ///
    /// ```
    /// let server = stage::redis::LocalServer::start().unwrap();
    /// assert_ne!(server.port(), 0);
    /// ```
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's data directory (its log is `redis.log` there).
    ///
    /// # Examples
    ///
    /// ```
    /// let server = stage::redis::LocalServer::start().unwrap();
    /// assert!(server.dir().join("redis.log").exists());
    /// ```
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Kills the server (`SIGKILL`, as a crash), if it runs.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut server = stage::redis::LocalServer::start().unwrap();
    /// server.kill();
    /// assert!(std::net::TcpStream::connect(("127.0.0.1", server.port())).is_err());
    /// ```
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Already exited: nothing to kill; reaped by the wait.
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills the server, if it runs, and starts it again on the same port
    /// with the same data directory: a durable server comes back with all
    /// it acknowledged, one in memory comes back empty.
    ///
    /// # Errors
    ///
    /// As [`start`](LocalServer::start).
    ///
    /// # Examples
    ///
    /// See [`start_durable`](LocalServer::start_durable).
    pub fn restart(&mut self) -> io::Result<()> {
        self.kill();
        self.run()
    }
}

impl Drop for LocalServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind(("127.0.0.1", 0))?.local_addr()?.port())
}

/// Whether the server on `stream` keeps its data in `dir`
/// (`CONFIG GET dir`, in the protocol's own words).
fn serves_dir(mut stream: TcpStream, dir: &Path) -> io::Result<bool> {
    use std::io::{Read, Write};
    stream.set_read_timeout(Some(Duration::from_secs(1)))?;
    stream.write_all(b"*3\r\n$6\r\nCONFIG\r\n$3\r\nGET\r\n$3\r\ndir\r\n")?;
    let mut reply = Vec::new();
    let mut buf = [0; 512];
    let dir = dir.to_string_lossy();
    // The reply is an array of "dir" and the path; read until it is whole.
    while reply.len() < 64 * 1024 {
        let n = stream.read(&mut buf)?;
        if n == 0 {
            break;
        }
        reply.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&reply);
        if text.contains(&*dir) {
            return Ok(true);
        }
        if text.matches("\r\n").count() >= 5 {
            break; // whole, and another directory
        }
    }
    Ok(false)
}
