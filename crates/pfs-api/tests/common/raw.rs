//! Requests written byte for byte on a fresh loopback connection: any method, any request
//! target (odd characters, broken percent-encoding), any header and body, which an HTTP client
//! library would normalise or refuse to send.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long one exchange may take before the test fails.
pub const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);

/// A request as written on the wire (`Host`, `Connection: close` and, with a body,
/// `Content-Length` are added unless `headers` has them).
#[derive(Clone)]
pub struct RawRequest {
    pub method: String,
    pub target: String,
    pub headers: Vec<(String, Vec<u8>)>,
    pub body: Vec<u8>,
    /// Whether the sending side is closed after the body (a client that gives up mid-request).
    pub close_write: bool,
}

impl RawRequest {
    pub fn new(method: &str, target: impl Into<String>) -> Self {
        Self {
            method: method.to_owned(),
            target: target.into(),
            headers: Vec::new(),
            body: Vec::new(),
            close_write: false,
        }
    }

    pub fn get(target: impl Into<String>) -> Self {
        Self::new("GET", target)
    }

    /// A POST of `body` typed `application/json`.
    pub fn post_json(target: impl Into<String>, body: impl Into<Vec<u8>>) -> Self {
        Self::new("POST", target).header("content-type", "application/json").body(body)
    }

    #[must_use]
    pub fn header(mut self, name: &str, value: impl Into<Vec<u8>>) -> Self {
        self.headers.push((name.to_owned(), value.into()));
        self
    }

    #[must_use]
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.body = body.into();
        self
    }

    /// Closes the sending side after the body.
    #[must_use]
    pub fn closing(mut self) -> Self {
        self.close_write = true;
        self
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers.iter().any(|(header, _)| header.eq_ignore_ascii_case(name))
    }

    /// The bytes sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = format!("{} {} HTTP/1.1\r\n", self.method, self.target).into_bytes();
        if !self.has_header("host") {
            bytes.extend_from_slice(b"Host: 127.0.0.1\r\n");
        }
        bytes.extend_from_slice(b"Connection: close\r\n");
        let framed = self.has_header("content-length") || self.has_header("transfer-encoding");
        if !framed && (!self.body.is_empty() || self.method == "POST") {
            bytes.extend_from_slice(format!("Content-Length: {}\r\n", self.body.len()).as_bytes());
        }
        for (name, value) in &self.headers {
            bytes.extend_from_slice(name.as_bytes());
            bytes.extend_from_slice(b": ");
            bytes.extend_from_slice(value);
            bytes.extend_from_slice(b"\r\n");
        }
        bytes.extend_from_slice(b"\r\n");
        bytes.extend_from_slice(&self.body);
        bytes
    }
}

/// Shortened for failure messages: method, target, headers and at most 300 bytes of body.
impl fmt::Debug for RawRequest {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shorten = |bytes: &[u8], limit: usize| {
            let text = String::from_utf8_lossy(&bytes[..bytes.len().min(limit)]).into_owned();
            if bytes.len() > limit { format!("{text}… ({} bytes)", bytes.len()) } else { text }
        };
        let headers: Vec<String> = self
            .headers
            .iter()
            .map(|(name, value)| format!("{name}: {}", String::from_utf8_lossy(value)))
            .collect();
        write!(
            formatter,
            "{} {} {headers:?} body {:?}{}",
            self.method,
            shorten(self.target.as_bytes(), 300),
            shorten(&self.body, 300),
            if self.close_write { " (then closed)" } else { "" }
        )
    }
}

/// A response: status, headers (names lower-case) and the de-chunked body.
#[derive(Debug, Clone)]
pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(header, _)| header == name).map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.body).ok()
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `request` on a new connection to `address` and reads the whole response (the server
/// closes the connection after it).
///
/// # Panics
/// If the exchange fails or takes longer than [`EXCHANGE_TIMEOUT`], or the answer is not HTTP.
pub async fn exchange(address: SocketAddr, request: &RawRequest) -> RawResponse {
    tokio::time::timeout(EXCHANGE_TIMEOUT, exchange_bytes(address, &request.to_bytes(), request.close_write))
        .await
        .unwrap_or_else(|_| panic!("no answer within {EXCHANGE_TIMEOUT:?} to {request:?}"))
}

/// Writes `bytes` (closing the sending side afterwards if `close_write`) and reads the response.
pub async fn exchange_bytes(address: SocketAddr, bytes: &[u8], close_write: bool) -> RawResponse {
    let stream = TcpStream::connect(address).await.expect("connects to the service");
    let (mut reader, mut writer) = stream.into_split();
    // Written while the answer is read: the server may answer (and close) before it has read
    // everything, e.g. on a body over the limit, and a failed write is fine as long as an
    // answer comes.
    let bytes = bytes.to_vec();
    let sending = tokio::spawn(async move {
        if writer.write_all(&bytes).await.is_ok() && close_write {
            let _ = writer.shutdown().await;
        }
        // Kept open until the answer is read (dropping it would close the sending side).
        writer
    });
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) => break,
            Ok(read) => answer.extend_from_slice(&buffer[..read]),
            // A reset after the answer was sent (unread request bytes left on the server side).
            Err(_) if !answer.is_empty() => break,
            Err(error) => panic!("reading the answer failed: {error}"),
        }
    }
    sending.abort();
    parse_response(&answer)
}

fn parse_response(bytes: &[u8]) -> RawResponse {
    let end = bytes
        .windows(4)
        .position(|window| window == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no complete response head in {:?}", String::from_utf8_lossy(bytes)));
    let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let status = status_line
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP status line: {status_line:?}"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let raw_body = &bytes[end + 4..];
    let chunked = headers
        .iter()
        .any(|(name, value)| name == "transfer-encoding" && value.to_ascii_lowercase().contains("chunked"));
    let body = if chunked { dechunk(raw_body) } else { raw_body.to_vec() };
    RawResponse { status, headers, body }
}

fn dechunk(mut bytes: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = bytes.windows(2).position(|window| window == b"\r\n") {
        let size_text = String::from_utf8_lossy(&bytes[..line_end]);
        let size_text = size_text.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16).expect("a chunk size");
        bytes = &bytes[line_end + 2..];
        if size == 0 {
            break;
        }
        body.extend_from_slice(&bytes[..size.min(bytes.len())]);
        bytes = &bytes[(size + 2).min(bytes.len())..];
    }
    body
}
