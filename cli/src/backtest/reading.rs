//! Reading one log file as a stream of records, never the whole file at once.
//!
//! CloudTrail delivers `{"Records":[...]}` documents, gzipped; exports come as plain JSON (one
//! such document, an array of records, or one record) or as JSON lines. Compression is told by
//! the gzip magic bytes, whatever the name says. The decompressed bytes pass through a buffer of
//! bounded size: each record is parsed from the buffer with `serde_json`'s slice parser (as fast
//! as parsing a whole file in memory) and handed on, then dropped. A record or line larger than
//! the cap stops the file with a reason: a gzip bomb or a 5 GB line never fills the memory.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use flate2::bufread::MultiGzDecoder;
use serde::de::{DeserializeOwned, IgnoredAny};
use serde_json::{Map, Value};

/// The default cap on one record (or line): CloudTrail's records are at most a few hundred KB.
pub const DEFAULT_MAX_RECORD_BYTES: usize = 16 * 1024 * 1024;

/// How much is read from the file, and decompressed, at a time.
const CHUNK: usize = 256 * 1024;

/// Why a file could not be read to its end (the records before the problem were read).
#[derive(Debug, Clone, PartialEq)]
pub struct FileProblem {
    /// The category the summary counts: `corrupt gzip`, `truncated`, `not JSON`, ...
    pub reason: &'static str,
    /// What exactly, for the examples the summary names.
    pub detail: String,
}

impl FileProblem {
    fn new(reason: &'static str, detail: impl Into<String>) -> Self {
        Self {
            reason,
            detail: detail.into(),
        }
    }
}

pub const UNREADABLE: &str = "unreadable";
pub const CORRUPT_GZIP: &str = "corrupt gzip";
pub const TRUNCATED: &str = "truncated";
pub const NOT_JSON: &str = "not JSON";
pub const TOO_LARGE: &str = "record or line over the size cap";
pub const EMPTY: &str = "empty file";

/// One item of a file: a record's JSON, or a line of a JSON-lines file that is not JSON.
pub enum Item {
    Record(Value),
    NotJson(String),
}

/// Whether the file is read line by line (a JSON-lines export) or as JSON values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// `{"Records":[...]}` documents, arrays of records, or records, one after another.
    Values,
    /// One record per line; a line that is not JSON is skipped and the next one read.
    Lines,
}

/// Counts bytes as they are read from the file (compressed, as on disk): the progress shows it.
struct Counting<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

/// What reading a file found, besides its records.
#[derive(Debug, Default, Clone, Copy)]
pub struct FileRead {
    /// Whether the file was gzipped (by its magic bytes).
    pub gzipped: bool,
    /// Bytes after decompression.
    pub decompressed: u64,
}

/// Read `path`, calling `each` with every item in order. `Err` names what stopped the file;
/// the items before it were handed on.
/// `scratch` is the buffer, kept by the caller from file to file.
pub fn read_file(
    path: &Path,
    layout: Layout,
    max_record: usize,
    bytes_read: &Arc<AtomicU64>,
    scratch: &mut Vec<u8>,
    each: &mut dyn FnMut(Item),
) -> (FileRead, Result<(), FileProblem>) {
    let mut info = FileRead::default();
    let file = match File::open(path) {
        Ok(file) => file,
        Err(e) => return (info, Err(FileProblem::new(UNREADABLE, e.to_string()))),
    };
    let mut raw = BufReader::with_capacity(
        CHUNK,
        Counting {
            inner: file,
            read: bytes_read.clone(),
        },
    );
    let magic = match raw.fill_buf() {
        Ok(head) => head.starts_with(&[0x1f, 0x8b]),
        Err(e) => return (info, Err(FileProblem::new(UNREADABLE, e.to_string()))),
    };
    info.gzipped = magic;
    let source: Box<dyn Read> = if magic {
        Box::new(MultiGzDecoder::new(raw))
    } else {
        Box::new(raw)
    };
    let mut buffer = Buffer::new(source, max_record, magic, std::mem::take(scratch));
    let result = match layout {
        Layout::Values => values(&mut buffer, each),
        Layout::Lines => lines(&mut buffer, each),
    };
    info.decompressed = buffer.total;
    *scratch = buffer.buf;
    (info, result)
}

