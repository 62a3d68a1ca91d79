//! A byte-level server-sent-events decoder that also catches raw JSON error lines.
//!
//! Why not only `eventsource-stream`: Gemini writes a mid-stream error as pretty-printed JSON with
//! no `data:` prefix, and Ollama writes a bare `{"error": ...}` line; a spec-only SSE parser drops
//! those lines silently. This decoder follows the SSE line rules (CR, LF or CRLF, even when the CR
//! and LF arrive in different reads; `data:` with or without one space; comments; multi-line
//! `data` joined with `\n`), decodes UTF-8 only once a whole line is buffered (so a character
//! split across reads is never damaged), and buffers lines that start a JSON value until the
//! value is complete.
//!
//! Every buffer is bounded: a line ([`LINE_LIMIT`]), one event's data ([`EVENT_LIMIT`]), a raw
//! JSON value ([`RAW_LIMIT`]), the whole body ([`STREAM_BYTES_LIMIT`]) and the reply text
//! ([`REPLY_TEXT_LIMIT`]). Passing one ends the stream with a 502 and drops the upstream
//! connection at once, so a server that streams megabytes without a newline costs at most
//! about one line limit of memory.

use futures::StreamExt;
use serde_json::Value;
use std::collections::VecDeque;

use super::{ChunkStream, StreamChunk, UpstreamError, transport_error};

/// Largest raw JSON value (outside `data:`) collected before giving up on it.
pub const RAW_LIMIT: usize = 64 * 1024;
/// Longest line accepted. Events here are small text deltas (no images are ever requested),
/// so this is generous without letting one line grow without end.
pub const LINE_LIMIT: usize = 1024 * 1024;
/// Largest data of one event (multi-line `data:` joined).
pub const EVENT_LIMIT: usize = 1024 * 1024;
/// Largest whole streamed body, framing and usage included.
pub const STREAM_BYTES_LIMIT: u64 = 8 * 1024 * 1024;
/// Largest reply text (the sum of the deltas): far above any output-token budget sent.
pub const REPLY_TEXT_LIMIT: usize = 256 * 1024;

/// What the decoder found.
#[derive(Debug, Clone, PartialEq)]
pub enum SseItem {
    /// The joined `data` of one event.
    Event(String),
    /// A complete JSON value written outside SSE framing.
    Raw(Value),
    /// Raw text that never became JSON.
    Garbage,
    /// A line or an event passed its limit; nothing more is decoded.
    TooLarge,
}

/// Incremental decoder; feed it bytes as they arrive.
#[derive(Debug, Default)]
pub struct SseDecoder {
    line: Vec<u8>,
    after_cr: bool,
    data: Option<String>,
    raw: String,
    /// Set once a limit was passed: the rest of the input is ignored.
    overflowed: bool,
}

