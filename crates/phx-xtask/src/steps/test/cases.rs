//! Reads back the JUnit XML our formatter (junit_formatter.ex) writes: one
//! `<testcase>` per test with its file, line and time, and its failure's
//! location. Only that format is read, so a scan of its attributes is enough.

use std::collections::BTreeMap;

/// One test, as the JUnit file reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    pub classname: String,
    pub name: String,
    pub file: String,
    pub line: u32,
    pub time: f64,
    pub skipped: bool,
    /// `file:line message` of a failure (or an invalid test).
    pub failure: Option<String>,
}

impl Case {
    /// What makes a test the same test on another leg.
    pub fn id(&self) -> (String, String) {
        (self.classname.clone(), self.name.clone())
    }
}

/// Every `<testcase>` in `xml`, in order.
pub fn read(xml: &str) -> Vec<Case> {
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(i) = rest.find("<testcase ") {
        rest = &rest[i + "<testcase ".len()..];
        let tag_end = rest.find('>').unwrap_or(rest.len());
        let tag = &rest[..tag_end];
        let self_closed = tag.ends_with('/');
        let body_end = match self_closed {
            true => tag_end,
            false => rest.find("</testcase>").unwrap_or(rest.len()),
        };
        let body = &rest[tag_end.min(body_end)..body_end];
        let attr = |name: &str| attr(tag, name).unwrap_or_default();
        let (file, line) = (attr("file"), attr("line").parse().unwrap_or(0));
        out.push(Case {
            classname: attr("classname"),
            name: attr("name"),
            time: attr("time").parse().unwrap_or(0.0),
            skipped: body.contains("<skipped"),
            failure: failure(body, &file, line),
            file,
            line,
        });
        rest = &rest[body_end..];
    }
    out
}

/// `file:line message` from `<failure file= line= message=>` or `<error>`.
fn failure(body: &str, file: &str, line: u32) -> Option<String> {
    let start = body.find("<failure ").or_else(|| body.find("<error "))?;
    let tag = &body[start..body[start..].find('>').map_or(body.len(), |e| start + e)];
    let at_file = attr(tag, "file").unwrap_or_else(|| file.to_string());
    let at_line = attr(tag, "line").unwrap_or_else(|| line.to_string());
    let message = attr(tag, "message").unwrap_or_default();
    Some(format!("{at_file}:{at_line} {message}"))
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let key = format!(" {name}=\"");
    let i = format!(" {tag}").find(&key)?;
    let rest = &tag[i + key.len() - 1..];
    Some(unescape(&rest[..rest.find('"')?]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

/// Seconds per test file: the sum of its tests' times.
pub fn file_times(cases: &[Case]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for c in cases.iter().filter(|c| !c.file.is_empty()) {
        *out.entry(c.file.clone()).or_insert(0.0) += c.time;
    }
    out
}

/// What is between `<testsuites>` and `</testsuites>`.
pub fn suites(xml: &str) -> &str {
    let start = xml
        .find("<testsuites>")
        .map_or(0, |i| i + "<testsuites>\n".len());
    let end = xml.rfind("</testsuites>").unwrap_or(xml.len());
    &xml[start.min(end)..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    const XML: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="A" tests="3" failures="1" errors="0" skipped="1" time="0.5">
    <testcase name="test ok" classname="A" file="test/a_test.exs" line="3" time="0.250"/>
    <testcase name="test &quot;bad&quot;" classname="A" file="test/a_test.exs" line="7" time="0.250">
      <failure message="Assertion with == failed" type="error: ExUnit.AssertionError" file="test/a_test.exs" line="9">boom</failure>
    </testcase>
    <testcase name="test skip" classname="A" file="test/b_test.exs" line="1" time="0.000"><skipped/></testcase>
  </testsuite>
</testsuites>
"#;

    #[test]
    fn reads_every_case_its_failure_and_the_file_times() {
        let cases = read(XML);
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].failure, None);
        assert_eq!(cases[1].name, "test \"bad\"");
        assert_eq!(
            cases[1].failure.as_deref(),
            Some("test/a_test.exs:9 Assertion with == failed")
        );
        assert!(cases[2].skipped && !cases[0].skipped);
        let t = file_times(&cases);
        assert_eq!(t["test/a_test.exs"], 0.5);
        assert_eq!(t["test/b_test.exs"], 0.0);
        assert!(suites(XML).starts_with("  <testsuite name=\"A\""));
        assert!(suites(XML).ends_with("</testsuite>\n"));
    }
}
