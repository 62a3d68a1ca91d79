//! A small blocking HTTP/1.1 client for what `wrk` cannot measure: the streamed chat rows (time to the
//! first SSE delta and to `done`) and the fixed-rate open-loop row.

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use super::CHAT_CONTENT;
use super::rows::{Measured, micros, percentile};

/// Open-loop load at a fixed rate (what wrk2 does): each request's latency is measured from the moment
/// it was due, so a slow response also charges the requests queued behind it (no coordinated omission).
pub(super) fn fixed_rate(api: &str, path: &str, token: &str, rate: u32, duration: Duration) -> Result<Measured> {
    const WORKERS: u32 = 16;
    let started = Instant::now() + Duration::from_millis(20);
    let end = started + duration;
    let handles: Vec<_> = (0..WORKERS)
        .map(|k| {
            let (api, path, token) = (api.to_owned(), path.to_owned(), token.to_owned());
            thread::spawn(move || {
                let mut client = Client::new(&api);
                let mut latencies = Vec::new();
                let mut errors = 0_u64;
                for i in 0_u32.. {
                    let n = f64::from(i) * f64::from(WORKERS) + f64::from(k);
                    let due = started + Duration::from_secs_f64(n / f64::from(rate));
                    if due >= end {
                        break;
                    }
                    if let Some(wait) = due.checked_duration_since(Instant::now()) {
                        thread::sleep(wait);
                    }
                    match client.call("GET", &path, Some(&token), None, &mut |_| {}) {
                        Ok(200) => latencies.push(micros(due.elapsed())),
                        _ => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for h in handles {
        let (l, e) = h.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        all.extend(l);
        errors += e;
    }
    all.sort_unstable();
    Ok(Measured {
        requests: all.len() as u64 + errors,
        seconds: started.elapsed().as_secs_f64().min(duration.as_secs_f64()),
        p50_us: percentile(&all, 50.0),
        p99_us: percentile(&all, 99.0),
        errors,
        cpu: None,
    })
}

/// Closed-loop streamed chat: each connection sends, reads the SSE stream to its end, and sends again.
/// Returns the time to the first `delta` event and the time to the `done` event.
pub(super) fn streamed(
    api: &str,
    paths: &[String],
    token: &str,
    conns: u32,
    duration: Duration,
) -> Result<(Measured, Measured)> {
    let started = Instant::now();
    let end = started + duration;
    let body = format!(r#"{{"content":"{CHAT_CONTENT}"}}"#);
    let handles: Vec<_> = (0..conns)
        .map(|k| {
            let (api, token, body) = (api.to_owned(), token.to_owned(), body.clone());
            let paths = paths.to_vec();
            thread::spawn(move || {
                let mut client = Client::new(&api);
                let (mut first, mut done, mut errors) = (Vec::new(), Vec::new(), 0_u64);
                let mut n = k as usize;
                while Instant::now() < end {
                    n += 1;
                    let path = &paths[n % paths.len()];
                    let sent = Instant::now();
                    let mut seen = String::new();
                    let (mut t_first, mut t_done, mut failed) = (None, None, false);
                    let status = client.call("POST", path, Some(&token), Some(&body), &mut |data| {
                        seen.push_str(&String::from_utf8_lossy(data));
                        if t_first.is_none() && seen.contains("event: delta") {
                            t_first = Some(sent.elapsed());
                        }
                        if t_done.is_none() && seen.contains("event: done") {
                            t_done = Some(sent.elapsed());
                        }
                        failed |= seen.contains("event: error");
                        // Keep only the tail, where the next event name may be split.
                        if seen.len() > 64 {
                            let cut = seen.len() - 32;
                            let cut = (cut..seen.len()).find(|i| seen.is_char_boundary(*i)).unwrap_or(0);
                            seen.drain(..cut);
                        }
                    });
                    match (status, t_first, t_done, failed) {
                        (Ok(200), Some(f), Some(d), false) => {
                            first.push(micros(f));
                            done.push(micros(d));
                        }
                        _ => errors += 1,
                    }
                }
                (first, done, errors)
            })
        })
        .collect();
    let (mut first, mut done, mut errors) = (Vec::new(), Vec::new(), 0);
    for h in handles {
        let (f, d, e) = h.join().map_err(|_| anyhow::anyhow!("a load thread panicked"))?;
        first.extend(f);
        done.extend(d);
        errors += e;
    }
    let seconds = started.elapsed().as_secs_f64();
    first.sort_unstable();
    done.sort_unstable();
    let measured = |v: &[u64]| Measured {
        requests: v.len() as u64 + errors,
        seconds,
        p50_us: percentile(v, 50.0),
        p99_us: percentile(v, 99.0),
        errors,
        cpu: None,
    };
    Ok((measured(&first), measured(&done)))
}

/// A minimal blocking HTTP/1.1 client with keep-alive (enough for JSON and SSE from our own api).
pub(super) struct Client {
    pub(super) addr: String,
    pub(super) conn: Option<BufReader<TcpStream>>,
}

impl Client {
    pub(super) fn new(addr: &str) -> Self {
        Self {
            addr: addr.to_owned(),
            conn: None,
        }
    }

    /// Sends one request; `on_data` sees the body as it arrives. A broken connection is dropped and
    /// the next call opens a new one.
    pub(super) fn call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        on_data: &mut dyn FnMut(&[u8]),
    ) -> Result<u16> {
        let result = self.try_call(method, path, token, body, on_data);
        match &result {
            Ok((_, false)) => {}
            _ => self.conn = None,
        }
        result.map(|(status, _)| status)
    }

    pub(super) fn fetch(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> Result<(u16, Vec<u8>)> {
        let mut all = Vec::new();
        let status = self.call(method, path, token, body, &mut |d| all.extend_from_slice(d))?;
        Ok((status, all))
    }

    pub(super) fn try_call(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        on_data: &mut dyn FnMut(&[u8]),
    ) -> Result<(u16, bool)> {
        self.send(
            method,
            path,
            token,
            body.map(|b| ("application/json", b.as_bytes())),
            on_data,
        )
    }

    /// One request with a body of any media type (`(content type, bytes)`); the connection is kept unless
    /// the server closes it.
    pub(super) fn send(
        &mut self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
        on_data: &mut dyn FnMut(&[u8]),
    ) -> Result<(u16, bool)> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(&self.addr).with_context(|| format!("connecting to {}", self.addr))?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.conn = Some(BufReader::new(stream));
        }
        let Some(reader) = self.conn.as_mut() else {
            bail!("no connection");
        };
        let mut request = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\n", self.addr);
        if let Some(token) = token {
            let _ = write!(request, "Authorization: Bearer {token}\r\n");
        }
        if let Some((content_type, body)) = body {
            let _ = write!(
                request,
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n\r\n",
                body.len()
            );
            reader.get_mut().write_all(request.as_bytes())?;
            reader.get_mut().write_all(body)?;
        } else {
            request.push_str("\r\n");
            reader.get_mut().write_all(request.as_bytes())?;
        }
        read_response(reader, on_data)
    }
}

/// Reads one response: status, whether the server will close, the body passed to `on_data`.
pub(super) fn read_response(reader: &mut BufReader<TcpStream>, on_data: &mut dyn FnMut(&[u8])) -> Result<(u16, bool)> {
    let mut line = String::new();
    if reader.read_line(&mut line)? == 0 {
        bail!("the connection closed");
    }
    let status: u16 = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .context("not an HTTP status line")?;
    let (mut length, mut chunked, mut close) = (None, false, false);
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            bail!("the connection closed in the headers");
        }
        let header = line.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => length = value.parse::<usize>().ok(),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => close = value.eq_ignore_ascii_case("close"),
                _ => {}
            }
        }
    }
    if status == 204 || status == 304 {
        return Ok((status, close));
    }
    if chunked {
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let size =
                usize::from_str_radix(line.trim().split(';').next().unwrap_or(""), 16).context("bad chunk size")?;
            if size == 0 {
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                        break;
                    }
                }
                break;
            }
            let mut chunk = vec![0; size];
            reader.read_exact(&mut chunk)?;
            on_data(&chunk);
            let mut crlf = [0u8; 2];
            reader.read_exact(&mut crlf)?;
        }
    } else if let Some(n) = length {
        let mut body = vec![0; n];
        reader.read_exact(&mut body)?;
        on_data(&body);
    } else {
        let mut body = Vec::new();
        reader.read_to_end(&mut body)?;
        on_data(&body);
        close = true;
    }
    Ok((status, close))
}
