//! `examples/glance_api` as it runs: the binary built and started as an operator starts it
//! (`--workers 2 --data-dir DIR`), spoken to over real sockets. Create, uploads with a
//! Content-Length and chunked, downloads byte for byte and by Range, `saving` stored before
//! the body is read, a restart on the same data directory, concurrent uploads landing on
//! both worker processes, and the workers' memory staying small while images stream.

#[macro_use]
mod common;

use std::io::{Read, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::*;
use md5::{Digest, Md5};

/// A data directory removed at the end.
struct DataDir(PathBuf);

impl DataDir {
    fn new(tag: &str) -> DataDir {
        let dir = std::env::temp_dir().join(format!(
            "may_wsgi_glance_{tag}_{}_{}",
            class().name(),
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        DataDir(dir)
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn glance_api(data_dir: &Path) -> Process {
    let dir = data_dir.to_str().unwrap();
    let args = [
        "--bind",
        "127.0.0.1:0",
        "--workers",
        "2",
        "--no-access-log",
        "--data-dir",
        dir,
        "--worker-class",
        class().name(),
    ];
    Process::start(&example("glance_api"), &args, "listening at http://")
}

/// One request on its own connection.
fn request(addr: SocketAddr, method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Response {
    let mut c = Client::connect(addr);
    let mut head = format!(
        "{method} {target} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n",
        addr.port()
    );
    for (n, v) in headers {
        head.push_str(&format!("{n}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" || method == "PUT" {
        head.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    head.push_str("\r\n");
    c.send(head.as_bytes());
    c.send(body);
    c.response_to(method).unwrap()
}

fn json(r: &Response) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", r.text()))
}

fn create(addr: SocketAddr) -> String {
    let body = br#"{"name": "cirros", "disk_format": "raw", "container_format": "bare"}"#;
    let r = request(
        addr,
        "POST",
        "/v2/images",
        &[("Content-Type", "application/json")],
        body,
    );
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        r.header("Location").unwrap(),
        format!(
            "http://127.0.0.1:{}/v2/images/{}",
            addr.port(),
            json(&r)["id"].as_str().unwrap()
        )
    );
    json(&r)["id"].as_str().unwrap().to_owned()
}

fn show(addr: SocketAddr, id: &str) -> serde_json::Value {
    let r = request(addr, "GET", &format!("/v2/images/{id}"), &[], b"");
    assert_eq!(r.status, 200, "{}", r.text());
    json(&r)
}

/// Sends the head of a chunked upload; the caller sends the chunks.
fn start_chunked_upload(addr: SocketAddr, id: &str, size: Option<usize>) -> Client {
    let mut c = Client::connect(addr);
    let mut head = format!(
        "PUT /v2/images/{id}/file HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n"
    );
    if let Some(size) = size {
        head.push_str(&format!("x-openstack-image-size: {size}\r\n"));
    }
    head.push_str("\r\n");
    c.send(head.as_bytes());
    c
}

fn send_chunk(c: &mut Client, data: &[u8]) {
    c.send(format!("{:x}\r\n", data.len()).as_bytes());
    c.send(data);
    c.send(b"\r\n");
}

fn finish_chunked(mut c: Client) -> Response {
    c.send(b"0\r\n\r\n");
    c.response_to("PUT").unwrap()
}

/// Deterministic image bytes.
fn image_data(len: usize, seed: u32) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).max(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

/// Uploads `data` chunked in 1 MiB chunks (as glanceclient does), with the size header.
fn upload_chunked(addr: SocketAddr, id: &str, data: &[u8]) -> Response {
    let mut c = start_chunked_upload(addr, id, Some(data.len()));
    // The server may answer before the body is in (409: another upload holds the image)
    // and stop reading; then the rest cannot be sent, and its answer is what counts.
    let _ = data
        .chunks(1 << 20)
        .try_for_each(|chunk| {
            c.try_send(format!("{:x}\r\n", chunk.len()).as_bytes())?;
            c.try_send(chunk)?;
            c.try_send(b"\r\n")
        })
        .and_then(|()| c.try_send(b"0\r\n\r\n"));
    c.response_to("PUT").unwrap()
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

fn upload_and_download_over_sockets() {
    let dir = DataDir::new("updown");
    let p = glance_api(&dir.0);
    let addr = p.addr;

    // With a Content-Length.
    let id = create(addr);
    let data = image_data(3 << 20, 1);
    let r = request(
        addr,
        "PUT",
        &format!("/v2/images/{id}/file"),
        &[("Content-Type", "application/octet-stream")],
        &data,
    );
    assert_eq!(r.status, 204, "{}", r.text());
    assert!(r.header("x-openstack-request-id").unwrap().starts_with("req-"));
    let image = show(addr, &id);
    assert_eq!(image["status"], "active");
    assert_eq!(image["size"], data.len());
    assert_eq!(image["checksum"], md5_hex(&data));
    let r = request(addr, "GET", &format!("/v2/images/{id}/file"), &[], b"");
    assert_eq!(r.status, 200);
    assert!(r.body == data, "the download is the upload, byte for byte");
    assert_eq!(r.header("Content-MD5"), Some(md5_hex(&data).as_str()));

    // Chunked, in glanceclient's 1 MiB chunks, and by Range.
    let id = create(addr);
    let data = image_data((5 << 20) + 123, 2);
    let r = upload_chunked(addr, &id, &data);
    assert_eq!(r.status, 204, "{}", r.text());
    let r = request(addr, "GET", &format!("/v2/images/{id}/file"), &[], b"");
    assert!(r.body == data);
    let r = request(
        addr,
        "GET",
        &format!("/v2/images/{id}/file"),
        &[("Range", "bytes=1000-1999999")],
        b"",
    );
    assert_eq!(r.status, 206);
    assert_eq!(
        r.header("Content-Range").unwrap(),
        format!("bytes 1000-1999999/{}", data.len())
    );
    assert!(r.body == data[1000..2_000_000]);
    let r = request(
        addr,
        "GET",
        &format!("/v2/images/{id}/file"),
        &[("Range", "bytes=-10")],
        b"",
    );
    assert_eq!(r.body, &data[data.len() - 10..]);
    let r = request(
        addr,
        "GET",
        &format!("/v2/images/{id}/file"),
        &[("Range", "bytes=99999999-")],
        b"",
    );
    assert_eq!(r.status, 416);
}

fn saving_is_stored_before_the_body_is_read() {
    let dir = DataDir::new("saving");
    let p = glance_api(&dir.0);
    let addr = p.addr;
    let id = create(addr);
    let data = image_data(4 << 20, 3);
    let mut c = start_chunked_upload(addr, &id, Some(data.len()));
    send_chunk(&mut c, &data[..1 << 20]);
    // The other worker, or this one, sees `saving` while the upload waits.
    assert!(eventually(|| show(addr, &id)["status"] == "saving"));
    let r = request(addr, "GET", &format!("/v2/images/{id}/file"), &[], b"");
    assert_eq!(r.status, 204);
    let r = request(
        addr,
        "PUT",
        &format!("/v2/images/{id}/file"),
        &[("Content-Type", "application/octet-stream")],
        b"x",
    );
    assert_eq!(r.status, 409);
    assert!(r
        .text()
        .contains("Image status transition from saving to saving is not allowed"));
    for chunk in data[1 << 20..].chunks(1 << 20) {
        send_chunk(&mut c, chunk);
    }
    let r = finish_chunked(c);
    assert_eq!(r.status, 204, "{}", r.text());
    assert_eq!(show(addr, &id)["status"], "active");

    // Deleted while its data streams: 410 Gone, and the data is not kept.
    let id = create(addr);
    let mut c = start_chunked_upload(addr, &id, None);
    send_chunk(&mut c, &data[..1 << 20]);
    assert!(eventually(|| show(addr, &id)["status"] == "saving"));
    assert_eq!(
        request(addr, "DELETE", &format!("/v2/images/{id}"), &[], b"").status,
        204
    );
    send_chunk(&mut c, &data[1 << 20..2 << 20]);
    let r = finish_chunked(c);
    assert_eq!(r.status, 410, "{}", r.text());
    assert!(r
        .text()
        .contains(&format!("Image {id} could not be found after upload.")));
    assert!(!dir.0.join("images").join(&id).exists());

    // A body shorter than its declared size: 400, back to queued, no file.
    let id = create(addr);
    let mut c = start_chunked_upload(addr, &id, Some(100));
    send_chunk(&mut c, &[7u8; 40]);
    let r = finish_chunked(c);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Size mismatch: expected 100 bytes, got 40 bytes"));
    assert_eq!(show(addr, &id)["status"], "queued");
    assert!(!dir.0.join("images").join(&id).exists());
}

fn a_restart_on_the_same_data_dir_finds_everything() {
    let dir = DataDir::new("restart");
    let data = image_data(1 << 20, 4);
    let (id, queued) = {
        let p = glance_api(&dir.0);
        let id = create(p.addr);
        assert_eq!(upload_chunked(p.addr, &id, &data).status, 204);
        let queued = create(p.addr);
        (id, queued)
        // dropped: the server is killed (SIGKILL), nothing shuts down cleanly.
    };
    let p = glance_api(&dir.0);
    let image = show(p.addr, &id);
    assert_eq!(image["status"], "active");
    assert_eq!(image["checksum"], md5_hex(&data));
    assert_eq!(show(p.addr, &queued)["status"], "queued");
    let r = request(p.addr, "GET", &format!("/v2/images/{id}/file"), &[], b"");
    assert!(r.body == data);
    let r = request(p.addr, "GET", "/v2/images?sort=name:asc", &[], b"");
    assert_eq!(json(&r)["images"].as_array().unwrap().len(), 2);
}

fn concurrent_uploads_across_workers_all_succeed() {
    let dir = DataDir::new("concurrent");
    let p = glance_api(&dir.0);
    let addr = p.addr;
    assert!(eventually(|| children(p.child.id()).len() == 2), "two workers");
    // Eight uploads at once, 4 MiB each: Glance on sqlite failed 2 or 3 of 4.
    let ids: Vec<String> = (0..8).map(|_| create(addr)).collect();
    let threads: Vec<_> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let id = id.clone();
            std::thread::spawn(move || {
                let data = image_data(4 << 20, 10 + i as u32);
                let r = upload_chunked(addr, &id, &data);
                (r.status, r.text(), md5_hex(&data))
            })
        })
        .collect();
    for (id, t) in ids.iter().zip(threads) {
        let (status, text, checksum) = t.join().unwrap();
        assert_eq!(status, 204, "{text}");
        assert_eq!(show(addr, id)["checksum"], checksum);
    }
    // Two uploads racing for one image: exactly one wins, the other is refused.
    let id = create(addr);
    let racers: Vec<_> = (0..2)
        .map(|i| {
            let id = id.clone();
            std::thread::spawn(move || upload_chunked(addr, &id, &image_data(1 << 20, 50 + i)).status)
        })
        .collect();
    let mut statuses: Vec<u16> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort();
    assert!(
        statuses[0] == 204 && (statuses[1] == 409 || statuses[1] == 410),
        "{statuses:?}"
    );
    assert_eq!(show(addr, &id)["status"], "active");
}

fn workers_stay_small_while_images_stream() {
    let dir = DataDir::new("rss");
    let p = glance_api(&dir.0);
    let addr = p.addr;
    assert!(eventually(|| children(p.child.id()).len() == 2), "two workers");
    let id = create(addr);
    let size: usize = 96 << 20;
    let mut c = start_chunked_upload(addr, &id, Some(size));
    let block = image_data(1 << 20, 5);
    for _ in 0..size >> 20 {
        send_chunk(&mut c, &block);
    }
    assert_eq!(finish_chunked(c).status, 204);
    // Read the download as it comes, without keeping it.
    let mut c = Client::connect(addr);
    c.send(format!("GET /v2/images/{id}/file HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n").as_bytes());
    let mut total = 0usize;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match c.reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => total += n,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(total > size, "head and body read: {total}");
    for pid in children(p.child.id()) {
        let hwm = vm_hwm_kib(pid);
        assert!(
            hwm < 32 * 1024,
            "worker {pid} peaked at {hwm} KiB for a {} MiB image",
            size >> 20
        );
    }
    let _ = std::io::stdout().flush();
    std::thread::sleep(Duration::from_millis(1));
}

#[test]
fn the_program_names_itself_and_refuses_a_bad_data_dir() {
    let (status, out, _) = run_command(Command::new(example("glance_api")).arg("--version"), None);
    assert_eq!((status, String::from_utf8_lossy(&out).trim()), (0, "glance-api 33.0.0"));
    let (status, out, _) = run_command(Command::new(example("glance_api")).arg("--help"), None);
    assert_eq!(status, 0);
    assert!(String::from_utf8_lossy(&out).contains("--data-dir"));
    // A data directory that is a file: a message and status 2, no server.
    let dir = DataDir::new("badflag");
    let file = dir.0.join("not-a-dir");
    std::fs::write(&file, b"x").unwrap();
    let args = ["--bind", "127.0.0.1:0", "--data-dir", file.to_str().unwrap()];
    let (status, _, err) = run_command(Command::new(example("glance_api")).args(args), None);
    assert_eq!(status, 2, "{err}");
    assert!(err.contains("cannot use the data directory"), "{err}");
}

// The port is served by either worker class, as an operator may choose.
both_classes!(
    upload_and_download_over_sockets,
    saving_is_stored_before_the_body_is_read,
    a_restart_on_the_same_data_dir_finds_everything,
    concurrent_uploads_across_workers_all_succeed,
    workers_stay_small_while_images_stream,
);
