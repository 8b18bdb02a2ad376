//! The update log as the relay and resume rely on it (SQLite, or PostgreSQL with
//! `TEST_STORE=postgres`).

mod common;

use stellar_insights_server::store;

async fn db() -> (tempfile::TempDir, store::Db) {
    let dir = tempfile::tempdir().unwrap();
    let db = store::connect(&common::test_database_url(dir.path()).await)
        .await
        .unwrap();
    (dir, db)
}

async fn append(db: &store::Db, n: usize) {
    for i in 0..n {
        let mut tx = store::begin_write(db).await.unwrap();
        store::append_update(
            &mut tx,
            "anchor",
            &format!("k{i}"),
            "{}",
            "2026-01-01T00:00:00Z",
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn pruning_keeps_the_newest_rows_and_never_an_unpublished_one() {
    let (_dir, db) = db().await;
    append(&db, 10).await;
    assert_eq!(
        store::prune_updates(&db, 3, 5).await.unwrap(),
        5,
        "only published rows 1-5 may go"
    );
    assert_eq!(store::seq_range(&db).await.unwrap(), Some((6, 10)));
    assert_eq!(store::prune_updates(&db, 3, 10).await.unwrap(), 2);
    assert_eq!(store::seq_range(&db).await.unwrap(), Some((8, 10)));
}

#[tokio::test]
async fn sequence_numbers_are_never_reused_after_pruning_everything_but_one() {
    let (_dir, db) = db().await;
    append(&db, 4).await;
    store::prune_updates(&db, 1, 4).await.unwrap();
    assert_eq!(store::count_updates(&db).await.unwrap(), 1);
    append(&db, 1).await;
    assert_eq!(store::seq_range(&db).await.unwrap(), Some((4, 5)));
}

#[tokio::test]
async fn a_rolled_back_write_leaves_no_update_and_no_hole() {
    let (_dir, db) = db().await;
    append(&db, 1).await;
    let mut tx = store::begin_write(&db).await.unwrap();
    store::append_update(&mut tx, "anchor", "k", "{}", "t")
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    append(&db, 1).await;
    let rows = store::updates_after(&db, 0, 10).await.unwrap();
    assert_eq!(rows.iter().map(|r| r.seq).collect::<Vec<_>>(), vec![1, 2]);
}
