//! A comparable snapshot of a Postgres schema, for `cargo xtask migrate
//! check`'s down/up reversibility test.
//!
//! Everything is read from pg_catalog with Postgres's own deparsers (format_type,
//! pg_get_indexdef, pg_get_constraintdef, …), so two snapshots agree exactly when Postgres would
//! recreate the same objects. Objects of every user schema are read (`public` ones unqualified),
//! except objects that belong to an extension (the extension itself is listed) and Ecto's
//! `schema_migrations` table, whose rows change by design when a migration goes down and up.
//! Not read: column order (a down/up of the newest migration puts columns back where they were),
//! domains, composite types, policies, grants and comments.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Context as _;
use sqlx::PgConnection;

use queries::QUERIES;

mod queries;

/// Tables left out with everything on them: Ecto's bookkeeping, not the app's schema.
const EXCLUDED_TABLES: &[&str] = &["schema_migrations"];

/// The kinds of object, in the order `diff` reports them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Extension,
    Enum,
    Sequence,
    Table,
    Column,
    Index,
    Constraint,
    Trigger,
    View,
    Function,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Extension => "extension",
            Kind::Enum => "enum",
            Kind::Sequence => "sequence",
            Kind::Table => "table",
            Kind::Column => "column",
            Kind::Index => "index",
            Kind::Constraint => "constraint",
            Kind::Trigger => "trigger",
            Kind::View => "view",
            Kind::Function => "function",
        }
    }

    /// Whole SQL statements read better after a colon; short descriptions follow the name.
    fn separator(self) -> &'static str {
        match self {
            Kind::Index | Kind::Constraint | Kind::Trigger | Kind::View | Kind::Function => ": ",
            _ => " ",
        }
    }
}

/// Every object as (kind, qualified name) → its definition. Names are `table`, `table.column`,
/// `table.constraint`, `table.trigger`, and the object's own name for the rest; objects outside
/// `public` get a `schema.` prefix. A BTreeMap, so equal schemas compare equal and print sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Schema {
    pub objects: BTreeMap<(Kind, String), String>,
}

/// Reads the schema of the database `conn` is connected to.
pub async fn snapshot(conn: &mut PgConnection) -> anyhow::Result<Schema> {
    let mut schema = Schema::default();
    for &(kind, sql) in QUERIES {
        let rows: Vec<(String, String, String, Option<String>)> = sqlx::query_as(sql)
            .fetch_all(&mut *conn)
            .await
            .with_context(|| {
                format!(
                    "read the database's {} definitions from pg_catalog",
                    kind.word()
                )
            })?;
        for (namespace, table, name, definition) in rows {
            if EXCLUDED_TABLES.contains(&table.as_str()) {
                continue;
            }
            let name = match namespace.as_str() {
                "" | "public" => name,
                _ => format!("{namespace}.{name}"),
            };
            schema
                .objects
                .insert((kind, name), squeeze(definition.as_deref().unwrap_or("")));
        }
    }
    Ok(schema)
}

/// Function and view bodies span lines; one line per object keeps `diff` readable, and
/// whitespace alone never changes what Postgres runs outside string literals.
fn squeeze(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What changed from `before` to `after`, one line per object, `-` for the old definition
/// and `+` for the new (a changed object gets both): `+ column products.sku text NOT NULL`,
/// `- index products_name_index: CREATE INDEX …`. Empty when the schemas are the same.
pub fn diff(before: &Schema, after: &Schema) -> Vec<String> {
    let keys: BTreeSet<&(Kind, String)> =
        before.objects.keys().chain(after.objects.keys()).collect();
    let mut lines = Vec::new();
    for key in keys {
        let (old, new) = (before.objects.get(key), after.objects.get(key));
        if old == new {
            continue;
        }
        lines.extend(old.map(|definition| line('-', key, definition)));
        lines.extend(new.map(|definition| line('+', key, definition)));
    }
    lines
}

/// True when `before` and `after` differ, and only in constraints that
/// were `NOT VALID` in `before` and validated in `after` (the same
/// definition otherwise): what `ALTER TABLE … VALIDATE CONSTRAINT` does,
/// which no down can undo.
pub fn only_validated(before: &Schema, after: &Schema) -> bool {
    let keys: BTreeSet<&(Kind, String)> =
        before.objects.keys().chain(after.objects.keys()).collect();
    let mut changed = keys
        .into_iter()
        .filter(|k| before.objects.get(*k) != after.objects.get(*k))
        .peekable();
    changed.peek().is_some()
        && changed.all(|key| {
            let (old, new) = (before.objects.get(key), after.objects.get(key));
            match (key.0, old, new) {
                (Kind::Constraint, Some(old), Some(new)) => {
                    old.strip_suffix(" NOT VALID") == Some(new.as_str())
                }
                _ => false,
            }
        })
}

fn line(sign: char, (kind, name): &(Kind, String), definition: &str) -> String {
    let separator = if definition.is_empty() {
        ""
    } else {
        kind.separator()
    };
    format!("{sign} {} {name}{separator}{definition}", kind.word())
}

#[cfg(test)]
mod tests;
