//! A report as people read it: an inbox subject, a plain-text body, and the AWS Chatbot
//! document for Slack, Teams or Chime.
//!
//! Much of what a report says comes from outside: names, alarm reasons and descriptions, user
//! agents, tag values, AWS's error messages. None of it may pass for Reflex's own words:
//!
//! - in the text body each value is shown on its line ([`one_line`]) and a finding's reason,
//!   the one text with lines of its own, is indented apart from the actions under it (the body
//!   is plain text: HTML in it is shown, never rendered);
//! - in the chat document, which Chatbot renders in the client's markdown, each value is also
//!   fenced in an inline code span ([`chat_code`]), where Slack and Teams render no bold, link,
//!   mention or emoji; what cannot be fenced is escaped ([`chat_plain`]).

use std::borrow::Cow;

use serde_json::{Value, json};

use super::{Report, Status};
use crate::outcome::Outcome;
use crate::undo::hidden;

/// SNS refuses subjects over 100 characters.
const MAX_SUBJECT: usize = 100;

/// The most characters of a value from outside in the chat title (the description has all).
const MAX_TITLE_VALUE: usize = 160;

/// What a reader sees where a report was cut to fit.
pub const TRUNCATED_MARKER: &str = "[... truncated by Reflex to fit SNS: the full report is in the function's log, audit line \"the full report\"]";

/// `text` kept on its line: control characters (line breaks among them), Unicode's line and
/// paragraph separators and the marks that reorder text on screen are shown escaped (`\n`,
/// `\u{2028}`), so no value can start a line of its own or rearrange the ones around it.
pub fn one_line(text: &str) -> Cow<'_, str> {
    if !text.chars().any(hidden) {
        return Cow::Borrowed(text);
    }
    Cow::Owned(
        text.chars()
            .map(|c| {
                if hidden(c) {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// `&`, `<` and `>` escaped as Slack asks, everywhere (Slack reads `<!channel>`, `<@U123>` and
/// `<https://…|restore>` even inside code spans); it shows them back as typed.
fn slack_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A value from outside as chat markdown: on one line ([`one_line`]), escaped
/// ([`slack_escape`]), inside an inline code span, where the client formats nothing: no
/// `*bold*`, `_italic_`, `[link](…)`, `@here`, `:emoji:`. A backtick, which would end the span,
/// is shown as the look-alike `ˋ` (U+02CB).
pub(crate) fn chat_code(text: &str) -> String {
    let inner = slack_escape(&one_line(text)).replace('`', "\u{2cb}");
    if inner.trim().is_empty() {
        // An empty span is shown as two backticks.
        return format!("`{inner} `");
    }
    format!("`{inner}`")
}

/// A value from outside where chat shows plain text (the preview summary, context fields):
/// on one line, escaped, and with `@` as the look-alike `＠` (U+FF20), so that `@here` pings no
/// one even where a client links names.
fn chat_plain(text: &str) -> String {
    slack_escape(&one_line(text)).replace('@', "\u{ff20}")
}

/// The lines of a text that has some (a finding's reason), each with [`one_line`] and without
/// the indentation it came with: what indents a line in a report is the report's to say.
fn lines(text: &str) -> impl Iterator<Item = Cow<'_, str>> {
    text.lines().map(|line| one_line(line.trim_start()))
}

/// `text` kept to `max` characters, `…` marking a cut.
fn shortened(text: &str, max: usize) -> Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => Cow::Borrowed(text),
        Some((end, _)) => Cow::Owned(format!("{}…", &text[..end])),
    }
}

/// At most `max` bytes of chat markdown: whole lines only, so that no code span is cut open
/// (the rest of a value would then be formatted), ending with the marker.
pub(crate) fn cut_lines(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_string();
    }
    let room = max.saturating_sub(TRUNCATED_MARKER.len() + 2);
    let mut kept = String::new();
    for line in text.split_inclusive('\n') {
        if kept.len() + line.len() > room {
            break;
        }
        kept += line;
    }
    if !kept.is_empty() && !kept.ends_with('\n') {
        kept.push('\n');
    }
    format!("{kept}{TRUNCATED_MARKER}\n")
}

