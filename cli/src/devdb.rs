//! A private PostgreSQL cluster for development and tests, made with the
//! machine's own `initdb` and `pg_ctl`, its data in a git-ignored folder.
//!
//! It listens on 127.0.0.1 only. Connections over TCP need a password that
//! is generated at `initdb` and kept beside the data (mode 0600); the socket
//! lives in a folder only the cluster's owner can enter.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context;
use secrecy::{ExposeSecret, SecretString};

use crate::users::CliResult;

pub const DEFAULT_PORT: u16 = 54329;
const DATABASE: &str = "threatmon";

/// Where the cluster lives and how to reach it.
pub struct DevDb {
    root: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Set when running as root: `initdb` refuses root, so the cluster runs
    /// as this OS user.
    run_as: Option<&'static str>,
    /// More `-c name=value` settings for the server (TLS, for its test).
    settings: Vec<String>,
}

impl DevDb {
    /// `TMCTL_DEV_DIR` (default `.dev` in the current folder) and
    /// `TMCTL_DEV_PG_PORT` (default 54329) place it.
    pub fn from_env() -> CliResult<Self> {
        let port = match std::env::var("TMCTL_DEV_PG_PORT") {
            Ok(raw) => raw
                .parse()
                .map_err(|_| anyhow::anyhow!("TMCTL_DEV_PG_PORT is not a port: {raw:?}"))?,
            Err(_) => DEFAULT_PORT,
        };
        Self::at(dir_from_env()?, port)
    }

    /// A cluster kept in `root`, listening on 127.0.0.1:`port`.
    pub fn at(mut root: PathBuf, port: u16) -> CliResult<Self> {
        let run_as = is_root().then_some("postgres");
        if let Some(user) = run_as
            && !user_can_enter(user, root.parent().unwrap_or(&root))
        {
            // A clone under /root, say: the postgres OS user cannot reach it.
            let elsewhere = PathBuf::from(format!("/var/tmp/tmctl-dev-{:016x}", fnv1a(&root)));
            eprintln!(
                "{user} cannot enter {}; keeping the development cluster in {} instead",
                root.display(),
                elsewhere.display()
            );
            root = elsewhere;
        }
        Ok(Self {
            root,
            bin: find_bindir()?,
            port,
            run_as,
            settings: Vec::new(),
        })
    }

    /// Serves TLS with this certificate and key (the key is handed to the
    /// cluster's OS user, mode 0600, as PostgreSQL requires).
    pub fn with_tls(mut self, cert: &Path, key: &Path) -> CliResult<Self> {
        set_mode(key, 0o600)?;
        self.chown(key)?;
        self.chown(cert)?;
        self.settings.extend([
            "ssl=on".to_owned(),
            format!("ssl_cert_file={}", cert.display()),
            format!("ssl_key_file={}", key.display()),
        ]);
        Ok(self)
    }

    fn data(&self) -> PathBuf {
        self.root.join("pgdata")
    }

    fn socket_dir(&self) -> PathBuf {
        self.root.join("pgsocket")
    }

    fn password_file(&self) -> PathBuf {
        self.root.join("pg_password")
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The URL of the development database (password included).
    pub fn url(&self) -> CliResult<SecretString> {
        let password = fs::read_to_string(self.password_file())
            .with_context(|| format!("reading {}", self.password_file().display()))?;
        Ok(SecretString::from(format!(
            "postgres://postgres:{}@127.0.0.1:{}/{DATABASE}",
            password.trim(),
            self.port
        )))
    }

    /// Initialises the cluster if needed and starts it if it is not running.
    /// Returns whether this call started it.
    pub fn start(&self) -> CliResult<bool> {
        fs::create_dir_all(&self.root)?;
        // The cluster's owner writes its log here.
        self.chown(&self.root)?;
        if !self.data().join("PG_VERSION").exists() {
            self.init()?;
        }
        if self.running() {
            return Ok(false);
        }
        fs::create_dir_all(self.socket_dir())?;
        set_mode(&self.socket_dir(), 0o700)?;
        self.chown(&self.socket_dir())?;
        let log = self.root.join("postgres.log");
        let mut options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.socket_dir().display()
        );
        for setting in &self.settings {
            options.push_str(&format!(" -c {setting}"));
        }
        let data = self.data();
        let log_arg = log.display().to_string();
        let data_arg = data.display().to_string();
        self.pg(
            "pg_ctl",
            &[
                "start", "-w", "-t", "60", "-D", &data_arg, "-l", &log_arg, "-o", &options,
            ],
        )
        .with_context(|| format!("see {}", log.display()))?;
        self.create_database()?;
        Ok(true)
    }

    pub fn stop(&self) -> CliResult {
        if !self.running() {
            return Ok(());
        }
        let data = self.data().display().to_string();
        self.pg("pg_ctl", &["stop", "-w", "-m", "fast", "-D", &data])
    }

    fn running(&self) -> bool {
        let data = self.data().display().to_string();
        self.data().join("PG_VERSION").exists()
            && self.pg("pg_ctl", &["status", "-D", &data]).is_ok()
    }

