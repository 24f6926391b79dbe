//! Verified TLS to PostgreSQL: a private cluster serving a certificate of a
//! CA made for the test. `verify-full` connects with that CA and the name
//! the certificate carries, and refuses another CA, the compiled-in RDS CAs
//! (which did not sign it) and another name; `verify-ca` ignores only the
//! name. The connections are made from the settings the functions build
//! (`DbSettings::connect_options`), as a Secrets Manager secret gives them.
//!
//! One test in its own binary: it starts and stops a server of its own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use sqlx::Connection;
use sqlx::postgres::{PgConnection, PgSslMode};
use tm_shared::config::{DbParts, DbSettings, DbTarget};
use tmctl::devdb::DevDb;

/// Stops the cluster however the test ends.
struct Running(DevDb);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.stop();
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (Debian: openssl)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA named `name` (`<name>.pem`, `<name>.key`) in `dir`.
fn make_ca(dir: &Path, name: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &format!("{name}.key"),
            "-out",
            &format!("{name}.pem"),
            "-days",
            "2",
            "-subj",
            &format!("/CN=threat monitoring test {name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    );
}

/// `server.pem` and `server.key` for the name `localhost` only, signed by `ca`.
fn make_server_cert(dir: &Path, ca: &str) {
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "server.key",
            "-out",
            "server.csr",
            "-subj",
            "/CN=localhost",
        ],
    );
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            &format!("{ca}.pem"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "server.ext",
        ],
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn verify_full_connects_with_the_right_ca_and_name_and_refuses_the_rest() {
    let root = PathBuf::from(format!("/var/tmp/tm-tls-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let certs = root.join("certs");
    std::fs::create_dir_all(&certs).unwrap();
    make_ca(&certs, "ca");
    make_ca(&certs, "other-ca");
    make_server_cert(&certs, "ca");
    let port = free_port();
    let db = DevDb::at(root.join("cluster"), port)
        .unwrap()
        .with_tls(&certs.join("server.pem"), &certs.join("server.key"))
        .unwrap();
    db.start().unwrap();
    let db = Running(db);
    let url = db.0.url().unwrap();
    let password = url
        .expose_secret()
        .split_once("://postgres:")
        .and_then(|(_, rest)| rest.split_once('@'))
        .map(|(pw, _)| pw.to_owned())
        .unwrap();

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let connect = |host: &str, ssl_mode: PgSslMode, ca: Option<&str>| {
        let settings = DbSettings {
            target: DbTarget::Parts(DbParts {
                host: host.to_owned(),
                port,
                database: "threatmon".to_owned(),
                username: "postgres".to_owned(),
                password: SecretString::from(password.clone()),
                ssl_mode,
                ssl_root_cert: ca.map(|name| certs.join(format!("{name}.pem"))),
            }),
            max_connections: 1,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
        };
        let options = settings.connect_options().unwrap();
        runtime.block_on(async move {
            let mut conn = PgConnection::connect_with(&options).await?;
            let ssl: bool =
                sqlx::query_scalar("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
                    .fetch_one(&mut conn)
                    .await?;
            conn.close().await?;
            Ok::<bool, sqlx::Error>(ssl)
        })
    };

    let ok = connect("localhost", PgSslMode::VerifyFull, Some("ca"));
    assert!(
        ok.as_ref().is_ok_and(|ssl| *ssl),
        "the right CA and name: {ok:?}"
    );
    for (host, mode, ca, why) in [
        (
            "localhost",
            PgSslMode::VerifyFull,
            Some("other-ca"),
            "another CA",
        ),
        (
            "localhost",
            PgSslMode::VerifyFull,
            None,
            "the RDS CAs did not sign it",
        ),
        (
            "127.0.0.1",
            PgSslMode::VerifyFull,
            Some("ca"),
            "a name the certificate lacks",
        ),
    ] {
        let refused = connect(host, mode, ca);
        assert!(refused.is_err(), "{why}: {refused:?}");
    }
    let by_ca_only = connect("127.0.0.1", PgSslMode::VerifyCa, Some("ca"));
    assert!(
        by_ca_only.is_ok(),
        "verify-ca checks the CA, not the name: {by_ca_only:?}"
    );
    drop(db);
    let _ = std::fs::remove_dir_all(&root);
}
