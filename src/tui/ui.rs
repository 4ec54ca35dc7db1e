//! Drawing the dashboard: a header with the ledger's health, the list of dispatches, the
//! selected one's pane, diff or receipts, and a footer with the keys or the question asked.

use ansi_to_tui::IntoText;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table, TableState};

use super::app::{App, Mode, View};
use vnx::dashboard::model::{Health, Row};

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let list_height = u16::try_from(app.snapshot.rows.len())
        .unwrap_or(u16::MAX)
        .saturating_add(3)
        .clamp(4, (area.height.saturating_sub(2) * 2 / 5).max(4));
    let [header, list, detail, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(list_height),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app);
    draw_list(frame, list, app);
    draw_detail(frame, detail, app);
    draw_footer(frame, footer, app);
}

fn draw_header(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let rows = &app.snapshot.rows;
    let count = |g: u8| rows.iter().filter(|r| r.group() == g).count();
    let older = app.snapshot.older;
    // The older finished ones are counted, not listed.
    let summary = format!(
        " vnx  {}: {} waiting, {} running, {} finished{}  ",
        rows.len() + older,
        count(0),
        count(1),
        count(2) + older,
        if older > 0 {
            format!(" ({older} older not listed)")
        } else {
            String::new()
        }
    );
    let (health, style) = match &app.snapshot.health {
        Health::Verified(lines) => (
            format!("ledger verified ({lines} lines) "),
            Style::new().fg(Color::Black).bg(Color::Green),
        ),
        Health::Broken { line, .. } => (
            format!("LEDGER BROKEN from line {line}: run vnx audit-chain verify "),
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD),
        ),
        Health::Missing => ("no ledger yet ".into(), Style::new()),
        Health::Unchecked => ("ledger not checked ".into(), Style::new()),
    };
    let summary = Span::styled(summary, Style::new().add_modifier(Modifier::BOLD));
    let health = Span::styled(health, style);
    // A broken ledger comes first, so that no terminal is too narrow to say so.
    let line = if matches!(app.snapshot.health, Health::Broken { .. }) {
        Line::from(vec![Span::raw(" "), health, summary])
    } else {
        Line::from(vec![summary, health])
    };
    let bar = if matches!(app.snapshot.health, Health::Broken { .. }) {
        Style::new().bg(Color::Red)
    } else {
        Style::new()
    };
    frame.render_widget(Paragraph::new(line).style(bar), area);
}

/// The colour of a state.
fn state_style(shown: &str) -> Style {
    let colour = match shown {
        "done" | "merged" => Color::Green,
        "running" => Color::Cyan,
        "blocked" | "stalled" | "needs_input" | "lost" => Color::Yellow,
        "released" => Color::Blue,
        _ => Color::Red,
    };
    Style::new().fg(colour)
}

