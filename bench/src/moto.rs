//! The emulator's own latency per call, so the end-to-end figures can be read apart from it:
//! the same read Reflex makes first (`iam:ListUserTags`), sent over a new loopback
//! connection as the SDK sends it (the emulator closes each), timed from the connect to the
//! whole answer in.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::time::Instant;

/// `n` timed calls to the emulator at `endpoint` (`http://127.0.0.1:PORT`), in milliseconds.
/// Each on a new connection: the emulator answers HTTP/1.0 and closes, so the SDK connects anew
/// for every call too.
pub fn call_latency(endpoint: &str, user: &str, n: usize) -> Result<Vec<f64>, String> {
    let addr = endpoint.trim_start_matches("http://");
    let body = format!("Action=ListUserTags&Version=2010-05-08&UserName={user}");
    // moto routes by the signature's credential scope; it does not check the signature.
    let request = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Authorization: AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/iam/aws4_request, \
         SignedHeaders=host, Signature=0\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let sent = Instant::now();
        let stream = TcpStream::connect(addr).map_err(|e| format!("connecting to {addr}: {e}"))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        (&stream)
            .write_all(request.as_bytes())
            .map_err(|e| format!("sending to the emulator: {e}"))?;
        let status = read_answer(&mut BufReader::new(stream))?;
        times.push(crate::lambda::millis(sent.elapsed()));
        if status != 200 {
            return Err(format!(
                "the emulator answered ListUserTags with HTTP {status}"
            ));
        }
    }
    Ok(times)
}

/// Read one whole HTTP answer (`Content-Length` or chunked); its status.
fn read_answer(reader: &mut BufReader<TcpStream>) -> Result<u16, String> {
    let mut line = String::new();
    let read = |reader: &mut BufReader<TcpStream>, line: &mut String| {
        line.clear();
        reader
            .read_line(line)
            .map_err(|e| format!("reading the emulator's answer: {e}"))
    };
    read(reader, &mut line)?;
    let status = line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {line:?}"))?;
    let (mut length, mut chunked) = (0usize, false);
    loop {
        read(reader, &mut line)?;
        if line == "\r\n" || line.is_empty() {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            } else if k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked") {
                chunked = true;
            }
        }
    }
    if !chunked {
        let mut body = vec![0; length];
        reader.read_exact(&mut body).map_err(|e| e.to_string())?;
        return Ok(status);
    }
    loop {
        read(reader, &mut line)?;
        let size = usize::from_str_radix(line.trim(), 16).map_err(|e| e.to_string())?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).map_err(|e| e.to_string())?;
        if size == 0 {
            return Ok(status);
        }
    }
}
