//! A static file server on 127.0.0.1 that serves a built site under a sub-path
//! the way GitHub Pages does: files by path, and for every missing path the
//! site's `404.html` with status 404. GET and HEAD; one thread per connection.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

/// Serves `root` at `http://127.0.0.1:<port>/<prefix>/`; returns the base URL.
pub fn serve(root: &Path, prefix: &str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let root = root.to_path_buf();
    let prefix = format!("/{}/", prefix.trim_matches('/'));
    let base = format!("http://127.0.0.1:{port}{prefix}");
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (root, prefix) = (root.clone(), prefix.clone());
            std::thread::spawn(move || {
                let _ = handle(stream, &root, &prefix);
            });
        }
    });
    base
}

fn handle(mut s: std::net::TcpStream, root: &Path, prefix: &str) -> std::io::Result<()> {
    let mut reader = BufReader::new(s.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h)? == 0 || h == "\r\n" || h == "\n" {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("");
    let target = parts.next().unwrap_or("/");
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let file: Option<PathBuf> = path.strip_prefix(prefix).and_then(|rel| {
        let rel = if rel.is_empty() || rel.ends_with('/') {
            format!("{rel}index.html")
        } else {
            rel.to_string()
        };
        if rel.split('/').any(|p| p == "..") {
            return None;
        }
        let p = root.join(rel);
        p.is_file().then_some(p)
    });
    let (status, p) = match file {
        Some(p) => ("200 OK", p),
        None => ("404 Not Found", root.join("404.html")),
    };
    let body = std::fs::read(&p)?;
    let ctype = match p.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("css") => "text/css",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    };
    write!(
        s,
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if method != "HEAD" {
        s.write_all(&body)?;
    }
    Ok(())
}
