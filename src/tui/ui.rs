//! Drawing the dashboard: a header with the ledger's health, the list of dispatches (the
//! waiting ones always in view), the selected one's pane, diff or receipts, a footer with
//! the keys or the question asked, and the help over it all.

use std::ops::Range;

use ansi_to_tui::IntoText;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{
    Block, Borders, Cell, Clear, Paragraph, Row as TableRow, Table, TableState,
};

use super::app::{App, KEYS, Key, Mode, View, suggested};
use crate::shown::fit;
use vnx::dashboard::model::{Health, Row};

/// Draws the whole dashboard.
pub fn draw(frame: &mut Frame<'_>, app: &App) {
    let area = frame.area();
    let rows = &app.snapshot.rows;
    let waiting = waiting_count(app);
    // Between the header and the footer; the lower pane keeps 3 lines.
    let between = usize::from(area.height.saturating_sub(2));
    let most = between.saturating_sub(3).max(4);
    // The list takes two fifths, and more when the waiting ones need it (all of them, and
    // three lines for the others), up to what the lower pane leaves.
    let share = (between * 2 / 5).max(4);
    let needed = waiting + 2 + (rows.len() - waiting).min(3);
    let list_height = (rows.len() + 2).max(4).min(share.max(needed)).min(most);
    let [header, list, detail, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(u16::try_from(list_height).unwrap_or(u16::MAX)),
        Constraint::Min(3),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(frame, header, app);
    draw_list(frame, list, app);
    draw_detail(frame, detail, app);
    draw_footer(frame, footer, app);
    if app.mode == Mode::Help {
        draw_help(frame, area);
    }
}

/// How many rows wait for a person (they come first).
fn waiting_count(app: &App) -> usize {
    app.snapshot
        .rows
        .iter()
        .take_while(|r| r.group() == 0)
        .count()
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
    let (line, bar) = if matches!(app.snapshot.health, Health::Broken { .. }) {
        let line = Line::from(vec![Span::raw(" "), health, summary]);
        (line, Style::new().bg(Color::Red))
    } else {
        (Line::from(vec![summary, health]), Style::new())
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
    crate::shown::started_age(r.state.started_at.as_deref(), app.now, "-")
}

/// Who runs it: the provider, with its model when `model` (and its host when remote).
fn who(s: &vnx::dispatch::view::DispatchState, model: bool) -> String {
    let mut who = match (&s.model, model) {
        (Some(m), true) => format!("{}/{m}", s.provider.as_deref().unwrap_or("-")),
        _ => s.provider.clone().unwrap_or_else(|| "-".into()),
    };
    // On a remote host (or, queued, waiting for one).
    if let Some(place) = s.place.place() {
        who.push('@');
        who.push_str(&place.to_string());
    }
    who
}

/// A row's title, after its pull request's badge when it has one.
fn title_of(app: &App, r: &Row) -> String {
    match app.prs.get(&r.state.id) {
        Some(pr) => format!("{} {}", pr_badge(pr), r.state.label()),
        None => r.state.label().to_owned(),
    }
}

/// A pull request in a few characters: `#12` (no checks yet), `#12 ✓` (every check
/// passed), `#12 ✗ 1/3` (one of three failed), `#12 … 2/3` (two of three pending), `#12
/// merged`, `#12 closed`; `?` after it when the last read failed.
pub fn pr_badge(pr: &vnx::forge::watch::PrStatus) -> String {
    let count = |w: &str| pr.checks.values().filter(|s| *s == w).count();
    let total = pr.checks.len();
    let mut badge = match (pr.state.as_str(), pr.checks_word.as_str()) {
        ("merged" | "closed", _) => format!("#{} {}", pr.number, pr.state),
        (_, "pass") => format!("#{} ✓", pr.number),
        (_, "fail") => format!("#{} ✗ {}/{total}", pr.number, count("fail")),
        (_, "pending") => format!("#{} … {}/{total}", pr.number, count("pending")),
        _ => format!("#{}", pr.number),
    };
    if pr.stale.is_some() {
        badge.push('?');
    }
    badge
}

/// What the lower pane shows of a pull request, as `vnx show` does: the line, the address,
/// the head against the recorded one, each check, the review decision and the new reviews
/// and comments; forge text without its control characters.
pub fn pr_block(pr: &vnx::forge::watch::PrStatus) -> Vec<String> {
    let lines = crate::shown::pr_lines(pr, vnx::dashboard::model::plain).into_iter();
    (lines.enumerate())
        .map(|(i, (key, value))| match i {
            0 => format!("{key:<8} {value}"),
            _ => format!("  {key:<6} {value}"),
        })
        .collect()
}

/// The rows of `len` that a band of `shown` lines shows: from where it showed last
/// (`offset`), moved only as far as needed to show `selected`.
fn window(
    offset: &std::cell::Cell<usize>,
    len: usize,
    shown: usize,
    selected: Option<usize>,
) -> Range<usize> {
    let mut first = offset.get().min(len - shown);
    if let Some(s) = selected {
        if s < first {
            first = s;
        } else if s >= first + shown {
            first = s + 1 - shown;
        }
    }
    offset.set(first);
    first..first + shown
}

fn draw_list(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let all = &app.snapshot.rows;
    // Two bands: the waiting ones, always shown (they scroll only when they alone are more
    // than the list holds), and the others below, which scroll.
    let waiting = waiting_count(app);
    let others = all.len() - waiting;
    let body = usize::from(area.height.saturating_sub(2));
    let selected = app.index();
    let in_others = selected.and_then(|i| i.checked_sub(waiting));
    let keep = usize::from(others > 0 && in_others.is_some());
    let waiting_shown = waiting.min(body.saturating_sub(keep));
    let others_shown = others.min(body - waiting_shown);
    let top = window(
        &app.waiting_offset,
        waiting,
        waiting_shown,
        selected.filter(|&i| i < waiting),
    );
    let bottom = window(&app.offset, others, others_shown, in_others);
    let bottom = bottom.start + waiting..bottom.end + waiting;
    let visible: Vec<usize> = top.clone().chain(bottom.clone()).collect();

    // The title (its role for a dispatch recorded before titles) from 78 columns (an
    // 80-column terminal shows it), tokens and the model from 100. The columns take what
    // their longest value needs; the title gets what is left, before the last activity.
    let width = usize::from(area.width);
    let wide = width >= 100;
    let narrow = width < 78;
    let need = |f: &dyn Fn(&Row) -> usize, header: usize, most: usize| {
        all.iter().map(f).max().unwrap_or(0).max(header).min(most)
    };
    let chars = |s: &str| s.chars().count();
    let state_w = need(&|r| chars(r.state.status), 5, 11);
    let id_w = need(&|r| chars(r.state.id.as_str()), 8, 20);
    let age_w = need(&|r| chars(&row_age(app, r)), 3, 4);
    let who_w = need(
        &|r| chars(&who(&r.state, wide)),
        if wide { 14 } else { 8 },
        if wide { 22 } else { 14 },
    );
    let tokens_w = if wide { 6 } else { 0 };
    let columns = 5 + usize::from(!narrow) + usize::from(wide);
    let fixed = state_w + id_w + age_w + who_w + tokens_w + columns - 1;
    let rest = width.saturating_sub(fixed);
    let title_w = if narrow {
        0
    } else {
        let title = need(&|r| chars(&title_of(app, r)), 5, usize::MAX);
        let activity = need(&|r| chars(&r.activity), 13, usize::MAX);
        title.min((rest * 2 / 3).max(rest.saturating_sub(activity + 1)))
    };
    let who_header = if wide { "PROVIDER/MODEL" } else { "PROVIDER" };
    let mut shown = vec![(state_w, "STATE"), (id_w, "DISPATCH"), (age_w, "AGE")];
    shown.push((who_w, who_header));
    shown.extend((!narrow).then_some((title_w, "TITLE")));
    shown.extend(wide.then_some((tokens_w, "TOKENS")));
    let length = |n: usize| Constraint::Length(u16::try_from(n).unwrap_or(u16::MAX));
    let (widths, header): (Vec<_>, Vec<_>) = (shown.into_iter())
        .map(|(w, h)| (length(w), h))
        .chain([(Constraint::Fill(1), "LAST ACTIVITY")])
        .unzip();

    let rows: Vec<TableRow<'_>> = visible
        .iter()
        .map(|&i| {
            let r = &all[i];
            let s = &r.state;
            let mut cells = vec![
                Cell::from(s.status).style(state_style(s.status)),
                Cell::from(s.id.to_string()),
                Cell::from(row_age(app, r)),
                Cell::from(who(s, wide)),
            ];
            cells.extend((!narrow).then(|| Cell::from(title_of(app, r))));
            cells.extend(wide.then(|| Cell::from(tokens(s.tokens))));
            // Without a title column, its pull request leads the last activity.
            let mut activity = match app.prs.get(&s.id) {
                Some(pr) if narrow => format!("{} {}", pr_badge(pr), r.activity),
                _ => r.activity.clone(),
            };
            // Another dispatch in play changed a file it changed: the detail says which.
            if r.overlaps.is_some() {
                activity.insert_str(0, "⚠ overlap · ");
            }
            cells.push(Cell::from(activity));
            TableRow::new(cells)
        })
        .collect();
    let range = |r: &Range<usize>, base: usize| match (r.start - base + 1, r.end - base) {
        (first, last) if first == last => first.to_string(),
        (first, last) => format!("{first}–{last}"),
    };
    let mut told = Vec::new();
    if waiting_shown < waiting {
        told.push(format!("waiting {} of {waiting}", range(&top, 0)));
    } else if waiting > 0 && others_shown < others {
        told.push(format!("{waiting} waiting"));
    }
    if others_shown == 0 && others > 0 {
        told.push(format!("{others} others hidden"));
    } else if others_shown < others {
        told.push(format!("{} of {others} others", range(&bottom, waiting)));
    }
    let title = if all.is_empty() {
        " no dispatches yet: vnx dispatch-agent … starts one ".to_owned()
    } else if told.is_empty() {
        " dispatches ".to_owned()
    } else {
        format!(" dispatches: {} ", told.join(", "))
    };
    let table = Table::new(rows, widths)
        .header(TableRow::new(header).style(Style::new().add_modifier(Modifier::BOLD)))
        .row_highlight_style(Style::new().add_modifier(Modifier::REVERSED))
        .block(Block::new().borders(Borders::TOP).title(title));
    let at = selected.and_then(|i| visible.iter().position(|&v| v == i));
    let mut state = TableState::default().with_selected(at);
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
    // Its pull request: its line atop every view (when the pane has room for it and two
    // more lines), the whole block atop the receipts; and the files it shares with other
    // dispatches in play (the conflict radar), atop every view.
    let pr = app.prs.get(&s.id);
    let mut area = area;
    let mut top_lines = Vec::new();
    if let Some(pr) = pr.filter(|_| app.view != View::Receipts) {
        top_lines.push(Line::styled(
            vnx::dashboard::model::plain(&pr.line()),
            Style::new().add_modifier(Modifier::BOLD),
        ));
    }
    if let Some(overlaps) = &r.overlaps {
        top_lines.push(Line::styled(
            format!("⚠ {overlaps}"),
            Style::new().fg(Color::Yellow),
        ));
    }
    let rows = u16::try_from(top_lines.len()).unwrap_or(u16::MAX);
    if rows > 0 && area.height >= 4 + rows {
        let [top, rest] =
            Layout::vertical([Constraint::Length(1 + rows), Constraint::Min(1)]).areas(area);
        frame.render_widget(
            Paragraph::new(top_lines)
                .block(Block::new().borders(Borders::TOP).title(Line::from(title))),
            top,
        );
        title = Vec::new();
        area = rest;
    }
    let text: Text<'_> = match app.view {
        View::Receipts if pr.is_some() => {
            let mut lines = pr.map(pr_block).unwrap_or_default();
            lines.push(String::new());
            lines.push(app.content.clone());
            Text::raw(lines.join("\n"))
        }
        View::Pane => app
            .content
            .as_bytes()
            .into_text()
            .unwrap_or_else(|_| Text::raw(vnx::dashboard::model::plain(&app.content))),
        View::Diff => diff_text(&app.content, usize::from(app.scroll)),
        View::Receipts => Text::raw(app.content.clone()),
    };
    // A pane or log is read from its end: scrolling goes back from there.
    let height = area.height.saturating_sub(u16::from(!title.is_empty()));
    let lines = u16::try_from(text.lines.len()).unwrap_or(u16::MAX);
    let offset = match app.view {
        View::Pane => lines.saturating_sub(height).saturating_sub(app.scroll),
        View::Diff | View::Receipts => app.scroll,
    };
    let block = if title.is_empty() {
        Block::new()
    } else {
        Block::new().borders(Borders::TOP).title(Line::from(title))
    };
    let paragraph = Paragraph::new(text).block(block).scroll((offset, 0));
    frame.render_widget(paragraph, area);
}

/// A diff with added lines green, removed red and hunk headers cyan; the line at its top,
/// `top` (the one `o` comments on), underlined.
fn diff_text(diff: &str, top: usize) -> Text<'static> {
    Text::from(
        diff.lines()
            .enumerate()
            .map(|(i, l)| {
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
                let style = if i == top {
                    style.add_modifier(Modifier::UNDERLINED)
                } else {
                    style
                };
                Line::styled(l, style)
            })
            .collect::<Vec<_>>(),
    )
}

