//! The pure half of the `mcp` probe: the JSON-RPC `initialize` request warden sends, and
//! the reading of the answer, either a JSON body or a server-sent event stream.
//!
//! An MCP server on the streamable HTTP transport answers a POSTed request with
//! `application/json` (the response itself) or `text/event-stream` (SSE, in which
//! notifications and requests of the server may come before the response). The probe
//! accepts the answer when the response to its request (`id` 1) has a `result` whose
//! `serverInfo.name` is a string. No I/O here: [`probe`](super::probe) sends the request
//! and feeds the bytes it receives; everything else is unit-tested below.

use serde_json::{json, Value};

use crate::text::one_line;

/// The protocol revision warden asks for. A server that speaks another one answers
/// with its own, which is fine for a probe: warden only reads `serverInfo`.
pub const PROTOCOL_VERSION: &str = "2025-06-18";

/// The JSON-RPC id of the `initialize` request; the response must carry it.
pub const REQUEST_ID: i64 = 1;

/// Header with which a server names the session the `initialize` created.
pub const SESSION_HEADER: &str = "mcp-session-id";

/// Header that tells the server the negotiated protocol revision on later requests.
pub const PROTOCOL_HEADER: &str = "mcp-protocol-version";

/// The longest answer (a JSON body, or one event of a stream) warden reads. An
/// `initialize` result is a few hundred bytes; this only stops a runaway server from
/// growing warden's memory.
pub const MAX_ANSWER: usize = 1 << 20;

/// The body of the `initialize` request.
pub fn initialize_request() -> Vec<u8> {
    let request = json!({
        "jsonrpc": "2.0",
        "id": REQUEST_ID,
        "method": "initialize",
        "params": {
            "protocolVersion": PROTOCOL_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "warden", "version": env!("CARGO_PKG_VERSION")},
        },
    });
    request.to_string().into_bytes()
}

/// What a server said about itself in its `initialize` result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerInfo {
    pub name: String,
    pub version: Option<String>,
    /// The protocol revision the server chose, sent back on the session's `DELETE`.
    pub protocol_version: Option<String>,
}

impl ServerInfo {
    /// The probe's message on success: `MCP server NAME VERSION`, one line, bounded.
    pub fn describe(&self) -> String {
        let text = match &self.version {
            Some(version) => format!("MCP server {} {}", self.name, version),
            None => format!("MCP server {}", self.name),
        };
        one_line(&text, 200)
    }
}

/// The answer is not a valid `initialize` response; the string says why, for an
/// operator (`no serverInfo in result`, `error -32600: Bad Request`, ...).
pub type Invalid = String;

/// Reads an `application/json` answer: one JSON-RPC message, or a batch holding the
/// response.
pub fn parse_json_body(body: &[u8]) -> Result<ServerInfo, Invalid> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not JSON ({e})"))?;
    if let Value::Array(batch) = &value {
        return batch
            .iter()
            .find_map(response)
            .unwrap_or_else(|| Err(format!("no response with id {REQUEST_ID} in the batch")));
    }
    match response(&value) {
        Some(verdict) => verdict,
        None => Err(format!("expected the response to initialize, got {}", kind(&value))),
    }
}

/// What a JSON-RPC message means for the probe: `None` when it is not a response (a
/// notification or a request of the server, which a stream may carry before the
/// response), else the verdict on it.
fn response(message: &Value) -> Option<Result<ServerInfo, Invalid>> {
    let object = message.as_object()?;
    let error = object.get("error");
    let result = object.get("result");
    if error.is_none() && result.is_none() {
        return None;
    }
    let id = object.get("id").unwrap_or(&Value::Null);
    // A server that could not read the request at all answers with an error and id null.
    let ours = id.as_i64() == Some(REQUEST_ID) || (id.is_null() && error.is_some());
    if !ours {
        return Some(Err(format!(
            "response has id {}, expected {REQUEST_ID}",
            one_line(&id.to_string(), 40)
        )));
    }
    if let Some(error) = error {
        return Some(Err(describe_error(error)));
    }
    Some(server_info(result.unwrap_or(&Value::Null)))
}