    fn init(&self) -> CliResult {
        let password = tm_shared::accounts::generated_password();
        let pwfile = self.password_file();
        fs::write(&pwfile, password.expose_secret())?;
        set_mode(&pwfile, 0o600)?;
        // initdb reads the superuser password from this file; the cluster's
        // owner must be able to read it during initdb, and only then.
        let init_pwfile = self.root.join("pg_password.init");
        fs::write(&init_pwfile, password.expose_secret())?;
        set_mode(&init_pwfile, 0o600)?;
        self.chown(&init_pwfile)?;

        fs::create_dir_all(self.data())?;
        set_mode(&self.data(), 0o700)?;
        self.chown(&self.data())?;
        let data = self.data().display().to_string();
        let pw = init_pwfile.display().to_string();
        let result = self.pg(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "--pwfile",
                &pw,
                "-E",
                "UTF8",
                "--locale=C",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
            ],
        );
        let _ = fs::remove_file(&init_pwfile);
        result
    }

    fn create_database(&self) -> CliResult {
        let exists = self.psql(&format!(
            "SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
        ))?;
        if exists.trim() != "1" {
            self.psql(&format!("CREATE DATABASE {DATABASE}"))?;
        }
        Ok(())
    }

    /// Runs one SQL command as the superuser over the private socket.
    fn psql(&self, sql: &str) -> CliResult<String> {
        let socket = self.socket_dir().display().to_string();
        let port = self.port.to_string();
        self.pg_output(
            "psql",
            &[
                "-h", &socket, "-p", &port, "-U", "postgres", "-d", "postgres", "-qtAc", sql,
            ],
        )
    }

    fn command(&self, program: &str, args: &[&str]) -> Command {
        let program = self.bin.join(program);
        match self.run_as {
            Some(user) => {
                let mut cmd = Command::new("runuser");
                cmd.arg("-u").arg(user).arg("--").arg(program).args(args);
                cmd
            }
            None => {
                let mut cmd = Command::new(program);
                cmd.args(args);
                cmd
            }
        }
    }

    fn pg(&self, program: &str, args: &[&str]) -> CliResult {
        self.pg_output(program, args).map(|_| ())
    }

    fn pg_output(&self, program: &str, args: &[&str]) -> CliResult<String> {
        let output = self
            .command(program, args)
            .current_dir(&self.root)
            .output()
            .with_context(|| format!("running {program}"))?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(anyhow::anyhow!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }

    fn chown(&self, path: &Path) -> CliResult {
        let Some(user) = self.run_as else {
            return Ok(());
        };
        let status = Command::new("chown")
            .arg(format!("{user}:"))
            .arg(path)
            .status()?;
        if status.success() {
            Ok(())
        } else {
            Err(anyhow::anyhow!(
                "could not hand {} to the {user} OS user (needed because initdb refuses to run as root)",
                path.display()
            ))
        }
    }
}

/// `TMCTL_DEV_DIR`, or `.dev` in the current folder, made absolute.
pub fn dir_from_env() -> CliResult<PathBuf> {
    let dir = std::env::var_os("TMCTL_DEV_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(".dev"));
    std::path::absolute(&dir).with_context(|| format!("making {} absolute", dir.display()))
}

fn user_can_enter(user: &str, dir: &Path) -> bool {
    Command::new("runuser")
        .args(["-u", user, "--", "test", "-x"])
        .arg(dir)
        .status()
        .is_ok_and(|s| s.success())
}

/// A stable name for a path (FNV-1a), to give each checkout its own folder.
fn fnv1a(path: &Path) -> u64 {
    path.as_os_str()
        .as_encoded_bytes()
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
            (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
        })
}

fn set_mode(path: &Path, mode: u32) -> CliResult {
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .with_context(|| format!("setting the mode of {}", path.display()))
}

fn is_root() -> bool {
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

/// The newest PostgreSQL server binaries on this machine.
fn find_bindir() -> CliResult<PathBuf> {
    if let Ok(dir) = std::env::var("PG_BINDIR") {
        return Ok(PathBuf::from(dir));
    }
    // Debian and Ubuntu keep each major version apart.
    let mut debian: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path().join("bin"))
        .filter(|bin| bin.join("initdb").exists())
        .collect();
    debian.sort_by_key(|p| {
        p.parent()
            .and_then(|v| v.file_name())
            .and_then(|v| v.to_str())
            .and_then(|v| v.parse::<u32>().ok())
            .unwrap_or(0)
    });
    if let Some(bin) = debian.pop() {
        return Ok(bin);
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .find(|dir| dir.join("initdb").exists() && dir.join("pg_ctl").exists());
    on_path.ok_or_else(|| {
        anyhow::anyhow!(
            "PostgreSQL is not installed, and DATABASE_URL is not set.\n\
         Install the server, then run this again:\n  \
         Debian/Ubuntu: sudo apt-get install -y postgresql\n  \
         Fedora:        sudo dnf install -y postgresql-server\n  \
         macOS:         brew install postgresql\n\
         or point DATABASE_URL at a PostgreSQL you already have \
         (PG_BINDIR names a folder with initdb and pg_ctl, if they are elsewhere)."
        )
    })
}
