//! Links to other sites (Meta's pages, providers): they open in a new tab, and say so to screen
//! readers.

use leptos::prelude::*;

/// One link to another site, opening in a new tab.
#[component]
pub fn ExternalLink(label: &'static str, href: &'static str) -> impl IntoView {
    view! {
        <a href=href target="_blank" rel="noopener noreferrer">
            {label}<span class="visually-hidden">" (opens in a new tab)"</span>
        </a>
    }
}

/// A row of (label, address) links to other sites.
#[component]
pub fn ExternalLinks(links: &'static [(&'static str, &'static str)]) -> impl IntoView {
    view! {
        <p class="links">
            {links.iter().map(|(label, href)| view! { <ExternalLink label=*label href=*href/> }).collect_view()}
        </p>
    }
}