impl SseDecoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds bytes; returns every item completed by them.
    pub fn feed(&mut self, bytes: &[u8]) -> Vec<SseItem> {
        let mut items = Vec::new();
        for &byte in bytes {
            if self.overflowed {
                break;
            }
            if self.after_cr {
                self.after_cr = false;
                if byte == b'\n' {
                    continue;
                }
            }
            match byte {
                b'\r' => {
                    self.after_cr = true;
                    self.end_line(&mut items);
                }
                b'\n' => self.end_line(&mut items),
                _ if self.line.len() >= LINE_LIMIT => self.overflow(&mut items),
                _ => self.line.push(byte),
            }
        }
        items
    }

    fn overflow(&mut self, items: &mut Vec<SseItem>) {
        self.overflowed = true;
        self.line = Vec::new();
        self.data = None;
        self.raw = String::new();
        items.push(SseItem::TooLarge);
    }

    /// Call at end of input. An event without its closing blank line is incomplete and dropped
    /// (per the SSE rules); leftover raw text is reported as garbage.
    pub fn finish(&mut self) -> Vec<SseItem> {
        let mut items = Vec::new();
        if self.overflowed {
            return items;
        }
        if !self.line.is_empty() {
            let line = std::mem::take(&mut self.line);
            let text = String::from_utf8_lossy(&line).into_owned();
            if !self.raw.is_empty() || starts_json(&text) {
                self.raw_line(&text, &mut items);
            }
        }
        if !self.raw.is_empty() {
            self.raw.clear();
            items.push(SseItem::Garbage);
        }
        self.data = None;
        items
    }

    fn end_line(&mut self, items: &mut Vec<SseItem>) {
        let line = std::mem::take(&mut self.line);
        let text = String::from_utf8_lossy(&line);
        if !self.raw.is_empty() {
            self.raw_line(&text, items);
            return;
        }
        if text.is_empty() {
            if let Some(data) = self.data.take() {
                items.push(SseItem::Event(data));
            }
            return;
        }
        if text.starts_with(':') {
            return;
        }
        if starts_json(&text) {
            self.raw_line(&text, items);
            return;
        }
        let (field, value) = match text.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (text.as_ref(), ""),
        };
        if field == "data" {
            let joined = self.data.as_ref().map_or(0, |data| data.len() + 1) + value.len();
            if joined > EVENT_LIMIT {
                drop(text);
                self.overflow(items);
                return;
            }
            match &mut self.data {
                Some(data) => {
                    data.push('\n');
                    data.push_str(value);
                }
                None => self.data = Some(value.to_owned()),
            }
        }
        // `event`, `id`, `retry` and unknown fields are ignored.
    }

    fn raw_line(&mut self, text: &str, items: &mut Vec<SseItem>) {
        self.raw.push_str(text);
        self.raw.push('\n');
        if let Ok(value) = serde_json::from_str::<Value>(&self.raw) {
            self.raw.clear();
            items.push(SseItem::Raw(value));
        } else if self.raw.len() > RAW_LIMIT {
            self.raw.clear();
            items.push(SseItem::Garbage);
        }
    }
}

fn starts_json(text: &str) -> bool {
    matches!(text.trim_start().as_bytes().first(), Some(b'{' | b'['))
}

/// What a provider's stream parser does with each decoded item.
pub trait EventParser: Send + 'static {
    /// One SSE event's data.
    fn on_event(&mut self, data: &str) -> Vec<Result<StreamChunk, UpstreamError>>;
    /// A raw JSON value outside SSE framing (usually an error).
    fn on_raw(&mut self, value: &Value) -> Vec<Result<StreamChunk, UpstreamError>>;
    /// End of input: the final `Done`, or an error when the stream was cut short.
    fn on_eof(&mut self) -> Result<StreamChunk, UpstreamError>;
}

struct Drive<P> {
    bytes: futures::stream::BoxStream<'static, Result<bytes::Bytes, reqwest::Error>>,
    decoder: SseDecoder,
    parser: P,
    pending: VecDeque<Result<StreamChunk, UpstreamError>>,
    finished: bool,
    /// Body bytes read so far.
    read: u64,
    /// Reply text passed on so far.
    text: usize,
}

impl<P: EventParser> Drive<P> {
    fn absorb(&mut self, items: Vec<SseItem>) {
        for item in items {
            let produced = match item {
                SseItem::Event(data) => self.parser.on_event(&data),
                SseItem::Raw(value) => self.parser.on_raw(&value),
                SseItem::Garbage => vec![Err(UpstreamError::bad("unparseable text in the model stream"))],
                SseItem::TooLarge => vec![Err(UpstreamError::bad(
                    "a line or event of the model stream is larger than this service accepts",
                ))],
            };
            self.pending.extend(produced);
        }
    }
}

