//! The app's migration files and its database's record of them: file
//! names and versions, Ecto's `schema_migrations`, schema snapshots, and
//! the lint of the files' Elixir.
