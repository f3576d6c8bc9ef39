//! eventlet's echo server: green threads without WSGI, translated line by line.
//!
//! ```python
//! import eventlet
//!
//! def handle(fd):
//!     print("client connected")
//!     while True:
//!         # pass through every non-eof line
//!         x = fd.readline()
//!         if not x:
//!             break
//!         fd.write(x)
//!         fd.flush()
//!         print("echoed", x, end=' ')
//!     print("client disconnected")
//!
//! print("server socket listening on port 6000")
//! server = eventlet.listen(('0.0.0.0', 6000))
//! pool = eventlet.GreenPool(10000)
//! while True:
//!     try:
//!         new_sock, address = server.accept()
//!         print("accepted", address)
//!         pool.spawn_n(handle, new_sock.makefile('rw'))
//!     except (SystemExit, KeyboardInterrupt):
//!         break
//! ```
//!
//! Each `handle` runs in its own coroutine; its blocking-looking reads and writes yield to
//! the others, exactly as eventlet's green threads do. Run:
//! `cargo run --example echo_server [PORT]`, then `nc 127.0.0.1 6000`.

use std::io::{BufRead, BufReader, Write};

use may::net::TcpStream;
use may_wsgi::{listen, GreenPool};

fn handle(fd: TcpStream) {
    println!("client connected");
    let mut fd = BufReader::new(fd);
    loop {
        // pass through every non-eof line
        let mut x = Vec::new();
        if fd.read_until(b'\n', &mut x).unwrap_or(0) == 0 {
            break;
        }
        if fd.get_mut().write_all(&x).and_then(|_| fd.get_mut().flush()).is_err() {
            break;
        }
        print!("echoed {} ", String::from_utf8_lossy(&x));
    }
    println!("client disconnected");
}

fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .map_or(6000, |p| p.parse().expect("PORT must be a number"));
    let server = listen(("0.0.0.0", port)).expect("cannot listen");
    println!(
        "server socket listening on port {}",
        server.local_addr().unwrap().port()
    );
    let pool = GreenPool::new(10000);
    loop {
        match server.accept() {
            Ok((new_sock, address)) => {
                println!("accepted {address}");
                pool.spawn_n(move || handle(new_sock));
            }
            Err(e) => eprintln!("accept failed: {e}"),
        }
    }
}