fn server_info(result: &Value) -> Result<ServerInfo, Invalid> {
    let result = result.as_object().ok_or("result is not an object")?;
    let info = result.get("serverInfo").ok_or("no serverInfo in result")?;
    let name = info
        .get("name")
        .and_then(Value::as_str)
        .ok_or("serverInfo.name is not a string")?;
    Ok(ServerInfo {
        name: name.to_string(),
        version: info.get("version").and_then(Value::as_str).map(str::to_string),
        protocol_version: result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

/// `error CODE: MESSAGE` from a JSON-RPC error object.
fn describe_error(error: &Value) -> Invalid {
    let code = error.get("code").and_then(Value::as_i64);
    let message = error.get("message").and_then(Value::as_str).unwrap_or("");
    let text = match (code, message.is_empty()) {
        (Some(code), false) => format!("error {code}: {message}"),
        (Some(code), true) => format!("error {code}"),
        (None, false) => format!("error: {message}"),
        (None, true) => "error".to_string(),
    };
    one_line(&text, 200)
}

/// A message's kind, for the failure when a JSON body is not a response.
fn kind(message: &Value) -> String {
    match message.get("method").and_then(Value::as_str) {
        Some(method) => format!("a message with method {}", one_line(method, 60)),
        None if message.is_object() => "an object that is not a JSON-RPC response".to_string(),
        None => "JSON that is not a JSON-RPC message".to_string(),
    }
}

/// Reads a `text/event-stream` answer as its bytes arrive, so the probe can stop at the
/// response instead of waiting for the server to end the stream.
#[derive(Debug, Default)]
pub struct SseAnswer {
    events: SseParser,
}

impl SseAnswer {
    /// Feeds the next bytes of the stream. `Some` once the answer is decided: the
    /// response to `initialize` was found (and judged), or the stream is unreadable.
    pub fn push(&mut self, bytes: &[u8]) -> Option<Result<ServerInfo, Invalid>> {
        let events = match self.events.push(bytes) {
            Ok(events) => events,
            Err(e) => return Some(Err(e)),
        };
        for event in events {
            // Only `message` events (the default type) carry JSON-RPC messages; an event
            // with empty data (a keep-alive) carries none.
            if event.event.as_deref().is_some_and(|t| t != "message") || event.data.trim().is_empty() {
                continue;
            }
            let message: Value = match serde_json::from_str(&event.data) {
                Ok(message) => message,
                Err(e) => return Some(Err(format!("event is not JSON ({e})"))),
            };
            if let Some(verdict) = response(&message) {
                return Some(verdict);
            }
        }
        None
    }

    /// The failure when the stream ended before the response.
    pub fn ended() -> Invalid {
        format!("the event stream ended without the response to initialize (id {REQUEST_ID})")
    }
}

/// One dispatched server-sent event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field; `None` means the default type, `message`.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
}

/// An incremental parser of the SSE wire format (the HTML standard's "event stream
/// interpretation"): lines end with CRLF, LF or CR, a blank line dispatches the event,
/// lines starting with `:` are comments, an event without data is not dispatched, and an
/// event cut off by the end of the stream is discarded.
#[derive(Debug, Default)]
pub struct SseParser {
    /// The current, incomplete line.
    line: Vec<u8>,
    /// The previous byte was a CR, so a LF right after it ends nothing.
    after_cr: bool,
    data: String,
    has_data: bool,
    event: Option<String>,
}

impl SseParser {
    /// Feeds bytes (split anywhere, even inside a CRLF or a UTF-8 sequence) and returns
    /// the events they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<SseEvent>, Invalid> {
        let mut events = Vec::new();
        for &byte in bytes {
            let after_cr = std::mem::replace(&mut self.after_cr, byte == b'\r');
            match byte {
                b'\n' if after_cr => {}
                b'\n' | b'\r' => {
                    let line = std::mem::take(&mut self.line);
                    if let Some(event) = self.line_done(&line) {
                        events.push(event);
                    }
                }
                _ => {
                    self.line.push(byte);
                    if self.line.len() + self.data.len() > MAX_ANSWER {
                        return Err(format!("an event is larger than {} KiB", MAX_ANSWER / 1024));
                    }
                }
            }
        }
        Ok(events)
    }

    fn line_done(&mut self, line: &[u8]) -> Option<SseEvent> {
        if line.is_empty() {
            let data = std::mem::take(&mut self.data);
            let event = self.event.take();
            if !std::mem::replace(&mut self.has_data, false) {
                return None;
            }
            return Some(SseEvent { event, data });
        }
        if line[0] == b':' {
            return None;
        }
        let line = String::from_utf8_lossy(line);
        let (field, value) = match line.split_once(':') {
            Some((field, value)) => (field, value.strip_prefix(' ').unwrap_or(value)),
            None => (line.as_ref(), ""),
        };
        match field {
            "data" => {
                if self.has_data {
                    self.data.push('\n');
                }
                self.data.push_str(value);
                self.has_data = true;
            }
            "event" => self.event = Some(value.to_string()),
            // `id` and `retry` only matter to a client that reconnects.
            _ => {}
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{},"serverInfo":{"name":"my-server","version":"1.2.0"}}}"#;

    fn info() -> ServerInfo {
        ServerInfo {
            name: "my-server".into(),
            version: Some("1.2.0".into()),
            protocol_version: Some("2025-06-18".into()),
        }
    }

    #[test]
    fn the_request_is_an_initialize_with_id_1() {
        let request: Value = serde_json::from_slice(&initialize_request()).unwrap();
        assert_eq!(request["jsonrpc"], "2.0");
        assert_eq!(request["id"], 1);
        assert_eq!(request["method"], "initialize");
        assert_eq!(request["params"]["protocolVersion"], "2025-06-18");
        assert_eq!(request["params"]["capabilities"], json!({}));
        assert_eq!(request["params"]["clientInfo"]["name"], "warden");
        assert_eq!(request["params"]["clientInfo"]["version"], env!("CARGO_PKG_VERSION"));
    }

    #[test]
    fn a_json_result_with_server_info_is_accepted() {
        assert_eq!(parse_json_body(OK.as_bytes()), Ok(info()));
        assert_eq!(info().describe(), "MCP server my-server 1.2.0");
        let bare = r#"{"jsonrpc":"2.0","id":1,"result":{"serverInfo":{"name":"x"}}}"#;
        let parsed = parse_json_body(bare.as_bytes()).unwrap();
        assert_eq!(parsed.describe(), "MCP server x");
    }

    #[test]
    fn json_failures_say_why() {
        let cases = [
            (
                r#"{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"Bad Request"}}"#,
                "error -32600: Bad Request",
            ),
            (
                r#"{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}"#,
                "error -32700: Parse error",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":{"capabilities":{}}}"#,
                "no serverInfo in result",
            ),
            (
                r#"{"jsonrpc":"2.0","id":1,"result":{"serverInfo":{"name":7}}}"#,
                "serverInfo.name is not a string",
            ),
            (r#"{"jsonrpc":"2.0","id":1,"result":[]}"#, "result is not an object"),
            (
                r#"{"jsonrpc":"2.0","id":2,"result":{"serverInfo":{"name":"x"}}}"#,
                "response has id 2, expected 1",
            ),
            (
                r#"{"jsonrpc":"2.0","id":"1","result":{"serverInfo":{"name":"x"}}}"#,
                "response has id \"1\", expected 1",
            ),
            (
                r#"{"jsonrpc":"2.0","method":"notifications/message"}"#,
                "got a message with method notifications/message",
            ),
            (
                r#"[{"jsonrpc":"2.0","method":"x"}]"#,
                "no response with id 1 in the batch",
            ),
            ("<html>hello</html>", "not JSON (expected value at line 1 column 1)"),
            ("", "not JSON (EOF while parsing a value at line 1 column 0)"),
        ];
        for (body, reason) in cases {
            let got = parse_json_body(body.as_bytes()).unwrap_err();
            assert!(got.ends_with(reason), "{body}: got {got:?}, expected …{reason:?}");
        }
    }

    #[test]
    fn a_batch_holding_the_response_is_accepted() {
        let batch = format!(r#"[{{"jsonrpc":"2.0","method":"notifications/x"}},{OK}]"#);
        assert_eq!(parse_json_body(batch.as_bytes()), Ok(info()));
    }

    #[test]
    fn messages_from_the_server_are_one_bounded_line() {
        let long = "x".repeat(500);
        let body = format!(r#"{{"jsonrpc":"2.0","id":1,"error":{{"code":1,"message":"a\nb{long}"}}}}"#);
        let got = parse_json_body(body.as_bytes()).unwrap_err();
        assert!(!got.contains('\n'), "{got:?}");
        assert!(got.chars().count() <= 200, "{}", got.len());
        assert!(got.starts_with("error 1: a b"), "{got:?}");
    }

    /// Feeds `stream` split at every position (and byte by byte) and returns the verdicts.
    fn sse_verdicts(stream: &str) -> Vec<Option<Result<ServerInfo, Invalid>>> {
        let bytes = stream.as_bytes();
        let mut verdicts = Vec::new();
        for split in 0..=bytes.len() {
            let mut answer = SseAnswer::default();
            let first = answer.push(&bytes[..split]);
            verdicts.push(first.or_else(|| answer.push(&bytes[split..])));
        }
        let mut answer = SseAnswer::default();
        verdicts.push(bytes.iter().find_map(|b| answer.push(std::slice::from_ref(b))));
        verdicts
    }

    #[test]
    fn sse_response_after_a_notification_is_found_at_any_split() {
        let stream = format!(
            ": a comment\r\n\
             event: message\r\n\
             data: {{\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\",\"params\":{{\"level\":\"info\"}}}}\r\n\
             \r\n\
             event: ping\n\
             data: not json\n\
             \n\
             id: 7\n\
             event: message\n\
             data: {OK}\n\
             \n"
        );
        for verdict in sse_verdicts(&stream) {
            assert_eq!(verdict, Some(Ok(info())));
        }
    }

    #[test]
    fn sse_data_lines_of_one_event_are_joined() {
        let (head, tail) = OK.split_at(OK.find("\"result\"").unwrap());
        let stream = format!("data:{head}\rdata: {tail}\r\r");
        for verdict in sse_verdicts(&stream) {
            assert_eq!(verdict, Some(Ok(info())));
        }
    }

    #[test]
    fn sse_stops_at_the_response_without_waiting_for_the_end() {
        let mut answer = SseAnswer::default();
        assert_eq!(
            answer.push(b"event: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"x\"}\n\n"),
            None
        );
        assert_eq!(
            answer.push(format!("data: {OK}\n").as_bytes()),
            None,
            "not dispatched before the blank line"
        );
        assert_eq!(answer.push(b"\n"), Some(Ok(info())));
    }

    #[test]
    fn sse_failures_say_why() {
        let cases = [
            (
                r#"data: {"jsonrpc":"2.0","id":1,"error":{"code":-32000,"message":"boom"}}"#,
                "error -32000: boom",
            ),
            (
                r#"data: {"jsonrpc":"2.0","id":1,"result":{}}"#,
                "no serverInfo in result",
            ),
            (
                r#"data: {"jsonrpc":"2.0","id":5,"result":{}}"#,
                "response has id 5, expected 1",
            ),
            ("data: garbage", "event is not JSON (expected value at line 1 column 1)"),
        ];
        for (event, reason) in cases {
            for verdict in sse_verdicts(&format!("{event}\n\n")) {
                assert_eq!(verdict, Some(Err(reason.to_string())), "{event}");
            }
        }
    }

    #[test]
    fn an_sse_event_cut_off_by_the_end_is_not_an_answer() {
        let mut answer = SseAnswer::default();
        assert_eq!(answer.push(format!("data: {OK}\n").as_bytes()), None);
        assert!(SseAnswer::ended().contains("ended without the response"));
    }

    #[test]
    fn sse_events_without_data_are_not_dispatched() {
        let mut parser = SseParser::default();
        let events = parser
            .push(b"event: message\n\n:keep-alive\n\nretry: 100\n\ndata\n\n")
            .unwrap();
        assert_eq!(
            events,
            vec![SseEvent {
                event: None,
                data: String::new()
            }]
        );
    }

    #[test]
    fn a_runaway_event_is_cut_off() {
        let mut parser = SseParser::default();
        let chunk = vec![b'x'; 64 * 1024];
        let mut result = Ok(vec![]);
        for _ in 0..=MAX_ANSWER / chunk.len() {
            result = parser.push(&chunk);
            if result.is_err() {
                break;
            }
        }
        assert_eq!(result, Err("an event is larger than 1024 KiB".to_string()));
    }
}