/// The key bar: the keys the selected dispatch's state calls for first, then the others,
/// as many as `width` holds, and always `?` (every key) and `q`.
pub fn key_bar(app: &App, width: usize) -> String {
    let last = ["?", "q Esc"];
    let first = suggested(app.row());
    let mut order: Vec<&Key> = first
        .iter()
        .filter_map(|k| KEYS.iter().find(|key| key.keys == *k))
        .collect();
    // Then the other actions, then moving about, then what acts on every dispatch.
    let moving = ["Tab 1 2 3", "↑↓ j k", "PgUp PgDn", "[ ]"];
    let every = ["t"];
    let rest = |k: &&Key| !first.contains(&k.keys) && !last.contains(&k.keys);
    order.extend(
        KEYS.iter()
            .filter(rest)
            .filter(|k| !moving.contains(&k.keys) && !every.contains(&k.keys)),
    );
    order.extend(
        moving
            .iter()
            .chain(&every)
            .filter_map(|m| KEYS.iter().find(|k| k.keys == *m))
            .filter(rest),
    );
    let end = |all: bool| format!(" {} q:quit", if all { "?:help" } else { "?:all keys" });
    let mut bar = String::new();
    let mut all = true;
    for k in order {
        if bar.chars().count() + 1 + k.short.chars().count() + end(false).chars().count() > width {
            all = false;
            continue;
        }
        bar.push(' ');
        bar.push_str(k.short);
    }
    bar + &end(all)
}

