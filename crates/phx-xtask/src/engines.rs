//! Which leg of a CI matrix this machine is, from the engine's own
//! variables, when `--partition K/N` is not given. GitHub Actions has none
//! (its workflow passes `--partition ${{ matrix.leg }}/N`).

use anyhow::{bail, Result};

use crate::cli::Partition;
use crate::env::Env;

/// (engine, index variable, total variable, the index of the first leg).
/// GitLab counts from 1 and sets CI_NODE_INDEX only for `parallel:` jobs;
/// Buildkite and CircleCI count from 0.
pub const ENGINES: [(&str, &str, &str, u32); 3] = [
    ("GitLab", "CI_NODE_INDEX", "CI_NODE_TOTAL", 1),
    (
        "Buildkite",
        "BUILDKITE_PARALLEL_JOB",
        "BUILDKITE_PARALLEL_JOB_COUNT",
        0,
    ),
    ("CircleCI", "CIRCLE_NODE_INDEX", "CIRCLE_NODE_TOTAL", 0),
];

/// The leg the engine says this job is (1-based, as `--partition`), and
/// where that came from; none outside a parallel job or with one leg.
pub fn partition(env: &Env) -> Result<Option<(Partition, String)>> {
    for (engine, index_var, total_var, base) in ENGINES {
        let (Some(index), Some(total)) = (env.get(index_var), env.get(total_var)) else {
            continue;
        };
        let number = |var: &str, v: &str| -> Result<u32> {
            match v.trim().parse::<u32>() {
                Ok(n) => Ok(n),
                Err(_) => bail!("{engine}'s {var}={v:?} is not a number: fix the job's parallelism, or pass --partition K/N"),
            }
        };
        let (index, n) = (number(index_var, index)?, number(total_var, total)?);
        if n <= 1 {
            return Ok(None);
        }
        if index < base || index - base >= n {
            bail!(
                "{engine}'s {index_var}={index} is outside 1..{n} (it counts from {base}): pass --partition K/N"
            );
        }
        let from = format!("{engine} {index_var}={index} {total_var}={n}");
        return Ok(Some((
            Partition {
                k: index - base + 1,
                n,
            },
            from,
        )));
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leg(pairs: &[(&'static str, &str)]) -> Option<(u32, u32)> {
        partition(&Env::from_pairs(pairs))
            .unwrap()
            .map(|(p, _)| (p.k, p.n))
    }

    #[test]
    fn engines_count_from_one_or_zero() {
        assert_eq!(
            leg(&[("CI_NODE_INDEX", "1"), ("CI_NODE_TOTAL", "3")]),
            Some((1, 3))
        );
        assert_eq!(
            leg(&[("CI_NODE_INDEX", "3"), ("CI_NODE_TOTAL", "3")]),
            Some((3, 3))
        );
        let bk = [
            ("BUILDKITE_PARALLEL_JOB", "0"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "4"),
        ];
        assert_eq!(leg(&bk), Some((1, 4)));
        assert_eq!(
            leg(&[("CIRCLE_NODE_INDEX", "3"), ("CIRCLE_NODE_TOTAL", "4")]),
            Some((4, 4))
        );
        // GitLab sets CI_NODE_TOTAL=1 on every job without `parallel:`.
        assert_eq!(leg(&[("CI_NODE_TOTAL", "1")]), None);
        assert_eq!(
            leg(&[("CIRCLE_NODE_INDEX", "0"), ("CIRCLE_NODE_TOTAL", "1")]),
            None
        );
        assert_eq!(leg(&[]), None);
    }

    #[test]
    fn out_of_range_or_garbage_names_the_variable() {
        let err = |pairs: &[(&'static str, &str)]| {
            partition(&Env::from_pairs(pairs)).unwrap_err().to_string()
        };
        assert!(err(&[("CI_NODE_INDEX", "0"), ("CI_NODE_TOTAL", "2")])
            .contains("CI_NODE_INDEX=0 is outside 1..2"));
        assert!(
            err(&[("CIRCLE_NODE_INDEX", "2"), ("CIRCLE_NODE_TOTAL", "2")])
                .contains("counts from 0")
        );
        assert!(err(&[
            ("BUILDKITE_PARALLEL_JOB", "x"),
            ("BUILDKITE_PARALLEL_JOB_COUNT", "2")
        ])
        .contains("is not a number"));
    }
}