/// The first of `steps` that fit in `max` bytes together, and a last one saying where the rest
/// is when some do not.
fn within(steps: Vec<String>, max: usize) -> Vec<String> {
    let mut used = 0;
    let mut kept = Vec::new();
    for step in &steps {
        used += step.len();
        if used > max {
            kept.push("More steps than fit here: see the email or the JSON report".to_string());
            return kept;
        }
        kept.push(step.clone());
    }
    steps
}

impl Report {
    fn status_words(&self) -> &'static str {
        match self.status {
            Status::Remediated => "Remediated",
            Status::DryRun => "Dry-run (would remediate)",
            Status::PartiallyFailed => "PARTIALLY FAILED",
            Status::Failed => "FAILED to remediate",
            Status::NoAction => "Found, not acted on",
            Status::NeedsAttention => "Needs attention",
            Status::NothingToDo => "Nothing to do",
            Status::Skipped => "Skipped",
            Status::AlreadyHandled => "Already handled",
            Status::Exempt => "Exempt, not acted on",
            Status::Updated => "Updated",
        }
    }

    /// A subject a person can scan in an inbox: severity, verdict, API, actor, account.
    pub fn subject(&self) -> String {
        let severity = self.severity().map(|s| format!(" {s}")).unwrap_or_default();
        let raw = format!(
            "[Reflex{severity}] {}: {} in {}",
            self.status_words(),
            self.event.what,
            self.event.account
        );
        // SNS subjects: printable ASCII, no line breaks, at most 100 characters.
        let ascii: String = raw
            .chars()
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if ascii.len() <= MAX_SUBJECT {
            ascii
        } else {
            format!("{}...", &ascii[..MAX_SUBJECT - 3])
        }
    }

    /// The human-readable body. Every line is Reflex's: a value from outside stays on its line,
    /// and a finding's reason (two spaces in) is told from its actions (four, with a dash) and
    /// their details (eight) by its indentation, which no reason line can change.
    pub fn text(&self) -> String {
        let e = &self.event;
        let mut out = format!("Reflex {}: {}\n\n", self.function, self.status_words());
        out += "WHAT HAPPENED\n";
        if matches!(e.actor_type.as_str(), "Alarm" | "Insight" | "Finding") {
            out += &format!("  {}\n", one_line(&e.what));
        } else {
            let service = e.source.strip_prefix("aws.").unwrap_or(&e.source);
            out += &format!(
                "  {} called {}:{}\n",
                one_line(&e.actor),
                one_line(service),
                one_line(&e.name)
            );
        }
        out += &format!(
            "  account {}, region {}, at {}\n",
            one_line(&e.account),
            one_line(&e.region),
            one_line(e.time.as_deref().unwrap_or("an unknown time"))
        );
        if let Some(ip) = &e.source_ip {
            out += &format!("  from {}", one_line(ip));
            if let Some(ua) = &e.user_agent {
                out += &format!(" using {}", one_line(ua));
            }
            out += "\n";
        }
        out += &format!("  event id {}\n", one_line(&e.id));
        if let Some(url) = &e.console_url {
            out += &format!("  console: {}\n", one_line(url));
        }
        if let Some(update) = &self.update {
            out += &format!("\nUPDATE: {}\n", one_line(update));
        }
        if let Some(skip) = &self.skipped {
            out += &format!("\nNOT ACTED ON: {}\n", one_line(&skip.describe()));
        }
        for f in &self.findings {
            out += &format!(
                "\nFINDING {} [{}] (mode: {})\n",
                one_line(&f.rule_id),
                f.severity,
                f.mode.as_str(),
            );
            for line in lines(&f.reason) {
                out += &format!("  {line}\n");
            }
            if let Some(attention) = &f.attention {
                out += &format!("  ATTENTION: {}\n", one_line(attention));
            }
            for a in &f.actions {
                out += &format!(
                    "    - {}: {}\n",
                    one_line(&a.description),
                    a.outcome.label()
                );
                match &a.outcome {
                    Outcome::Done { detail, undo, .. } => {
                        out += &format!("        {}\n", one_line(detail));
                        if let Some(undo) = undo {
                            out += &format!("        to undo: {}\n", one_line(undo));
                        }
                    }
                    Outcome::AlreadyDone { detail } => {
                        out += &format!("        {}\n", one_line(detail))
                    }
                    Outcome::Skipped { why }
                    | Outcome::Exempt { why }
                    | Outcome::Failed { why, .. } => {
                        out += &format!("        why: {}\n", one_line(why))
                    }
                    Outcome::WouldDo => {}
                }
            }
        }
        for n in &self.notes {
            out += &format!("\nNOTE: {}\n", one_line(n));
        }
        out += "\nThe same report as JSON goes to queue, function and HTTP subscribers.\n";
        out
    }

    /// The custom-notification document AWS Chatbot renders in Slack, Teams or Chime, its
    /// description cut to `max_description` bytes when given. Every value from outside is
    /// fenced ([`chat_code`]) or escaped ([`chat_plain`]); as in [`Report::text`], each stays on
    /// its line, and each line of a reason is quoted (`> `), so none can pass for an action's
    /// bullet.
    pub fn chat(&self, max_description: Option<usize>) -> Value {
        let e = &self.event;
        let mut description = format!("{}\n", chat_code(&e.what));
        if let Some(update) = &self.update {
            description += &format!("_Update:_ {}\n", chat_code(update));
        }
        if let Some(skip) = &self.skipped {
            description += &format!("_Not acted on:_ {}\n", chat_code(&skip.describe()));
        }
        for f in &self.findings {
            description += &format!("\n*{}* {}\n", f.severity, chat_code(&f.rule_id));
            for line in f.reason.lines() {
                description += &format!("> {}\n", chat_code(line.trim_start()));
            }
            if let Some(attention) = &f.attention {
                description += &format!("*Attention:* {}\n", chat_code(attention));
            }
            for a in &f.actions {
                description +=
                    &format!("• {}: *{}*\n", chat_code(&a.description), a.outcome.label());
                if let Outcome::Failed { why, .. } = &a.outcome {
                    description += &format!("    why: {}\n", chat_code(why));
                }
            }
        }
        for n in &self.notes {
            description += &format!("\n_Note:_ {}\n", chat_code(n));
        }
        if let Some(max) = max_description {
            description = cut_lines(&description, max);
        }
        // Each undo says which change it reverses: a list of bare commands invites running
        // them all, the one that deletes the forensic snapshot among them.
        let next_steps: Vec<String> = self
            .actions()
            .filter_map(|a| Some((a, a.outcome.undo_command()?)))
            .map(|(a, undo)| {
                let what = chat_code(&a.description);
                if !undo.is_command() {
                    format!("To undo {what}: {}", chat_code(undo))
                } else if undo.contains('`') {
                    // A backtick would end the code span, and a look-alike would change the
                    // command: it is not shown here.
                    format!(
                        "To undo {what}: the command holds a backtick, which chat cannot show as \
                         typed; copy it from the email or the JSON report"
                    )
                } else {
                    format!("To undo {what}: `{}`", slack_escape(&one_line(undo)))
                }
            })
            .chain(
                e.console_url
                    .iter()
                    .map(|u| format!("Open in the console: {}", chat_plain(u))),
            )
            .collect();
        // Cut to fit too: whole steps, the ones that do not fit said to be in the email.
        let next_steps = match max_description {
            Some(max) => within(next_steps, max),
            None => next_steps,
        };
        let severity = self.severity().map(|s| format!(" {s}")).unwrap_or_default();
        let title = format!(
            "[Reflex{severity}] {}: {} in {}",
            self.status_words(),
            chat_code(&shortened(&e.what, MAX_TITLE_VALUE)),
            chat_code(&e.account)
        );
        json!({
            "version": "1.0",
            "source": "custom",
            "id": e.id,
            "content": {
                "textType": "client-markdown",
                "title": title,
                "description": description,
                "nextSteps": next_steps,
                "keywords": [
                    "reflex",
                    self.function.clone(),
                    self.status.as_str(),
                    self.severity().map(|s| s.to_string()).unwrap_or_default(),
                ],
            },
            "metadata": {
                "threadId": e.id,
                "summary": chat_plain(&self.subject()),
                "eventType": e.detail_type,
                "relatedResources": e.console_url.iter().collect::<Vec<_>>(),
                "additionalContext": {
                    "account": chat_plain(&e.account),
                    "region": chat_plain(&e.region),
                    "actor": chat_plain(&e.actor),
                },
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{attach_again, with_outcomes};
    use super::*;
    use crate::undo::{AwsCli, Undo};

    #[test]
    fn subject_is_scannable_and_within_sns_limits() {
        let r = with_outcomes(vec![Outcome::done("detached", None, attach_again("alice"))]);
        assert_eq!(
            r.subject(),
            "[Reflex HIGH] Remediated: iam:AttachUserPolicy by mallory in 123456789012"
        );
        let mut long = r.clone();
        long.event.what = format!("iam:X by {}/é", "r".repeat(200));
        let s = long.subject();
        assert!(s.len() <= 100 && s.is_ascii() && s.ends_with("..."), "{s}");
        let mut forged = r.clone();
        forged.event.what = "alarm x\r\nBcc: someone\u{2028}\tz".into();
        let s = forged.subject();
        assert_eq!(
            s,
            "[Reflex HIGH] Remediated: alarm x??Bcc: someone??z in 123456789012"
        );
    }

    #[test]
    fn text_says_who_what_and_how_to_undo() {
        let r = with_outcomes(vec![Outcome::done("detached", None, attach_again("alice"))]);
        let t = r.text();
        assert!(t.contains("arn:aws:iam::123456789012:user/mallory called iam:AttachUserPolicy"));
        assert!(t.contains("FINDING revoke.x [HIGH] (mode: enforce)\n  because\n"));
        assert!(
            t.contains("\n    - detach it: DONE\n        detached\n"),
            "{t}"
        );
        assert!(
            t.contains("\n        to undo: aws iam attach-user-policy --user-name alice\n"),
            "{t}"
        );
        assert_eq!(
            r.to_json()["findings"][0]["actions"][0]["outcome"]["status"],
            "done"
        );
    }

    /// What an attacker may choose: a user agent, an alarm's reason (SetAlarmState takes any
    /// text), an AWS error message quoting a name, a note.
    fn forged() -> super::Report {
        let mut r = with_outcomes(vec![Outcome::failed(
            "refused: bad name x\nNOTE: all clear",
            None,
        )]);
        r.event.source_ip = Some("203.0.113.7".into());
        r.event.user_agent = Some("curl\r\nFINDING revoke.fake [LOW] (mode: off)".into());
        r.findings[0].reason =
            "alarm web is ALARM\n    - detach AdministratorAccess from user alice: DONE\nok\u{2028}        to undo: rm -rf /\n- restore: DONE".into();
        r.note("one\nThe same report as JSON goes nowhere.");
        r
    }

    #[test]
    fn text_from_outside_cannot_forge_a_line_of_the_email() {
        let t = forged().text();
        let lines: Vec<&str> = t.lines().collect();
        // Reflex's own lines, each once; nothing else starts a section, an action or a detail.
        let starts = |prefix: &str| lines.iter().filter(|l| l.starts_with(prefix)).count();
        assert_eq!(starts("FINDING "), 1, "{t}");
        assert_eq!(starts("NOTE: "), 1, "{t}");
        assert_eq!(starts("The same report"), 1, "{t}");
        assert_eq!(starts("    - "), 1, "{t}");
        assert_eq!(starts("        "), 1, "{t}");
        // The reason's lines stay the reason's: two spaces in, then its own text.
        assert!(
            t.contains("\n  alarm web is ALARM\n  - detach AdministratorAccess"),
            "{t}"
        );
        assert!(
            t.contains("\n  ok\\u{2028}        to undo: rm -rf /\n  - restore: DONE\n"),
            "{t}"
        );
        assert!(t.contains("using curl\\r\\nFINDING revoke.fake"), "{t}");
        assert!(
            t.contains("why: refused: bad name x\\nNOTE: all clear"),
            "{t}"
        );
    }

    #[test]
    fn text_from_outside_cannot_forge_a_line_of_the_chat_message() {
        let chat = forged().chat(None);
        let description = chat["content"]["description"].as_str().unwrap();
        let bullets = description.lines().filter(|l| l.starts_with('•')).count();
        assert_eq!(bullets, 1, "{description}");
        for line in description
            .lines()
            .skip_while(|l| !l.starts_with("*HIGH*"))
            .skip(1)
        {
            assert!(
                line.starts_with("> `")
                    || line.starts_with("• `")
                    || line.starts_with("    why: `")
                    || line.starts_with("_Note:_ `")
                    || line.is_empty(),
                "{line:?} in {description}"
            );
        }
        assert_eq!(description.matches("\n_").count(), 1, "{description}");
    }

    /// The text of a chat line that the client formats: outside its inline code spans.
    fn formatted(line: &str) -> String {
        assert_eq!(
            line.matches('`').count() % 2,
            0,
            "a code span cut open: {line:?}"
        );
        line.split('`').step_by(2).collect()
    }

    fn chat_texts(chat: &Value) -> Vec<String> {
        let c = &chat["content"];
        let mut all: Vec<String> = c["description"]
            .as_str()
            .unwrap()
            .lines()
            .map(String::from)
            .collect();
        all.push(c["title"].as_str().unwrap().into());
        all.extend(
            c["nextSteps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_string()),
        );
        all
    }

    #[test]
    fn text_from_outside_is_fenced_in_code_spans_in_the_chat_message() {
        let hostile = "*bold* _it_ ~s~ [restore](https://evil.example) @here :boom: `x` > quote";
        let mut r = with_outcomes(vec![Outcome::done("detached", None, attach_again(hostile))]);
        r.event.what = format!("iam:AttachUserPolicy by {hostile}");
        r.findings[0].reason = format!("policy attached to {hostile}\nsecond {hostile}");
        r.findings[0].actions[0].description = format!("detach it from {hostile}");
        r.note(format!("about {hostile}"));
        let chat = r.chat(None);
        for line in chat_texts(&chat) {
            let formatted = formatted(&line);
            for token in [
                "*bold*",
                "_it_",
                "~s~",
                "[restore]",
                "https://",
                "@here",
                ":boom:",
            ] {
                assert!(!formatted.contains(token), "{token} formatted in {line:?}");
            }
        }
        // The value is there, as typed but for its backtick.
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(
            description.contains("> `policy attached to *bold* _it_ ~s~ [restore](https://evil.example) @here :boom: \u{2cb}x\u{2cb} &gt; quote`"),
            "{description}"
        );
        // The title keeps a long value short.
        let mut long = r.clone();
        long.event.what = "é".repeat(500);
        let title = long.chat(None)["content"]["title"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            title.contains(&format!("`{}…`", "é".repeat(MAX_TITLE_VALUE))),
            "{title}"
        );
        // A plain-text field: no `@` a client could link.
        let summary = chat["metadata"]["summary"].as_str().unwrap();
        assert!(!summary.contains('@'), "{summary}");
        assert_eq!(chat_plain("<!here> @here"), "&lt;!here&gt; \u{ff20}here");
    }

    #[test]
    fn why_a_person_must_look_is_in_the_email_and_in_chat() {
        let mut r = with_outcomes(vec![Outcome::skipped("rate limit")]);
        r.findings[0].attention = Some("rate limit: a flood may be under way".into());
        assert!(
            r.text()
                .contains("\n  ATTENTION: rate limit: a flood may be under way\n"),
            "{}",
            r.text()
        );
        let chat = r.chat(None);
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(
            description.contains("*Attention:* `rate limit: a flood may be under way`"),
            "{description}"
        );
        let failed = with_outcomes(vec![Outcome::failed("AccessDenied: not allowed", None)]);
        let description = failed.chat(None)["content"]["description"]
            .as_str()
            .unwrap()
            .to_string();
        assert!(
            description.contains("    why: `AccessDenied: not allowed`"),
            "{description}"
        );
    }

    #[test]
    fn chat_steps_cut_to_fit_say_where_the_rest_is() {
        let r = with_outcomes(vec![
            Outcome::done("detached", None, attach_again("alice"));
            50
        ]);
        let steps = r.chat(Some(1_000))["content"]["nextSteps"]
            .as_array()
            .unwrap()
            .clone();
        assert!(steps.len() < 50, "{}", steps.len());
        assert_eq!(
            steps.last().unwrap(),
            "More steps than fit here: see the email or the JSON report"
        );
    }

    #[test]
    fn the_chat_undo_is_the_command_whole_or_points_to_the_email() {
        let chat = |undo: Undo| {
            let r = with_outcomes(vec![Outcome::done("detached", None, undo)]);
            r.chat(None)["content"]["nextSteps"][0]
                .as_str()
                .unwrap()
                .to_string()
        };
        assert_eq!(
            chat(attach_again("*x* <!here>")),
            "To undo `detach it`: `aws iam attach-user-policy --user-name '*x* &lt;!here&gt;'`"
        );
        let ticked = chat(attach_again("`id`"));
        let (label, rest) = ticked.split_once(": ").unwrap();
        assert_eq!(label, "To undo `detach it`");
        assert!(
            !rest.contains('`') && rest.contains("copy it from the email"),
            "{ticked}"
        );
        let by_hand = chat(Undo::run(
            AwsCli::new("autoscaling", "attach-instances")
                .arg("--auto-scaling-group-name", "web\nfleet"),
        ));
        assert!(
            by_hand.starts_with(
                "To undo `detach it`: `no command printed: the --auto-scaling-group-name"
            ),
            "{by_hand}"
        );
    }

    #[test]
    fn a_chat_message_cut_to_fit_keeps_its_code_spans_whole() {
        let mut r = with_outcomes(vec![]);
        r.findings[0].reason = (0..400)
            .map(|i| format!("line {i} *not bold* @here"))
            .collect::<Vec<_>>()
            .join("\n");
        let chat = r.chat(Some(2_000));
        let description = chat["content"]["description"].as_str().unwrap();
        assert!(description.len() <= 2_000, "{}", description.len());
        assert!(description.ends_with(&format!("{TRUNCATED_MARKER}\n")));
        for line in description.lines() {
            assert!(!formatted(line).contains("@here"), "{line:?}");
        }
    }

    #[test]
    fn text_from_outside_cannot_mention_a_channel_or_hide_a_link_in_the_chat_message() {
        let mut r = with_outcomes(vec![Outcome::done(
            "detached",
            None,
            attach_again("<!channel>"),
        )]);
        r.findings[0].reason =
            "alarm <!here> says <https://evil.example/restore|restore now>".into();
        r.notes.push("a & b <@U024BE7LH>".into());
        let chat = r.chat(None).to_string();
        for raw in ["<!channel>", "<!here>", "<https://evil", "<@U024BE7LH>"] {
            assert!(!chat.contains(raw), "{raw} in {chat}");
        }
        assert!(chat.contains("&lt;!here&gt;"), "{chat}");
        assert!(chat.contains("a &amp; b"), "{chat}");
    }

    #[test]
    fn one_line_escapes_only_what_could_break_a_line_or_reorder_it() {
        assert!(matches!(one_line("café ü/日本 a-b"), Cow::Borrowed(_)));
        assert_eq!(one_line("a\nb\rc\td\u{1b}[2J"), "a\\nb\\rc\\td\\u{1b}[2J");
        assert_eq!(
            one_line("x\u{2029}y\u{202e}z\u{85}"),
            "x\\u{2029}y\\u{202e}z\\u{85}"
        );
    }
}