/// Decompressed bytes held between `start` and `end`, refilled from `source`; never more than
/// the cap plus one chunk.
struct Buffer {
    source: Box<dyn Read>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    cap: usize,
    gzipped: bool,
    total: u64,
}

impl Buffer {
    fn new(source: Box<dyn Read>, cap: usize, gzipped: bool, mut buf: Vec<u8>) -> Self {
        let cap = cap.max(1024);
        // A buffer grown for one large record goes back to its usual size for the next file.
        buf.truncate(CHUNK.min(cap) * 4);
        buf.shrink_to(CHUNK.min(cap) * 4);
        buf.resize(CHUNK.min(cap) * 4, 0);
        Self {
            source,
            buf,
            start: 0,
            end: 0,
            eof: false,
            cap,
            gzipped,
            total: 0,
        }
    }

    fn available(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn consume(&mut self, n: usize) {
        self.start += n;
    }

    /// Read more after what is held. `Ok(false)` at the end of the file. An error when what is
    /// held (one unfinished record) already reaches the cap, or the file cannot be read.
    fn fill(&mut self) -> Result<bool, FileProblem> {
        if self.eof {
            return Ok(false);
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end >= self.cap {
            return Err(FileProblem::new(
                TOO_LARGE,
                format!("a record or line larger than {} bytes", self.cap),
            ));
        }
        if self.buf.len() - self.end < CHUNK.min(self.cap) {
            let grown = (self.buf.len() * 2).min(self.cap + CHUNK);
            self.buf.resize(grown.max(self.end + CHUNK), 0);
        }
        loop {
            match self.source.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(false);
                }
                Ok(n) => {
                    self.end += n;
                    self.total += n as u64;
                    return Ok(true);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(self.read_error(e)),
            }
        }
    }

    fn read_error(&self, e: io::Error) -> FileProblem {
        match (self.gzipped, e.kind()) {
            (true, io::ErrorKind::UnexpectedEof) => {
                FileProblem::new(TRUNCATED, format!("the gzip stream ends early ({e})"))
            }
            (true, io::ErrorKind::InvalidInput | io::ErrorKind::InvalidData) => {
                FileProblem::new(CORRUPT_GZIP, e.to_string())
            }
            _ => FileProblem::new(UNREADABLE, e.to_string()),
        }
    }

    /// The next byte that is not whitespace, left in place; `None` at the end of the file.
    fn peek_past_whitespace(&mut self) -> Result<Option<u8>, FileProblem> {
        loop {
            let available = self.available();
            let blank = available
                .iter()
                .take_while(|b| b.is_ascii_whitespace())
                .count();
            self.consume(blank);
            if let Some(&b) = self.available().first() {
                return Ok(Some(b));
            }
            if !self.fill()? {
                return Ok(None);
            }
        }
    }

    /// Skip whitespace and the byte `expected`, or say what was found instead.
    fn expect(&mut self, expected: u8, within: &str) -> Result<(), FileProblem> {
        match self.peek_past_whitespace()? {
            Some(b) if b == expected => {
                self.consume(1);
                Ok(())
            }
            found => Err(self.unexpected(found, &format!("`{}` {within}", expected as char))),
        }
    }

    fn unexpected(&self, found: Option<u8>, expected: &str) -> FileProblem {
        match found {
            None => FileProblem::new(TRUNCATED, format!("the JSON ends where {expected} is due")),
            Some(b) => FileProblem::new(
                NOT_JSON,
                format!(
                    "expected {expected}, found `{}`",
                    (b as char).escape_default()
                ),
            ),
        }
    }

    /// Parse one JSON value at the current position, reading more until it is whole.
    fn value<T: DeserializeOwned>(&mut self) -> Result<(T, usize), FileProblem> {
        loop {
            let available = self.available();
            let mut stream = serde_json::Deserializer::from_slice(available).into_iter::<T>();
            match stream.next() {
                Some(Ok(value)) => {
                    let used = stream.byte_offset();
                    // A number at the very end of what is held may go on in the next chunk.
                    let self_delimited = matches!(available[used - 1], b'}' | b']' | b'"');
                    if used < available.len() || self_delimited || self.eof {
                        self.consume(used);
                        return Ok((value, used));
                    }
                }
                Some(Err(e)) if e.is_eof() && !self.eof => {}
                Some(Err(e)) if e.is_eof() => {
                    return Err(FileProblem::new(
                        TRUNCATED,
                        format!("the JSON ends mid-value ({e})"),
                    ));
                }
                Some(Err(e)) => return Err(FileProblem::new(NOT_JSON, e.to_string())),
                None if !self.eof => {}
                None => {
                    return Err(FileProblem::new(
                        TRUNCATED,
                        "the JSON ends where a value is due",
                    ));
                }
            }
            if !self.fill()? {
                // At the end: parse once more, with nothing left to wait for.
                continue;
            }
        }
    }
}

/// JSON values one after another: each `{"Records":[...]}` streamed record by record, each array
/// element by element, any other value handed on as a record (the converter judges it).
fn values(buffer: &mut Buffer, each: &mut dyn FnMut(Item)) -> Result<(), FileProblem> {
    if buffer.peek_past_whitespace()?.is_none() {
        return Err(FileProblem::new(EMPTY, "no JSON in it"));
    }
    while let Some(first) = buffer.peek_past_whitespace()? {
        match first {
            b'{' => object(buffer, each)?,
            b'[' => {
                buffer.consume(1);
                elements(buffer, each)?;
            }
            _ => {
                let (value, _) = buffer.value::<Value>()?;
                each(Item::Record(value));
            }
        }
    }
    Ok(())
}

/// A top-level object: a CloudTrail document when it has `Records` (streamed when it comes
/// first, as CloudTrail writes it), otherwise one record. Its size outside `Records` is capped.
fn object(buffer: &mut Buffer, each: &mut dyn FnMut(Item)) -> Result<(), FileProblem> {
    buffer.expect(b'{', "to open an object")?;
    let mut members = Map::new();
    let mut size = 0usize;
    let mut streamed = false;
    if buffer.peek_past_whitespace()? == Some(b'}') {
        buffer.consume(1);
        each(Item::Record(Value::Object(members)));
        return Ok(());
    }
    loop {
        let (key, used) = buffer.value::<String>()?;
        buffer.expect(b':', "after a key")?;
        if key == "Records" && members.is_empty() && !streamed {
            buffer.expect(b'[', "to open `Records`")?;
            elements(buffer, each)?;
            streamed = true;
        } else if streamed {
            // The rest of a CloudTrail document: nothing the backtest reads.
            buffer.value::<IgnoredAny>()?;
        } else {
            let (value, value_size) = buffer.value::<Value>()?;
            size += used + value_size;
            if size > buffer.cap {
                return Err(FileProblem::new(
                    TOO_LARGE,
                    format!("an object larger than {} bytes", buffer.cap),
                ));
            }
            members.insert(key, value);
        }
        match buffer.peek_past_whitespace()? {
            Some(b',') => buffer.consume(1),
            Some(b'}') => {
                buffer.consume(1);
                break;
            }
            found => return Err(buffer.unexpected(found, "`,` or `}` in an object")),
        }
    }
    if !streamed {
        match members.remove("Records") {
            Some(Value::Array(records)) => {
                for record in records {
                    each(Item::Record(record));
                }
            }
            Some(other) => {
                members.insert("Records".into(), other);
                each(Item::Record(Value::Object(members)));
            }
            None => each(Item::Record(Value::Object(members))),
        }
    }
    Ok(())
}

/// The elements of an array whose `[` is consumed, each handed on as a record.
fn elements(buffer: &mut Buffer, each: &mut dyn FnMut(Item)) -> Result<(), FileProblem> {
    if buffer.peek_past_whitespace()? == Some(b']') {
        buffer.consume(1);
        return Ok(());
    }
    loop {
        let (value, _) = buffer.value::<Value>()?;
        each(Item::Record(value));
        match buffer.peek_past_whitespace()? {
            Some(b',') => buffer.consume(1),
            Some(b']') => {
                buffer.consume(1);
                return Ok(());
            }
            found => return Err(buffer.unexpected(found, "`,` or `]` in an array")),
        }
    }
}

/// One record per line; blank lines are ignored, a line that is not JSON is handed on as such.
fn lines(buffer: &mut Buffer, each: &mut dyn FnMut(Item)) -> Result<(), FileProblem> {
    let mut searched = 0;
    loop {
        let available = buffer.available();
        if let Some(at) = available[searched..].iter().position(|&b| b == b'\n') {
            let line = &available[..searched + at];
            line_item(line, each);
            buffer.consume(searched + at + 1);
            searched = 0;
            continue;
        }
        searched = available.len();
        if !buffer.fill()? {
            let rest = buffer.available();
            line_item(rest, each);
            return Ok(());
        }
    }
}

fn line_item(line: &[u8], each: &mut dyn FnMut(Item)) {
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return;
    }
    match serde_json::from_slice::<Value>(line) {
        Ok(value) => each(Item::Record(value)),
        Err(e) => each(Item::NotJson(e.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn read(text: &[u8], layout: Layout, cap: usize) -> (Vec<String>, Result<(), FileProblem>) {
        let mut buffer = Buffer::new(Box::new(Cursor::new(text.to_vec())), cap, false, Vec::new());
        let mut items = Vec::new();
        let mut each = |item: Item| {
            items.push(match item {
                Item::Record(v) => v.to_string(),
                Item::NotJson(_) => "not json".to_string(),
            })
        };
        let result = match layout {
            Layout::Values => values(&mut buffer, &mut each),
            Layout::Lines => lines(&mut buffer, &mut each),
        };
        (items, result)
    }

    #[test]
    fn a_cloudtrail_document_is_read_record_by_record() {
        let (items, result) = read(
            br#" {"Records": [ {"a": 1}, {"b": "x"} , 7 ], "extra": [1]} "#,
            Layout::Values,
            1024,
        );
        assert_eq!(result, Ok(()));
        assert_eq!(items, [r#"{"a":1}"#, r#"{"b":"x"}"#, "7"]);
    }

    #[test]
    fn records_across_many_chunks_are_whole() {
        let record = format!(r#"{{"k": "{}", "n": 12345}}"#, "v".repeat(700_000));
        let text = format!(r#"{{"Records":[{record},{record},{record}]}}"#);
        let (items, result) = read(text.as_bytes(), Layout::Values, 1 << 20);
        assert_eq!(result, Ok(()));
        assert_eq!(items.len(), 3);
        assert!(
            items
                .iter()
                .all(|i| i.ends_with(r#","n":12345}"#) || i.contains("12345"))
        );
    }

    #[test]
    fn other_shapes_are_records_too() {
        let (items, result) = read(
            br#"{"eventName": "X", "Records": [1, 2]} [{"c": 3}] {"d": 4}"#,
            Layout::Values,
            1024,
        );
        assert_eq!(result, Ok(()));
        assert_eq!(items, ["1", "2", r#"{"c":3}"#, r#"{"d":4}"#]);
    }

    #[test]
    fn a_record_over_the_cap_stops_the_file() {
        let text = format!(
            r#"{{"Records":[{{"a":1}},{{"k":"{}"}}]}}"#,
            "v".repeat(10_000)
        );
        let (items, result) = read(text.as_bytes(), Layout::Values, 2048);
        assert_eq!(items, [r#"{"a":1}"#]);
        assert_eq!(result.unwrap_err().reason, TOO_LARGE);
    }

    #[test]
    fn broken_json_is_named() {
        let (items, result) = read(br#"{"Records":[{"a":1},{"b":"#, Layout::Values, 1024);
        assert_eq!(items.len(), 1);
        assert_eq!(result.unwrap_err().reason, TRUNCATED);
        let (_, result) = read(b"hello world", Layout::Values, 1024);
        assert_eq!(result.unwrap_err().reason, NOT_JSON);
        let (_, result) = read(b"  \n", Layout::Values, 1024);
        assert_eq!(result.unwrap_err().reason, EMPTY);
    }

    #[test]
    fn json_lines_skip_bad_lines_and_cap_long_ones() {
        let (items, result) = read(b"{\"a\":1}\n\nnope\n{\"b\":2}", Layout::Lines, 1024);
        assert_eq!(result, Ok(()));
        assert_eq!(items, [r#"{"a":1}"#, "not json", r#"{"b":2}"#]);
        let long = format!("{{\"a\":1}}\n\"{}\"\n", "x".repeat(5000));
        let (items, result) = read(long.as_bytes(), Layout::Lines, 1024);
        assert_eq!(items.len(), 1);
        assert_eq!(result.unwrap_err().reason, TOO_LARGE);
    }
}
