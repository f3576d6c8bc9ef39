//! The waiting room and the request pool, over real sockets: idle and slow connections
//! hold no place in the pool, complete heads queue for one, a connection comes back from
//! the waiting room for its next request, pipelined requests keep their order, and a
//! stopping server closes what waits while it finishes what it serves.

#[macro_use]
mod common;

use std::time::Duration;

use common::{config, get, start, Client};
use may_wsgi::ServerConfig;

/// A small pool, so that a handful of connections would fill it if they held places.
fn small_pool() -> ServerConfig {
    ServerConfig {
        pool_size: 4,
        ..config()
    }
}

/// A connection that has had one request answered and now idles.
fn idle_client(addr: std::net::SocketAddr) -> Client {
    let mut c = Client::connect(addr);
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(c.response().status, 200);
    c
}

/// A connection that sent part of a head and stalls.
fn slow_client(addr: std::net::SocketAddr) -> Client {
    let mut c = Client::connect(addr);
    c.send(b"GET / HTTP/1.1\r\nHost: t\r\nX-Slow: ");
    c
}

fn idle_and_slow_connections_leave_the_pool_to_fresh_clients() {
    let server = start(may_wsgi::demo::app, small_pool());
    let addr = server.local_addr();
    let idle: Vec<Client> = (0..50).map(|_| idle_client(addr)).collect();
    let slow: Vec<Client> = (0..20).map(|_| slow_client(addr)).collect();
    // 70 connections are open, yet no request is in flight: none holds a place.
    assert!(
        common::eventually(|| server.connections() == 70),
        "{}",
        server.connections()
    );
    assert!(common::eventually(|| server.requests_in_flight() == 0));
    for _ in 0..20 {
        assert_eq!(get(addr, "/").body, b"Hello World");
    }
    drop((idle, slow));
}

fn idle_connections_close_at_keep_alive_and_slow_heads_get_408() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            keep_alive: Duration::from_millis(300),
            client_timeout: Duration::from_millis(600),
            ..small_pool()
        },
    );
    let addr = server.local_addr();
    let mut idle: Vec<Client> = (0..50).map(|_| idle_client(addr)).collect();
    let mut slow: Vec<Client> = (0..20).map(|_| slow_client(addr)).collect();
    for c in &mut idle {
        assert!(c.is_closed(), "an idle connection is closed at the keep-alive timeout");
    }
    for c in &mut slow {
        let r = c.response();
        assert_eq!(r.status, 408);
        assert!(r.closes());
        assert!(c.is_closed());
    }
    assert!(common::eventually(|| server.connections() == 0));
}

fn a_connection_back_from_the_waiting_room_serves_its_next_request() {
    let server = start(may_wsgi::demo::app, small_pool());
    let addr = server.local_addr();
    let mut c = idle_client(addr);
    // Once nothing is in flight the connection is at home in the waiting room.
    assert!(common::eventually(|| server.requests_in_flight() == 0));
    for path in ["/", "/environ", "/"] {
        c.send(format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
        let r = c.response();
        assert_eq!(r.status, 200, "{path}");
        assert!(!r.closes());
        assert!(common::eventually(|| server.requests_in_flight() == 0));
    }
}

fn pipelined_requests_are_answered_in_order_whole_or_split() {
    let server = start(may_wsgi::demo::app, small_pool());
    let addr = server.local_addr();
    let requests = b"GET /status/201 HTTP/1.1\r\nHost: t\r\n\r\n\
                     POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello\
                     GET /status/202 HTTP/1.1\r\nHost: t\r\n\r\n";
    // All at once, then with the stream cut inside each head and body.
    for cut in [requests.len(), 10, 45, 90, 100] {
        let mut c = Client::connect(addr);
        c.send(&requests[..cut]);
        if cut < requests.len() {
            std::thread::sleep(Duration::from_millis(50));
            c.send(&requests[cut..]);
        }
        let statuses: Vec<u16> = (0..3).map(|_| c.response().status).collect();
        assert_eq!(statuses, [201, 200, 202], "cut at {cut}");
    }
}

fn a_full_pool_queues_and_a_full_process_lets_accept_wait_and_none_fails() {
    let full_pool = ServerConfig {
        pool_size: 1,
        ..config()
    };
    let full_process = ServerConfig {
        worker_connections: 2,
        ..config()
    };
    for server_config in [full_pool, full_process] {
        let server = start(may_wsgi::demo::app, server_config);
        let addr = server.local_addr();
        let clients: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(move || get(addr, "/sleep?seconds=0.1").status))
            .collect();
        for c in clients {
            assert_eq!(c.join().unwrap(), 200);
        }
        assert!(common::eventually(|| server.requests_in_flight() == 0));
    }
}

fn at_the_connection_limit_accept_waits_until_one_closes() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            worker_connections: 2,
            ..config()
        },
    );
    let addr = server.local_addr();
    // Two connections still sending their heads: nothing the server may close.
    let first = slow_client(addr);
    let _second = slow_client(addr);
    assert!(common::eventually(|| server.connections() == 2));
    let third = std::thread::spawn(move || get(addr, "/").status);
    // The third waits in the kernel's backlog; closing one lets it in.
    std::thread::sleep(Duration::from_millis(200));
    assert!(!third.is_finished(), "no third connection was accepted");
    drop(first);
    assert_eq!(third.join().unwrap(), 200);
}