/// An age in the largest unit that fits (`42s`, `7m`, `3h`, `2d`).
pub fn age(seconds: i64) -> String {
    match seconds.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// Tokens in thousands past a thousand (`812`, `12.3k`, `4.1M`).
fn tokens(n: Option<u64>) -> String {
    match n {
        None => "-".into(),
        Some(n) if n < 1_000 => n.to_string(),
        Some(n) if n < 1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        Some(n) => format!("{:.1}M", n as f64 / 1e6),
    }
}

fn row_age(app: &App, r: &Row) -> String {
    let since = r
        .state
        .started_at
        .as_deref()
        .and_then(|t| t.parse::<jiff::Timestamp>().ok());
    since.map_or_else(
        || "-".into(),
        |t| age(app.snapshot.now.as_second() - t.as_second()),
    )
}

fn draw_list(frame: &mut Frame<'_>, area: Rect, app: &App) {
    // The title (its role for a dispatch recorded before titles) from 78 columns (an
    // 80-column terminal shows it), tokens and a roomier provider/model from 100.
    let wide = area.width >= 100;
    let narrow = area.width < 78;
    let rows: Vec<TableRow<'_>> = app
        .snapshot
        .rows
        .iter()
        .map(|r| {
            let s = &r.state;
            let mut who = match &s.model {
                Some(m) => format!("{}/{m}", s.provider.as_deref().unwrap_or("-")),
                None => s.provider.clone().unwrap_or_else(|| "-".into()),
            };
            // On a remote host (or, queued, waiting for one).
            if let Some(host) = &s.host {
                who.push('@');
                who.push_str(host);
            }
            let mut cells = vec![
                Cell::from(s.status).style(state_style(s.status)),
                Cell::from(s.id.to_string()),
                Cell::from(row_age(app, r)),
                Cell::from(who),
            ];
            if !narrow {
                cells.push(Cell::from(s.label().to_owned()));
            }
            if wide {
                cells.push(Cell::from(tokens(s.tokens)));
            }
            cells.push(Cell::from(r.activity.clone()));
            TableRow::new(cells)
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(11),
        Constraint::Length(14),
        Constraint::Length(4),
        Constraint::Length(if wide { 22 } else { 14 }),
    ];
    let mut header = vec!["STATE", "DISPATCH", "AGE", "PROVIDER/MODEL"];
    if !narrow {
        // The title and the last activity share what the other columns leave.
        widths.push(Constraint::Fill(1));
        header.push("TITLE");
    }
    if wide {
        widths.push(Constraint::Length(6));
        header.push("TOKENS");
    }
    widths.push(Constraint::Fill(1));
    header.push("LAST ACTIVITY");
    let empty = app.snapshot.rows.is_empty();
    let table = Table::new(rows, widths)
        .header(TableRow::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::new().borders(Borders::TOP).title(if empty {
            " no dispatches yet: vnx dispatch-agent … starts one "
        } else {
            " dispatches "
        }));
    let mut state = TableState::default().with_selected(app.index());
    frame.render_stateful_widget(table, area, &mut state);
}

fn draw_detail(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let Some(r) = app.row() else {
        frame.render_widget(Block::new().borders(Borders::TOP), area);
        return;
    };
    let s = &r.state;
    let tab = |v: View, name: &str| {
        let style = if app.view == v {
            Style::new().add_modifier(Modifier::REVERSED)
        } else {
            Style::new()
        };
        Span::styled(format!(" {name} "), style)
    };
    let mut title = vec![
        tab(View::Pane, "1 pane"),
        tab(View::Diff, "2 diff"),
        tab(View::Receipts, "3 receipts"),
        Span::raw(format!(" {} ", s.id)),
        Span::styled(s.status, state_style(s.status)),
    ];
    if let Some(p) = &s.proof {
        title.push(Span::raw(format!(
            " {} #{} {}",
            p.event_type,
            p.line,
            &p.line_sha256[..8]
        )));
        title.push(match s.verified {
            Some(true) => Span::styled(" ✓ ", Style::new().fg(Color::Green)),
            Some(false) => Span::styled(" ✗ unverified ", Style::new().fg(Color::Red)),
            None => Span::raw(" "),
        });
    }
    let text: Text<'_> = match app.view {
        View::Pane => app
            .content
            .as_bytes()
            .into_text()
            .unwrap_or_else(|_| Text::raw(vnx::dashboard::model::plain(&app.content))),
        View::Diff => diff_text(&app.content),
        View::Receipts => Text::raw(app.content.clone()),
    };
    // A pane or log is read from its end: scrolling goes back from there.
    let height = area.height.saturating_sub(1);
    let lines = u16::try_from(text.lines.len()).unwrap_or(u16::MAX);
    let offset = match app.view {
        View::Pane => lines.saturating_sub(height).saturating_sub(app.scroll),
        View::Diff | View::Receipts => app.scroll,
    };
    let paragraph = Paragraph::new(text)
        .block(Block::new().borders(Borders::TOP).title(Line::from(title)))
        .scroll((offset, 0));
    frame.render_widget(paragraph, area);
}

/// A diff with added lines green, removed red and hunk headers cyan.
fn diff_text(diff: &str) -> Text<'static> {
    Text::from(
        diff.lines()
            .map(|l| {
                let l = vnx::dashboard::model::plain(l);
                let style = if l.starts_with("+++") || l.starts_with("---") {
                    Style::new().add_modifier(Modifier::BOLD)
                } else if l.starts_with('+') {
                    Style::new().fg(Color::Green)
                } else if l.starts_with('-') {
                    Style::new().fg(Color::Red)
                } else if l.starts_with("@@") {
                    Style::new().fg(Color::Cyan)
                } else {
                    Style::new()
                };
                Line::styled(l, style)
            })
            .collect::<Vec<_>>(),
    )
}

fn draw_footer(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let (text, style) = match &app.mode {
        Mode::Confirm(action) => (
            format!(" {} [y/N]", action.question()),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ),
        Mode::FollowUp { dispatch_id, text } => (
            format!(" follow up {dispatch_id}: {text}▏ (Enter sends, Esc cancels)"),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Mode::Normal => match (&app.message, app.running.first()) {
            (_, Some(action)) => (
                format!(" running: vnx {} …", action.argv()[0]),
                Style::new().fg(Color::Cyan),
            ),
            (Some(message), None) => (format!(" {message}"), Style::new()),
            (None, None) => (
                " a:attach f:follow-up c:cancel g:gates m:merge r:release x:clean ⇥:view \
                 q:quit"
                    .into(),
                Style::new().add_modifier(Modifier::DIM),
            ),
        },
    };
    frame.render_widget(Paragraph::new(text).style(style), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_and_tokens_read_short() {
        assert_eq!(age(42), "42s");
        assert_eq!(age(7 * 60 + 5), "7m");
        assert_eq!(age(3 * 3600), "3h");
        assert_eq!(age(2 * 86_400 + 1), "2d");
        assert_eq!(age(-5), "0s");
        assert_eq!(tokens(Some(812)), "812");
        assert_eq!(tokens(Some(12_345)), "12.3k");
        assert_eq!(tokens(Some(4_100_000)), "4.1M");
        assert_eq!(tokens(None), "-");
    }
}
