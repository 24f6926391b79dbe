// `sqlx::migrate!` (src/db.rs) embeds ../migrations when this crate
// compiles; without this, adding a migration file would not rebuild it and
// a local binary would run without the new migration.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