fn at_the_connection_limit_the_longest_idle_connection_makes_room() {
    let server = start(
        may_wsgi::demo::app,
        ServerConfig {
            worker_connections: 3,
            ..config()
        },
    );
    let addr = server.local_addr();
    let mut oldest = idle_client(addr);
    assert!(common::eventually(|| server.requests_in_flight() == 0));
    let mut newer = idle_client(addr);
    let _slow = slow_client(addr);
    assert!(
        common::eventually(|| server.connections() == 3),
        "{}",
        server.connections()
    );
    // A new client is let in: the connection idle longest is closed for it (as nginx
    // reuses keep-alive connections), the newer idle one and the slow head are kept.
    assert_eq!(get(addr, "/").status, 200);
    assert!(oldest.is_closed());
    newer.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(newer.response().status, 200);
}

fn stop_closes_idle_connections_at_once_and_finishes_requests_arriving_or_in_flight() {
    let mut server = start(may_wsgi::demo::app, small_pool());
    let addr = server.local_addr();
    let mut idle = idle_client(addr);
    let mut slow = slow_client(addr);
    assert!(common::eventually(|| server.requests_in_flight() == 0));
    let in_flight = std::thread::spawn(move || get(addr, "/sleep?seconds=3"));
    assert!(common::eventually(|| server.requests_in_flight() == 1));
    server.stop();
    // The idle connection is closed while the request in flight is still being served.
    assert!(idle.is_closed());
    assert!(!in_flight.is_finished());
    // A connection whose request was arriving when the stop came is served, then closed.
    slow.send(b"1\r\n\r\n");
    let r = slow.response();
    assert_eq!(r.status, 200);
    assert!(r.closes());
    let r = in_flight.join().unwrap();
    assert_eq!(r.status, 200);
    assert!(r.closes(), "a stopping server closes after the request");
    assert!(std::net::TcpStream::connect(addr).is_err(), "no longer accepting");
}

fn many_busy_keep_alive_connections_at_once_are_each_answered_whole() {
    // Connections served one at a time, then all at once with answers larger than the
    // socket buffers (so each request waits on its client midway): the second wave wakes
    // connections from their stays while every request tool the thread had is in hand, and
    // new ones are made. Then bodies both ways. Every answer whole, on its own connection.
    let server = start(may_wsgi::demo::app, config());
    let addr = server.local_addr();
    let clients: Vec<Client> = (0..32)
        .map(|_| {
            let mut c = Client::connect(addr);
            c.send(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n");
            assert_eq!(c.response().body, b"Hello World");
            c
        })
        .collect();
    let start_line = std::sync::Arc::new(std::sync::Barrier::new(clients.len()));
    let threads: Vec<_> = clients
        .into_iter()
        .enumerate()
        .map(|(t, mut c)| {
            let start_line = start_line.clone();
            std::thread::spawn(move || {
                let t = t as u64;
                start_line.wait();
                for i in 0..3 {
                    c.send(format!("GET /download?mib=1&seed={t} HTTP/1.1\r\nHost: t\r\n\r\n").as_bytes());
                    let mut want = vec![0u8; 1 << 20];
                    may_wsgi::demo::download_bytes(t, 0, &mut want);
                    assert!(c.response().body == want, "client {t}, round {i}: download");
                    let body = format!("client {t} round {i} ").repeat(5000);
                    c.send(
                        format!(
                            "POST /echo HTTP/1.1\r\nHost: t\r\nContent-Length: {}\r\n\r\n{body}",
                            body.len()
                        )
                        .as_bytes(),
                    );
                    assert!(c.response().body == body.as_bytes(), "client {t}, round {i}: echo");
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().expect("every client answered");
    }
}

#[test]
fn a_stack_overflow_closes_its_connection_and_gives_its_places_back() {
    let server = start(may_wsgi::demo::app, small_pool());
    let addr = server.local_addr();
    let mut c = Client::connect(addr);
    c.send(b"GET /recurse HTTP/1.1\r\nHost: t\r\n\r\n");
    // No answer can be trusted from a coroutine whose stack overflowed: the connection
    // is closed at once, and the server asks to be replaced.
    assert!(c.response_to("GET").is_err());
    assert!(common::eventually(|| server.must_retire()));
    // It goes on serving meanwhile, with all its places: none was lost with the frames.
    for _ in 0..10 {
        assert_eq!(get(addr, "/").status, 200);
    }
    assert!(common::eventually(|| server.connections() == 0));
    assert!(server.shutdown(Duration::from_secs(5)), "nothing left in flight");
}

both_classes!(
    idle_and_slow_connections_leave_the_pool_to_fresh_clients,
    idle_connections_close_at_keep_alive_and_slow_heads_get_408,
    a_connection_back_from_the_waiting_room_serves_its_next_request,
    pipelined_requests_are_answered_in_order_whole_or_split,
    a_full_pool_queues_and_a_full_process_lets_accept_wait_and_none_fails,
    at_the_connection_limit_accept_waits_until_one_closes,
    at_the_connection_limit_the_longest_idle_connection_makes_room,
    stop_closes_idle_connections_at_once_and_finishes_requests_arriving_or_in_flight,
    many_busy_keep_alive_connections_at_once_are_each_answered_whole,
);
