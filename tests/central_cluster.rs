//! The throwaway PostgreSQL cluster of `common::postgres` on its own, so
//! that a central-store test that fails points at hedge, not at the
//! cluster: it starts, takes password logins over TCP, keeps what was
//! committed across a stop and across a kill, refuses a wrong password,
//! and leaves nothing behind.

mod common;

use common::postgres::{ADMIN, Postgres};
use sqlx::PgPool;

/// A started cluster, or `None` (having said why) when PostgreSQL is not
/// installed.
fn cluster() -> Option<Postgres> {
    match Postgres::start() {
        Ok(postgres) => Some(postgres),
        Err(why) => {
            eprintln!("skipped: {why}");
            None
        }
    }
}

/// The numbers in table `kept`, in order.
async fn kept(pool: &PgPool) -> Vec<i32> {
    sqlx::query_scalar("SELECT n FROM kept ORDER BY n")
        .fetch_all(pool)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_cluster_answers_and_keeps_what_was_committed_across_a_stop_and_a_kill() {
    let Some(mut postgres) = cluster() else {
        return;
    };
    let admin = PgPool::connect(&postgres.admin_url()).await.unwrap();
    let one: i32 = sqlx::query_scalar("SELECT 1")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(one, 1);
    let address: String = sqlx::query_scalar("SELECT host(inet_server_addr())")
        .fetch_one(&admin)
        .await
        .unwrap();
    assert_eq!(address, "127.0.0.1");

    // A role and a database of its own, as a central-store test makes
    // them; the password needs percent-encoding in the URL.
    postgres.create_role("hedge_app", "app pass/word's", "");
    postgres.create_database("hedge_central", "OWNER hedge_app");
    let app_url = postgres.url_for("hedge_app", "app pass/word's", "hedge_central");
    let app = PgPool::connect(&app_url).await.unwrap();
    sqlx::query("CREATE TABLE kept (n integer)")
        .execute(&app)
        .await
        .unwrap();
    sqlx::query("INSERT INTO kept VALUES (1)")
        .execute(&app)
        .await
        .unwrap();

    // Stopped with the pools still open: fast shutdown disconnects them.
    postgres.stop();
    assert!(!postgres.is_running());
    postgres.start_again();
    let app = PgPool::connect(&app_url).await.unwrap();
    assert_eq!(kept(&app).await, [1]);
    sqlx::query("INSERT INTO kept VALUES (2)")
        .execute(&app)
        .await
        .unwrap();

    // Killed straight after a commit: the commit survives the crash.
    postgres.kill();
    postgres.start_again();
    let log = postgres.log();
    assert!(
        log.contains("automatic recovery in progress"),
        "the kill should have been a crash to recover from; the log:\n{log}"
    );
    let app = PgPool::connect(&app_url).await.unwrap();
    assert_eq!(kept(&app).await, [1, 2]);
    assert_eq!(
        postgres.psql("hedge_central", "SELECT n, n * 10 FROM kept ORDER BY n;"),
        "1|10\n2|20\n"
    );
    app.close().await;
    admin.close().await;

    // Dropped: the server is gone (its port refuses) and so is its
    // directory.
    let dir = postgres.dir().to_path_buf();
    let port = postgres.port();
    drop(postgres);
    assert!(!dir.exists());
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

#[tokio::test]
async fn a_wrong_password_is_refused() {
    let Some(postgres) = cluster() else {
        return;
    };
    let refused = PgPool::connect(&postgres.url_for(ADMIN, "not the password", "postgres"))
        .await
        .unwrap_err();
    let code = refused
        .as_database_error()
        .and_then(|error| error.code().map(|code| code.into_owned()));
    // invalid_password
    assert_eq!(code.as_deref(), Some("28P01"), "{refused}");
    assert!(PgPool::connect(&postgres.admin_url()).await.is_ok());
}