/// Turns a response body into a chunk stream: deltas, then exactly one `Done` or one error.
pub fn drive<P: EventParser>(response: reqwest::Response, parser: P) -> ChunkStream {
    let state = Drive {
        bytes: response.bytes_stream().boxed(),
        decoder: SseDecoder::new(),
        parser,
        pending: VecDeque::new(),
        finished: false,
        read: 0,
        text: 0,
    };
    futures::stream::unfold(state, |mut state| async move {
        loop {
            if state.finished {
                return None;
            }
            if let Some(mut item) = state.pending.pop_front() {
                if let Ok(StreamChunk::Delta(text)) = &item {
                    state.text += text.len();
                    if state.text > REPLY_TEXT_LIMIT {
                        item = Err(UpstreamError::bad(
                            "the model reply is longer than this service accepts",
                        ));
                    }
                }
                if !matches!(item, Ok(StreamChunk::Delta(_))) {
                    state.finished = true;
                    state.pending.clear();
                    // Close the upstream connection now, not when the consumer lets go.
                    state.bytes = futures::stream::empty().boxed();
                }
                return Some((item, state));
            }
            match state.bytes.next().await {
                Some(Ok(bytes)) => {
                    state.read += bytes.len() as u64;
                    if state.read > STREAM_BYTES_LIMIT {
                        state.pending.push_back(Err(UpstreamError::bad(
                            "the model stream is larger than this service accepts",
                        )));
                        continue;
                    }
                    let items = state.decoder.feed(&bytes);
                    state.absorb(items);
                }
                Some(Err(err)) => {
                    let err = match transport_error(&err) {
                        UpstreamError::Timeout => UpstreamError::Timeout,
                        _ => UpstreamError::bad("model stream was cut off"),
                    };
                    state.pending.push_back(Err(err));
                }
                None => {
                    let items = state.decoder.finish();
                    state.absorb(items);
                    let last = state.parser.on_eof();
                    state.pending.push_back(last);
                }
            }
        }
    })
    .boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_in_pieces(input: &[u8], size: usize) -> Vec<SseItem> {
        let mut decoder = SseDecoder::new();
        let mut items = Vec::new();
        for piece in input.chunks(size) {
            items.extend(decoder.feed(piece));
        }
        items.extend(decoder.finish());
        items
    }

    #[test]
    fn any_split_gives_the_same_events() {
        let input = "data: {\"t\":\"olá ü 😀\"}\r\n\r\n: keep-alive\n\ndata:{\"t\":2}\n\nevent: x\ndata: a\ndata: b\r\rdata: c\n\n"
            .as_bytes();
        let expected = vec![
            SseItem::Event("{\"t\":\"olá ü 😀\"}".into()),
            SseItem::Event("{\"t\":2}".into()),
            SseItem::Event("a\nb".into()),
            SseItem::Event("c".into()),
        ];
        for size in 1..=input.len() {
            assert_eq!(decode_in_pieces(input, size), expected, "piece size {size}");
        }
    }

    #[test]
    fn raw_pretty_printed_json_is_collected() {
        let input =
            b"data: {\"a\":1}\r\n\r\n{\n  \"error\": {\n    \"code\": 503,\n    \"status\": \"UNAVAILABLE\"\n  }\n}\n";
        for size in 1..=input.len() {
            let items = decode_in_pieces(input, size);
            assert_eq!(items.len(), 2);
            assert!(matches!(&items[1], SseItem::Raw(v) if v["error"]["code"] == 503));
        }
    }

    #[test]
    fn raw_json_without_trailing_newline_is_parsed_at_eof() {
        let items = decode_in_pieces(b"{\"error\":\"boom\"}", 3);
        assert!(matches!(&items[0], SseItem::Raw(v) if v["error"] == "boom"));
    }

    #[test]
    fn a_line_without_end_stops_at_the_limit() {
        let mut decoder = SseDecoder::new();
        let mut items = decoder.feed(b"data: ");
        let piece = vec![b'a'; 64 * 1024];
        for _ in 0..(LINE_LIMIT / piece.len() + 2) {
            items.extend(decoder.feed(&piece));
        }
        assert_eq!(items, vec![SseItem::TooLarge]);
        assert!(decoder.line.capacity() <= LINE_LIMIT);
        // Nothing more is decoded, not even a well-formed event.
        assert!(decoder.feed(b"\n\ndata: x\n\n").is_empty());
        assert!(decoder.finish().is_empty());
    }

    #[test]
    fn an_event_of_many_data_lines_stops_at_the_limit() {
        let mut decoder = SseDecoder::new();
        let line = format!("data: {}\n", "b".repeat(1000));
        let mut items = Vec::new();
        for _ in 0..(EVENT_LIMIT / 1000 + 2) {
            items.extend(decoder.feed(line.as_bytes()));
        }
        assert_eq!(items, vec![SseItem::TooLarge]);
    }

    #[test]
    fn unterminated_event_and_garbage_at_eof() {
        assert!(decode_in_pieces(b"data: {\"a\":1}", 4).is_empty());
        assert_eq!(decode_in_pieces(b"{\"error\": {", 4), vec![SseItem::Garbage]);
    }
}
