//! The app's migration files and its database's record of them: file
//! names and versions (`files`), Ecto's `schema_migrations` and schema
//! snapshots through sqlx (`db`, `schema`), the up/down table (`status`),
//! and the static lint of the files' Elixir (`lint`).

pub mod db;
pub mod files;
pub mod lint;
pub mod schema;
pub mod status;
