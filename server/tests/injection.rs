//! SQL-looking and HTML-looking field values are data: stored, returned and
//! broadcast byte for byte, never executed or escaped into something else.

mod common;

use common::{next_non_ping, TestServer};

const HOSTILE_NAMES: [&str; 5] = [
    "Robert'); DROP TABLE anchors;--",
    "x' OR '1'='1",
    "<script>alert(1)</script>",
    "<img src=x onerror=\"alert('x')\">&amp;",
    "\"; DELETE FROM update_log WHERE 1=1; --",
];

#[tokio::test]
async fn sql_and_html_looking_names_are_stored_returned_and_broadcast_verbatim() {
    let server = TestServer::start().await;
    let (mut ws, _) = server.connect_ready("").await;
    for (i, name) in HOSTILE_NAMES.iter().enumerate() {
        let created = server.create_anchor(i as u8 + 1, name).await;
        assert_eq!(created["name"], *name);
        let update = next_non_ping(&mut ws).await;
        assert_eq!(update["type"], "anchor_update");
        assert_eq!(update["name"], *name, "broadcast altered the name");
        let id = created["id"].as_str().unwrap();
        let (status, fetched) = server.get(&format!("/api/anchors/{id}")).await;
        assert_eq!((status, &fetched["name"]), (200, &created["name"]));
    }
    // Every row is still there: nothing was executed against the tables.
    let (status, list) = server.get("/api/anchors").await;
    assert_eq!(status, 200);
    let mut names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let mut expected = HOSTILE_NAMES.to_vec();
    expected.sort_unstable();
    assert_eq!(names, expected);
    assert_eq!(server.seq().await, HOSTILE_NAMES.len() as u64);
}

#[tokio::test]
async fn sql_looking_path_ids_are_plain_not_found() {
    let server = TestServer::start().await;
    server.create_anchor(1, "kept").await;
    for id in ["1%20OR%201=1", "'%20OR%20''='", "1;DROP%20TABLE%20anchors"] {
        let (status, body) = server.get(&format!("/api/anchors/{id}")).await;
        assert_eq!(status, 404, "{id}: {body}");
    }
    let (_, list) = server.get("/api/anchors").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
}
