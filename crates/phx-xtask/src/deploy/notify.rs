//! The deploy's notification: a Slack incoming webhook (SLACK_WEBHOOK_URL)
//! with the environment, version, outcome, duration, time to healthy and
//! a link. A failure to notify is a warning, never a failed deploy, and the
//! webhook's URL (a secret) is never printed or put on a command line.

use std::time::Duration;

use serde_json::json;

use crate::env::Env;
use crate::http;

/// What the message says.
pub struct Message<'a> {
    pub app: &'a str,
    pub env: &'a str,
    pub version: &'a str,
    /// "deployed", "failed, rolled back to …", …
    pub status: &'a str,
    pub ok: bool,
    pub duration: Duration,
    pub healthy_after: Option<Duration>,
    pub url: &'a str,
}

pub fn payload(m: &Message) -> serde_json::Value {
    let healthy = m
        .healthy_after
        .map_or("-".to_string(), |d| format!("{:.1} s", d.as_secs_f64()));
    let icon = if m.ok { ":white_check_mark:" } else { ":x:" };
    let text = format!(
        "{icon} {} {} to {}: {} in {:.1} s (healthy after {healthy}) <{}|open>",
        m.app,
        m.version,
        m.env,
        m.status,
        m.duration.as_secs_f64(),
        m.url
    );
    let field = |k: &str, v: &str| json!({"type": "mrkdwn", "text": format!("*{k}*\n{v}")});
    json!({
        "text": text,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {"type": "section", "fields": [
                field("Environment", m.env),
                field("Version", m.version),
                field("Status", m.status),
                field("Duration", &format!("{:.1} s", m.duration.as_secs_f64())),
                field("Healthy after", &healthy),
                field("Link", m.url),
            ]},
        ],
    })
}

/// Sends it when SLACK_WEBHOOK_URL is set; says how it went.
pub fn send(env: &Env, m: &Message, log: &mut dyn FnMut(String)) {
    let Some(url) = env.get("SLACK_WEBHOOK_URL") else {
        return;
    };
    match http::post_secret(url, &payload(m).to_string(), Duration::from_secs(10)) {
        Ok(s) if (200..300).contains(&s) => log("notified Slack".into()),
        Ok(s) => log(format!(
            "warning: Slack answered {s}; the deploy itself is unaffected"
        )),
        Err(e) => log(format!(
            "warning: could not notify Slack ({e:#}); the deploy itself is unaffected"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_payload_names_every_field() {
        let m = Message {
            app: "demo",
            env: "staging",
            version: "main-abc1234",
            status: "deployed",
            ok: true,
            duration: Duration::from_millis(12_340),
            healthy_after: Some(Duration::from_millis(2_100)),
            url: "https://staging.example.com",
        };
        let p = payload(&m);
        assert_eq!(
            p["text"],
            ":white_check_mark: demo main-abc1234 to staging: deployed in 12.3 s (healthy after 2.1 s) <https://staging.example.com|open>"
        );
        let fields = p["blocks"][1]["fields"].as_array().unwrap();
        let texts: Vec<&str> = fields.iter().map(|f| f["text"].as_str().unwrap()).collect();
        assert_eq!(
            texts,
            [
                "*Environment*\nstaging",
                "*Version*\nmain-abc1234",
                "*Status*\ndeployed",
                "*Duration*\n12.3 s",
                "*Healthy after*\n2.1 s",
                "*Link*\nhttps://staging.example.com"
            ]
        );
    }
}
