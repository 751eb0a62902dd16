//! Which `mix test` processes a run starts: the whole suite, N partitions
//! at once, or one partition of N; each one's database and coverage export.

use anyhow::{bail, Result};

use crate::cli::{Partition, TestArgs};
use crate::services::urls;

/// Which `mix test` processes a run starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    Whole,
    All(u32),
    One(Partition),
}

pub fn layout(args: &TestArgs, default_partitions: u32) -> Result<Layout> {
    Ok(
        match (
            args.partition,
            args.partitions.unwrap_or(default_partitions),
        ) {
            (Some(p), _) => Layout::One(p),
            (None, 0) => {
                bail!("--partitions 0 runs nothing: use 1 or more (or fix [test] partitions)")
            }
            (None, 1) => Layout::Whole,
            (None, n) => Layout::All(n),
        },
    )
}

impl Layout {
    /// (K, N, database) for each process, in order.
    pub fn runs(self, base: &str) -> Vec<(u32, u32, String)> {
        match self {
            Layout::Whole => vec![(0, 1, base.to_string())],
            Layout::All(n) => (1..=n)
                .map(|k| (k, n, urls::partition_database(base, k)))
                .collect(),
            Layout::One(p) => vec![(p.k, p.n, urls::partition_database(base, p.k))],
        }
    }

    pub fn count(self) -> u32 {
        match self {
            Layout::Whole => 1,
            Layout::All(n) => n,
            Layout::One(p) => p.n,
        }
    }
}

pub fn export_name(layout: Layout, k: u32) -> String {
    match layout {
        Layout::Whole => "suite".to_string(),
        _ => format!("partition-{k}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::Partition;

    #[test]
    fn layouts_and_databases() {
        let args = |partitions, partition| TestArgs {
            partitions,
            partition,
            ..TestArgs::default()
        };
        assert_eq!(layout(&args(None, None), 1).unwrap(), Layout::Whole);
        assert_eq!(layout(&args(None, None), 3).unwrap(), Layout::All(3));
        assert_eq!(layout(&args(Some(1), None), 3).unwrap(), Layout::Whole);
        assert!(layout(&args(Some(0), None), 1).is_err());
        let one = Partition { k: 2, n: 3 };
        assert_eq!(layout(&args(None, Some(one)), 1).unwrap(), Layout::One(one));
        assert_eq!(
            Layout::Whole.runs("demo_test"),
            vec![(0, 1, "demo_test".to_string())]
        );
        let all: Vec<String> = Layout::All(2)
            .runs("demo_test")
            .into_iter()
            .map(|r| r.2)
            .collect();
        assert_eq!(all, ["demo_test1", "demo_test2"]);
        assert_eq!(Layout::One(one).runs("d"), vec![(2, 3, "d2".to_string())]);
    }
}
