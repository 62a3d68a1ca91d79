//! A zero-latency OpenAI-compatible server: answers `/v1/chat/completions` at once, unary or streamed
//! (`data:` chunks, a usage chunk, `data: [DONE]`), so a chat run measures our services and nothing else.
//!
//! The browser tests start it paced ([`start_paced`]): a request whose messages say "slowly" gets a longer reply,
//! one delta per pause, so a reload or a Stop lands in the middle of a reply. A Stop closes the ai service's
//! connection; the next write fails and the reply ends there, as a real provider's would.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use anyhow::Result;

pub(crate) const FAKE_MODEL: &str = "bench-zero-latency";
/// The fake model's reply, one streamed delta per piece.
pub(super) const REPLY_PIECES: [&str; 16] = [
    "Brushing ",
    "twice ",
    "a day ",
    "with ",
    "a fluoride ",
    "toothpaste ",
    "and ",
    "cleaning ",
    "between ",
    "your teeth ",
    "once a day ",
    "keeps ",
    "gums ",
    "healthy; ",
    "ask the clinic ",
    "if anything hurts.",
];

/// The paced reply (to a request that says "slowly"): long enough that a reload and a Stop find it half written.
const SLOW_PIECES: [&str; 24] = [
    "Rinse ",
    "gently ",
    "with warm ",
    "salt water ",
    "after meals, ",
    "keep ",
    "food ",
    "away ",
    "from the ",
    "sore side, ",
    "avoid ",
    "straws ",
    "and smoking, ",
    "take ",
    "the pain relief ",
    "the clinic ",
    "advised, ",
    "and call ",
    "the clinic ",
    "if the pain ",
    "grows, ",
    "a fever starts ",
    "or the swelling ",
    "spreads.",
];

struct Responses {
    unary: Vec<u8>,
    stream: Vec<u8>,
    /// The paced reply: the response head, then one chunk (an SSE event) per element.
    slow: Vec<Vec<u8>>,
    not_found: Vec<u8>,
}

const STREAM_HEAD: &str = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n";

/// The SSE events of a streamed reply made of `pieces`, each as one HTTP chunk, and the chunked body's end.
fn stream_chunks(head: &str, pieces: &[&str]) -> Vec<String> {
    let usage = usage(pieces.len());
    let chunk = |delta: &str, finish: &str| {
        format!(
            r#"data: {{{head},"object":"chat.completion.chunk","choices":[{{"index":0,"delta":{delta},"logprobs":null,"finish_reason":{finish}}}],"usage":null}}"#
        ) + "\n\n"
    };
    let mut events = vec![chunk(r#"{"role":"assistant","content":""}"#, "null")];
    events.extend(pieces.iter().map(|p| chunk(&format!(r#"{{"content":"{p}"}}"#), "null")));
    events.push(chunk("{}", r#""stop""#));
    events.push(format!(r#"data: {{{head},"object":"chat.completion.chunk","choices":[],"usage":{usage}}}"#) + "\n\n");
    events.push("data: [DONE]\n\n".to_owned());
    let mut chunks: Vec<String> = events
        .into_iter()
        .map(|e| format!("{:x}\r\n{e}\r\n", e.len()))
        .collect();
    chunks.push("0\r\n\r\n".to_owned());
    chunks
}

fn usage(pieces: usize) -> String {
    format!(
        r#"{{"prompt_tokens":180,"completion_tokens":{pieces},"total_tokens":{}}}"#,
        180 + pieces
    )
}

fn responses() -> Responses {
    let head = format!(r#""id":"chatcmpl-bench","created":1767225600,"model":"{FAKE_MODEL}""#);
    let text: String = REPLY_PIECES.concat();
    let usage = usage(REPLY_PIECES.len());
    let unary_body = format!(
        r#"{{{head},"object":"chat.completion","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}","refusal":null}},"logprobs":null,"finish_reason":"stop"}}],"usage":{usage}}}"#
    );
    let unary = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{unary_body}",
        unary_body.len()
    );
    let stream = STREAM_HEAD.to_owned() + &stream_chunks(&head, &REPLY_PIECES).concat();
    let mut slow = vec![STREAM_HEAD.as_bytes().to_vec()];
    slow.extend(stream_chunks(&head, &SLOW_PIECES).into_iter().map(String::into_bytes));
    let not_found_body = r#"{"error":{"message":"not found","type":"invalid_request_error","param":null,"code":null}}"#;
    let not_found = format!(
        "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{not_found_body}",
        not_found_body.len()
    );
    Responses {
        unary: unary.into_bytes(),
        stream: stream.into_bytes(),
        slow,
        not_found: not_found.into_bytes(),
    }
}

/// Listens on a free port of 127.0.0.1 (a thread per connection) and returns the port.
pub fn start() -> Result<u16> {
    start_paced(Duration::ZERO)
}

/// As [`start`], but a streamed request that says "slowly" is answered with a longer reply, `pause` before each
/// chunk.
pub fn start_paced(pause: Duration) -> Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let responses = Arc::new(responses());
    thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let responses = responses.clone();
            thread::spawn(move || serve(stream, &responses, pause));
        }
    });
    Ok(port)
}

fn serve(stream: TcpStream, responses: &Responses, pause: Duration) {
    let _ = stream.set_nodelay(true);
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let mut body = Vec::new();
    loop {
        line.clear();
        if !matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
            return;
        }
        let known = line
            .split_whitespace()
            .nth(1)
            .is_some_and(|p| p.ends_with("/v1/chat/completions"));
        let mut length = 0;
        loop {
            line.clear();
            if !matches!(reader.read_line(&mut line), Ok(n) if n > 0) {
                return;
            }
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            if let Some((name, value)) = header.split_once(':')
                && name.eq_ignore_ascii_case("content-length")
            {
                length = value.trim().parse().unwrap_or(0);
            }
        }
        body.resize(length, 0);
        if reader.read_exact(&mut body).is_err() {
            return;
        }
        let streaming = body.windows(13).any(|w| w == br#""stream":true"#);
        if known && streaming && !pause.is_zero() && body.windows(6).any(|w| w.eq_ignore_ascii_case(b"slowly")) {
            for chunk in &responses.slow {
                // Closed by the caller (a Stop): end here, as a provider does when its client goes away.
                if writer.write_all(chunk).and_then(|()| writer.flush()).is_err() {
                    return;
                }
                thread::sleep(pause);
            }
            continue;
        }
        let response = match (known, streaming) {
            (false, _) => &responses.not_found,
            (true, true) => &responses.stream,
            (true, false) => &responses.unary,
        };
        if writer.write_all(response).is_err() {
            return;
        }
    }
}