fn draw_footer(frame: &mut Frame<'_>, area: Rect, app: &App) {
    let width = usize::from(area.width);
    let (text, style) = match &app.mode {
        Mode::Confirm(action) => (
            // The answer keys are never cut off.
            format!(
                " {} [y/N]",
                fit(&action.question(), width.saturating_sub(7))
            ),
            Style::new().fg(Color::Black).bg(Color::Yellow),
        ),
        Mode::FollowUp { dispatch_id, text } => (
            format!(" follow up {dispatch_id}: {text}▏ (Enter sends, Esc cancels)"),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Mode::Budget { dispatch_id, text } => (
            format!(" raise {dispatch_id}'s budget by: {text}▏ (+50k, +$2 or both; Enter asks)"),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Mode::Comment {
            dispatch_id,
            anchor,
            text,
        } => (
            format!(
                " comment on {} of {dispatch_id}: {text}▏ (Enter adds, Esc cancels)",
                vnx::dashboard::model::plain(anchor)
            ),
            Style::new().fg(Color::Black).bg(Color::Cyan),
        ),
        Mode::Help => (
            " any key closes the help".to_owned(),
            Style::new().add_modifier(Modifier::DIM),
        ),
        Mode::Normal => match (&app.message, app.running.first()) {
            (_, Some(action)) => (
                format!(" running: vnx {} …", action.command()),
                Style::new().fg(Color::Cyan),
            ),
            (Some(message), None) => (format!(" {message}"), Style::new()),
            (None, None) => (
                key_bar(app, width),
                Style::new().add_modifier(Modifier::DIM),
            ),
        },
    };
    frame.render_widget(Paragraph::new(text).style(style), area);
}

/// Every key and what it does, over the middle of the screen.
fn draw_help(frame: &mut Frame<'_>, area: Rect) {
    let lines: Vec<Line<'_>> = KEYS
        .iter()
        .map(|k| {
            let asks = if k.asks { " (asks first)" } else { "" };
            Line::from(vec![
                Span::styled(
                    format!(" {:<10}", k.keys),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(format!("{}{asks}", k.does)),
            ])
        })
        .collect();
    let height = u16::try_from(lines.len() + 2)
        .unwrap_or(u16::MAX)
        .min(area.height);
    let width = area.width.min(82).saturating_sub(2).max(area.width.min(20));
    let box_area = Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    };
    frame.render_widget(Clear, box_area);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(" keys (any key closes this) "),
        ),
        box_area,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::shown::age;

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
