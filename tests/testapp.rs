//! webtest's TestApp against the demo app: the same answers as over a socket (tests/http.rs
//! checks those), without one.

use may_wsgi::testing::TestApp;

#[test]
fn the_demo_app_answers_through_testapp_as_over_a_socket() {
    let mut app = TestApp::new(may_wsgi::demo::app);
    let cases: &[(&str, &str, u16, &str)] = &[
        ("GET", "/", 200, "Hello World"),
        ("GET", "/status/418", 418, ""),
        ("GET", "/nope", 404, ""),
        ("GET", "/sleep?seconds=x", 400, ""),
        ("GET", "/panic", 500, ""),
    ];
    for &(method, path, status, body) in cases {
        let res = app.request(method, path).expect_status(status);
        assert!(res.text().contains(body), "{method} {path}: {}", res.text());
    }
    let echoed = app
        .put("/echo", "some bytes")
        .content_type("text/plain")
        .expect_status(200);
    assert_eq!(echoed.text(), "some bytes");
    let environ = app.get("/environ").header("X-Probe", "1").expect_status(200).text();
    assert!(environ.contains("HTTP_X_PROBE=1"), "{environ}");
    assert!(environ.contains("SERVER_NAME=localhost"), "{environ}");
    let streamed = app.get("/stream?chunks=3&size=4").expect_status(200);
    assert_eq!(streamed.text(), "x".repeat(12));
}

#[test]
fn a_large_streamed_upload_is_echoed_back_whole() {
    let mut app = TestApp::new(may_wsgi::demo::app);
    let data: Vec<u8> = (0..2_000_000u32).map(|i| (i % 251) as u8).collect();
    let res = app
        .request("POST", "/echo")
        .content_type("application/octet-stream")
        .body_reader(std::io::Cursor::new(data.clone()))
        .expect_status(200);
    assert_eq!(res.body, data);
}
