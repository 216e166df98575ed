//! The content pages (`about.html`, `faq.html`, `submit.html`) from
//! `content/*.md`, rendered with pulldown-cmark inside the `page.html` template.
//! The text `{{architectures}}` in a page becomes the list of architectures the
//! evaluator runs (`leaderboard_format::architectures`), so the page cannot go stale.

use super::{Out, PageCtx, Sources, CONTENT_PAGES};
use anyhow::{Context, Result};
use pulldown_cmark::{html, Options, Parser};

/// Markdown to HTML (tables, footnotes, strikethrough on). Content pages are
/// the project's own files, so their inline HTML is kept.
pub fn to_html(md: &str) -> String {
    let opts = Options::ENABLE_TABLES
        | Options::ENABLE_FOOTNOTES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_HEADING_ATTRIBUTES;
    let mut out = String::with_capacity(md.len() * 2);
    html::push_html(&mut out, Parser::new_ext(md, opts));
    out
}

/// One line of the project's own Markdown (code spans, emphasis) as inline
/// HTML, without the paragraph around it.
pub fn inline_html(md: &str) -> minijinja::Value {
    let html = to_html(md);
    let html = html.trim_end();
    let inner = html
        .strip_prefix("<p>")
        .and_then(|h| h.strip_suffix("</p>"))
        .unwrap_or(html);
    minijinja::Value::from_safe_string(inner.to_string())
}

/// `` `LlamaForCausalLM`, … (GGUF: `llama`, …) ``.
fn architectures() -> String {
    let code = |names: &[&str]| {
        names
            .iter()
            .map(|n| format!("`{n}`"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "{} (GGUF files: {})",
        code(leaderboard_format::architectures::HF),
        code(leaderboard_format::architectures::GGUF)
    )
}

pub fn write(
    src: &Sources,
    env: &minijinja::Environment,
    ctx: &PageCtx,
    o: &mut Out,
) -> Result<()> {
    let tpl = env.get_template("page.html")?;
    for (stem, title) in CONTENT_PAGES {
        let md = src
            .content
            .get(stem)
            .with_context(|| format!("content page {stem}.md is missing"))?;
        let md = md.replace("{{architectures}}", &architectures());
        let body = minijinja::Value::from_safe_string(to_html(&md));
        let html = tpl
            .render(minijinja::context! { body => body, ..ctx.page("", stem, title) })
            .with_context(|| format!("rendering {stem}.html"))?;
        o.write(&format!("{stem}.html"), html.as_bytes())?;
    }
    Ok(())
}
