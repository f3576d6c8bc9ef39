//! The speed yardstick: may_minihttp's raw hello world, the fastest HTTP server that can be
//! built on may. `make bench` runs it beside `may-wsgi` with the same scheduler threads.
//!
//! Usage: `minihttp_baseline [ADDR] [THREADS]` (default 127.0.0.1:8081, number of CPUs).

use std::io;

use may_minihttp::{HttpService, HttpServiceFactory, Request, Response};

#[derive(Clone)]
struct HelloWorld;

impl HttpService for HelloWorld {
    fn call(&mut self, _req: Request, rsp: &mut Response) -> io::Result<()> {
        rsp.header("Content-Type: text/plain");
        rsp.body("Hello World");
        Ok(())
    }
}

struct Factory;

impl HttpServiceFactory for Factory {
    type Service = HelloWorld;
    fn new_service(&self, _id: usize) -> HelloWorld {
        HelloWorld
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:8081".to_owned());
    if let Some(threads) = args.next() {
        let threads: usize = threads.parse().expect("THREADS must be a number");
        may::config().set_workers(threads);
    }
    println!("minihttp baseline on {addr}");
    let server = Factory.start(addr.as_str()).expect("bind");
    server.join().ok();
}
